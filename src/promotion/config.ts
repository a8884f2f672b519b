/**
 * `gitops-promotion.yaml`, read from the base branch through the API: their keys unchanged (environments in
 * promotion order, `prflow`, `status_timeout_minutes`, `groups`), unknown keys ignored as their non-strict
 * decoder does, and ours under `x-gitops-connector:`.
 */
import * as v from "valibot";
import { parse } from "yaml";
import type { PullRequestFlow } from "./pull-request.ts";

export const PROMOTION_CONFIG_FILE = "gitops-promotion.yaml";

export type MergeMethod = "merge" | "squash" | "rebase";

export interface PromotionEnvironment {
  readonly name: string;
  readonly auto: boolean;
}

export interface PromotionConfig {
  readonly environments: readonly PromotionEnvironment[];
  readonly prflow: PullRequestFlow;
  readonly statusTimeoutMs: number;
  /** Group → app → feature settings; feature PRs are recognised and skipped. */
  readonly groups: Readonly<Record<string, { readonly applications: Readonly<Record<string, unknown>> }>>;
  readonly baseBranch: string;
  readonly mergeMethod: MergeMethod;
  /** The status context of an environment's reconciler: `kustomization/{group}-{env}`. */
  readonly reconciler: string;
}

export class PromotionConfigError extends Error {
  override readonly name = "PromotionConfigError";
}

const NAME = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"));

const Schema = v.looseObject({
  environments: v.pipe(v.array(v.looseObject({ name: NAME, auto: v.optional(v.boolean(), false) })), v.minLength(1, "environments list cannot be empty")),
  prflow: v.optional(v.picklist(["per-app", "per-env"], "prflow is per-app or per-env"), "per-app"),
  status_timeout_minutes: v.optional(v.union([v.string(), v.number()], "a duration like 5m")),
  groups: v.optional(v.record(v.string(), v.looseObject({ applications: v.optional(v.record(v.string(), v.unknown()), {}) })), {}),
  "x-gitops-connector": v.optional(
    v.strictObject({
      baseBranch: v.optional(v.pipe(v.string(), v.minLength(1)), "main"),
      mergeMethod: v.optional(v.picklist(["merge", "squash", "rebase"], "mergeMethod is merge, squash or rebase"), "merge"),
      reconciler: v.optional(v.pipe(v.string(), v.includes("{env}", "reconciler must contain {env}")), "kustomization/{group}-{env}"),
    }),
    {},
  ),
});

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export function readPromotionConfig(text: string, warn: (message: string) => void = () => {}): PromotionConfig {
  let data: unknown;
  try {
    data = parse(text, { prettyErrors: false });
  } catch (error) {
    throw new PromotionConfigError(`${PROMOTION_CONFIG_FILE} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  const result = v.safeParse(Schema, data);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((step) => String(step.key)).join(".") ?? "";
    throw new PromotionConfigError(`${PROMOTION_CONFIG_FILE}${path === "" ? "" : ` ${path}`}: ${issue.message}`);
  }
  const config = result.output;
  const names = config.environments.map((environment) => environment.name);
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) throw new PromotionConfigError(`${PROMOTION_CONFIG_FILE} environments: ${repeated} is listed twice`);
  const extensions = config["x-gitops-connector"];
  return {
    environments: config.environments.map(({ name, auto }) => ({ name, auto })),
    prflow: config.prflow,
    statusTimeoutMs: timeoutOf(config.status_timeout_minutes, warn),
    groups: Object.fromEntries(Object.entries(config.groups).map(([group, { applications }]) => [group, { applications }])),
    baseBranch: extensions.baseBranch,
    mergeMethod: extensions.mergeMethod,
    reconciler: extensions.reconciler,
  };
}

function timeoutOf(value: string | number | undefined, warn: (message: string) => void): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof value === "number" || /^\d+$/.test(value)) {
    const minutes = Number(value);
    warn(`${PROMOTION_CONFIG_FILE} status_timeout_minutes: ${minutes} read as ${minutes} minutes; write "${minutes}m" (gitops-promotion reads a bare number as nanoseconds)`);
    return minutes === 0 ? DEFAULT_TIMEOUT_MS : minutes * 60_000;
  }
  const ms = parseGoDuration(value);
  if (ms === undefined) throw new PromotionConfigError(`${PROMOTION_CONFIG_FILE} status_timeout_minutes: ${JSON.stringify(value)} is not a duration like 5m or 1h30m`);
  return ms === 0 ? DEFAULT_TIMEOUT_MS : ms;
}

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go `time.ParseDuration` string (`5m`, `1h30m`, `90s`, `1.5h`) in milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const match = /^([0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+$/.exec(text.trim());
  if (match === null) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.trim().matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(total);
}

/** The environment after `name`, undefined for the last; an error for one the config does not list. */
export function nextEnvironment(config: PromotionConfig, name: string): PromotionEnvironment | undefined {
  const index = indexOf(config, name);
  return config.environments[index + 1];
}

export function previousEnvironment(config: PromotionConfig, name: string): PromotionEnvironment | undefined {
  const index = indexOf(config, name);
  return index === 0 ? undefined : config.environments[index - 1];
}

export function environmentNamed(config: PromotionConfig, name: string): PromotionEnvironment {
  return config.environments[indexOf(config, name)]!;
}

function indexOf(config: PromotionConfig, name: string): number {
  const index = config.environments.findIndex((environment) => environment.name === name);
  if (index === -1) {
    throw new PromotionConfigError(`environment ${JSON.stringify(name)} is not in ${PROMOTION_CONFIG_FILE} (${config.environments.map((e) => e.name).join(", ")})`);
  }
  return index;
}

/** The status context an environment's reconciler writes: the `reconciler` pattern filled in. */
export function reconcilerContext(config: PromotionConfig, group: string, env: string): string {
  return config.reconciler.replaceAll("{group}", group).replaceAll("{env}", env);
}
