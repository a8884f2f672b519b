/**
 * Fuzz: ≥ 1000 randomised mutations of the real fixtures POSTed to a real loopback server. No answer may be a
 * 5xx and the server must still answer afterwards. The PRNG is seeded (FUZZ_SEED to reproduce a run).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { azureInstance, githubInstance } from "../support/instances.ts";
import { buildTestApp } from "../support/app.ts";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const MUTATIONS = 1200;

function prng(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const STRANGE_VALUES: unknown[] = [null, 0, -1, 1e308, true, "", " ", "<no value>", "sha256:" + "a".repeat(64), "main@sha1:", "💥", "x".repeat(70_000), [], {}, [null], { "": "" }, "\u0000", "../../etc/passwd"];

function mutateValue(value: unknown, depth = 0): unknown {
  if (depth > 6 || random() < 0.15) return pick(STRANGE_VALUES);
  if (Array.isArray(value)) {
    const copy = value.map((item) => (random() < 0.3 ? mutateValue(item, depth + 1) : item));
    if (random() < 0.2) copy.push(pick(STRANGE_VALUES));
    if (random() < 0.2) copy.splice(0, 1);
    return copy;
  }
  if (value && typeof value === "object") {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const key of Object.keys(copy)) {
      const roll = random();
      if (roll < 0.12) delete copy[key];
      else if (roll < 0.4) copy[key] = mutateValue(copy[key], depth + 1);
    }
    if (random() < 0.1) copy[pick(["__proto__", "constructor", "metadata", "extra"])] = pick(STRANGE_VALUES);
    return copy;
  }
  if (typeof value === "string" && random() < 0.5) {
    const cut = Math.floor(random() * value.length);
    return random() < 0.5 ? value.slice(0, cut) : value.slice(0, cut) + pick(["\n", "/", "@sha1:", "[", "]", ", ", " "]) + value.slice(cut);
  }
  return random() < 0.5 ? pick(STRANGE_VALUES) : value;
}

function mutateText(text: string): string {
  const roll = random();
  if (roll < 0.5) return text.slice(0, Math.floor(random() * text.length));
  if (roll < 0.8) {
    const at = Math.floor(random() * text.length);
    return text.slice(0, at) + pick(["{", "}", '"', ",", "\\", "\u0000", "]]]", "null"]) + text.slice(at + 1);
  }
  return "[".repeat(5000) + "]".repeat(5000);
}

const fixtures = ["flux", "argocd"].flatMap((operator) => {
  const dir = join(import.meta.dir, "..", "fixtures", operator);
  return readdirSync(dir)
    .filter((file) => file.endsWith(".json"))
    .map((file) => JSON.parse(readFileSync(join(dir, file), "utf8")) as unknown);
});

let server: ReturnType<typeof Bun.serve> | undefined;
let base = "";
beforeAll(() => {
  const { app } = buildTestApp({ instances: [githubInstance({ default: true }), azureInstance({ name: "argo" })], maxBodyBytes: 65_536 });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => app.handle(request) });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server?.stop(true));

test(`${MUTATIONS} mutated fixtures: no 5xx, no crash (seed ${SEED})`, async () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(35);
  const statuses = new Map<number, number>();
  for (let index = 0; index < MUTATIONS; index += 1) {
    const fixture = pick(fixtures);
    const structural = random() < 0.75;
    const body = structural ? JSON.stringify(mutateValue(fixture)) : mutateText(JSON.stringify(fixture));
    const path = random() < 0.15 ? "/gitopsphase/argo" : "/gitopsphase";
    const response = await fetch(base + path, { method: "POST", body, headers: { "content-type": "application/json" } });
    const text = await response.text();
    if (response.status >= 500) throw new Error(`5xx (${response.status}) for seed ${SEED}, mutation ${index}: ${text}\nbody: ${body.slice(0, 2000)}`);
    expect(() => JSON.parse(text)).not.toThrow();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  // The mutations must reach past the JSON parser, or the fuzz proves little.
  expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  expect((statuses.get(202) ?? 0) + (statuses.get(200) ?? 0)).toBeGreaterThan(0);
}, 120_000);
