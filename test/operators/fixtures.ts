/**
 * Loads the webhook fixtures under test/fixtures/<operator>/ and checks expectation tables against them, so
 * a fixture added without an expectation (or an expectation whose fixture is gone) fails the suite.
 */
import { expect } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Outcome, Translation } from "../../src/core/model.ts";

export const FIXTURES_DIR = join(import.meta.dir, "..", "fixtures");

/** Realistic 40-hex SHAs shared by the fixtures. */
export const SHA = [
  "1197955e4244c18bdb9b375076bcb6ca05414672",
  "2f22765d04931a078909145ca628d2264c852d7d",
  "6b1f53303a732ccc8c6aae6640399827c15250e3",
  "a625406f6977d45c1391b078f4d3656e0b75bfcb",
  "e4666a670f042877c67a84473a71675ee0950a08",
  "8dc29fc58c0bd99068c2e5c752aa61521d4f11ce",
  "555c3f9218ba41a596519c8f01708a0ec9ef821b",
  "dd61a9b593df63335dc0acf0fd4349662b30756d",
  "9f84ad6b89dc26670c0d6e7a3f81093b41c04438",
  "68ee74f7d6afe0164fe0f1197aa9177c946d8834",
  "48c7489aa2e8309a658e9b785074e360a5eff369",
  "9e8adf58ef5b87814490a4fe0cfaacd8f96effc2",
] as const;

/** Stands for "the description is the payload's own message", so long messages are not copied here. */
export const MESSAGE = Symbol("the payload's message");

/** A description as written, the payload's message, or made from the payload's message. */
export type Description = string | typeof MESSAGE | ((message: string) => string);

/** context, name, state, description. */
export type StatusRow = readonly [string, string, string, Description];

export type Expectation =
  | { readonly commit: string; readonly outcome?: Outcome; readonly statuses: readonly StatusRow[] }
  | { readonly ignored: string };

export function fixtureNames(operator: "flux" | "argocd"): string[] {
  return readdirSync(join(FIXTURES_DIR, operator))
    .filter((file) => file.endsWith(".json"))
    .sort();
}

export async function loadFixture(operator: "flux" | "argocd", file: string): Promise<unknown> {
  return Bun.file(join(FIXTURES_DIR, operator, file)).json();
}

/** Asserts a translation against its expectation; `message` replaces MESSAGE in descriptions. */
export function expectTranslation(translation: Translation, expected: Expectation, message: string): void {
  if ("ignored" in expected) {
    expect(translation.kind).toBe("ignored");
    if (translation.kind === "ignored") expect(translation.reason).toContain(expected.ignored);
    return;
  }
  if (translation.kind !== "observation") throw new Error(`expected an observation, got ${JSON.stringify(translation)}`);
  const { observation } = translation;
  expect(observation.commit).toBe(expected.commit);
  expect(observation.outcome).toBe(expected.outcome);
  const rows = observation.statuses.map((status) => [status.context, status.name, status.state, status.description]);
  const wanted = expected.statuses.map(([context, name, state, description]) => [
    context,
    name,
    state,
    description === MESSAGE ? message : typeof description === "function" ? description(message) : description,
  ]);
  expect(rows).toEqual(wanted);
}
