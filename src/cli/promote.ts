/**
 * `gitops-connector promote new | promote | status` (DESIGN §11), and the same through a link or copy named
 * `gitops-promotion`. Flags are gitops-promotion's, with one dash or two; the repository comes from `--instance`,
 * `--repo`, the CI's environment or the `origin` remote, in that order; the token from `--token`, the instance, or
 * the CI's variable. Exit 0 done or skipped, 1 failed, 2 usage.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tokenCredentials, type Credentials } from "../clients/credentials.ts";
import { DeliveryError } from "../core/delivery.ts";
import { PRODUCT, USER_AGENT } from "../core/version.ts";
import { formatConfigErrors, loadConfig, resolveConfigSource } from "../config/load.ts";
import { PROMOTION_PROVIDERS, providerOfUrl, type PromotionLocation, type PromotionProviderName } from "../git/promotion-registry.ts";
import { gitProviderOf } from "../git/registry.ts";
import { checkNewOptions, promoteNew, promoteNext, promotionStatus, type CommandContext, type NewOptions, type StatusOutcome } from "../promotion/commands.ts";
import { parseGoDuration, PromotionConfigError } from "../promotion/config.ts";
import { dryRunRepository, formatDiff } from "../promotion/dry-run.ts";
import { MarkerError } from "../promotion/edit-manifest.ts";
import type { PromotionRepository } from "../promotion/port.ts";
import { PromotionError, type PromotionOutcome } from "../promotion/promote-to.ts";
import { createLogger } from "../observability/logger.ts";
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, parse, type Options } from "./args.ts";
import { PROMOTE_USAGE } from "./usage.ts";

const COMMON: Options = {
  instance: { type: "string" },
  config: { type: "string" },
  repo: { type: "string" },
  provider: { type: "string" },
  token: { type: "string" },
  base: { type: "string" },
  "dry-run": { type: "boolean" },
  output: { type: "string" },
  // gitops-promotion's working tree: here only where `origin` is read from.
  sourcedir: { type: "string" },
};

const COMMANDS: Readonly<Record<string, Options>> = {
  new: { ...COMMON, group: { type: "string" }, app: { type: "string" }, tag: { type: "string" }, digest: { type: "string" } },
  promote: { ...COMMON, sha: { type: "string" } },
  status: { ...COMMON, pr: { type: "string" }, branch: { type: "string" }, timeout: { type: "string" }, environment: { type: "string" } },
};

/** `-group x` and `-group=x` (Go's flag syntax, which their workflows use) → `--group x`. */
export function normalizeFlags(args: readonly string[], known: Options): string[] {
  return args.map((arg) => {
    const match = /^-([a-z][a-z-]+)(=.*)?$/.exec(arg);
    return match && match[1]! in known ? `-${arg}` : arg;
  });
}

class UsageError extends Error {}

/** Runs `promote …`; resolves with the exit code. */
export async function runPromote(args: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "-h" || command === "--help" || command === "help" || command === "-help") {
    console.log(PROMOTE_USAGE);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const options = COMMANDS[command];
  if (options === undefined) {
    console.error(`${PRODUCT} promote: unknown command "${command}" (new, promote or status)\n\n${PROMOTE_USAGE}`);
    return EXIT_USAGE;
  }
  const values = parse(normalizeFlags(rest, options), options, PROMOTE_USAGE);
  const json = values.output === "json";
  if (values.output !== undefined && values.output !== "json" && values.output !== "text") return usage(`--output is text or json, not ${String(values.output)}`);
  const secrets: string[] = [];
  const hide = (text: string) => secrets.reduce((out, secret) => (secret.length >= 4 ? out.replaceAll(secret, "***") : out), text);
  const say = (line: string) => console.error(hide(line));
  try {
    if (command === "new") {
      const problem = checkNewOptions(newOptions(values));
      if (problem !== undefined) throw new UsageError(problem);
    }
    const { repository: real, environment } = resolveRepository(values, env, secrets);
    const calls: string[] = [];
    const dryRun = values["dry-run"] === true;
    const repository = dryRun ? dryRunRepository(real, (line) => { calls.push(line); say(line); }) : real;
    const context: CommandContext = {
      repository,
      ...(typeof values.base === "string" ? { base: values.base } : {}),
      warn: (message) => say(`warning: ${message}`),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: () => Date.now(),
    };
    if (command === "status") {
      const outcome = await runStatus(context, { ...values, environment: stringOf(values.environment) ?? environment }, env);
      print(json, { command, outcome: outcome.kind, reason: outcome.reason, ...("context" in outcome ? { context: outcome.context } : {}), ...("sha" in outcome ? { sha: outcome.sha } : {}) }, outcome.reason, hide);
      return outcome.kind === "succeeded" || outcome.kind === "skipped" ? EXIT_OK : EXIT_RUNTIME;
    }
    const outcome = command === "new" ? await runNew(context, values) : await promoteNext(context, stringOf(values.sha) ?? env.GITHUB_SHA ?? env.BUILD_SOURCEVERSION);
    const diff = outcome.kind === "created" || outcome.kind === "updated" ? formatDiff(outcome.files) : "";
    if (dryRun && diff !== "") console.error(diff);
    print(json, describeOutcome(command, outcome, dryRun ? { diff, calls } : {}), summary(outcome, dryRun), hide);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    // Ours (PromotionError, PromotionConfigError, MarkerError, DeliveryError) say what to fix; anything else is a
    // bug, reported the same way so that the token filter applies to it too.
    const known = error instanceof PromotionError || error instanceof PromotionConfigError || error instanceof MarkerError || error instanceof DeliveryError;
    const message = error instanceof Error ? error.message : String(error);
    const reason = known ? message : `unexpected error: ${message}`;
    print(json, { command, outcome: "error", reason }, `${PRODUCT} promote ${command}: ${reason}`, hide, true);
    return EXIT_RUNTIME;
  }
}

function usage(message: string): number {
  console.error(`${PRODUCT} promote: ${message}\n\n${PROMOTE_USAGE}`);
  return EXIT_USAGE;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function newOptions(values: Record<string, unknown>): NewOptions {
  return { group: stringOf(values.group) ?? "", app: stringOf(values.app) ?? "", tag: stringOf(values.tag) ?? "", ...(stringOf(values.digest) ? { digest: stringOf(values.digest)! } : {}) };
}

function runNew(context: CommandContext, values: Record<string, unknown>): Promise<PromotionOutcome> {
  return promoteNew(context, newOptions(values));
}

async function runStatus(context: CommandContext, values: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): Promise<StatusOutcome> {
  const timeout = stringOf(values.timeout);
  const timeoutMs = timeout === undefined ? undefined : /^\d+$/.test(timeout) ? Number(timeout) * 60_000 : parseGoDuration(timeout);
  if (timeout !== undefined && timeoutMs === undefined) throw new UsageError(`--timeout ${timeout} is not a duration like 5m`);
  const pr = stringOf(values.pr);
  if (pr !== undefined && !/^\d+$/.test(pr)) throw new UsageError(`--pr ${pr} is not a pull request number`);
  const branch = stringOf(values.branch) ?? stringOf(env.GITHUB_HEAD_REF) ?? stringOf(env.SYSTEM_PULLREQUEST_SOURCEBRANCH);
  if (pr === undefined && branch === undefined) throw new UsageError("status needs --pr or --branch (in CI: GITHUB_HEAD_REF or SYSTEM_PULLREQUEST_SOURCEBRANCH)");
  return promotionStatus(context, {
    ...(pr !== undefined ? { pullRequest: Number(pr) } : { branch }),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(stringOf(values.environment) ? { environment: stringOf(values.environment) } : {}),
  });
}

function summary(outcome: PromotionOutcome, dryRun: boolean): string {
  if (outcome.kind === "unchanged" || outcome.kind === "skipped") return `nothing to do: ${outcome.reason}`;
  const verb = dryRun ? "would have " : "";
  return `${verb}${outcome.kind} branch ${outcome.branch} with pull request #${outcome.pullRequest.number} on commit ${outcome.commit.slice(0, 7)}: ${outcome.autoMerge}`;
}

function describeOutcome(command: string, outcome: PromotionOutcome, extra: Record<string, unknown>): Record<string, unknown> {
  const base = { command, outcome: outcome.kind, branch: outcome.branch, ...(outcome.pullRequest ? { pullRequest: { number: outcome.pullRequest.number, url: outcome.pullRequest.url } } : {}) };
  if (outcome.kind === "unchanged" || outcome.kind === "skipped") return { ...base, reason: outcome.reason, ...extra };
  return { ...base, commit: outcome.commit, autoMerge: outcome.autoMerge, files: outcome.files.map(({ path, changes }) => ({ path, changes })), ...extra };
}

function print(json: boolean, data: Record<string, unknown>, text: string, hide: (text: string) => string, failed = false): void {
  const line = hide(json ? JSON.stringify(data) : text);
  if (failed && !json) console.error(line);
  else console.log(line);
}

/** `--instance`, else `--repo`, else the CI's environment, else `origin` in .git/config. */
interface Resolved {
  readonly repository: PromotionRepository;
  /** The instance's `environment:`, which our statuses carry after the object's name. */
  readonly environment?: string;
}

function resolveRepository(values: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>, secrets: string[]): Resolved {
  const providerFlag = stringOf(values.provider);
  if (providerFlag !== undefined && !(providerFlag in PROMOTION_PROVIDERS)) throw new UsageError(`--provider is github or azdo, not ${providerFlag}`);
  const token = stringOf(values.token);
  if (token !== undefined) secrets.push(token);
  const instanceName = stringOf(values.instance);
  if (instanceName !== undefined) return fromInstance(instanceName, stringOf(values.config), token, env, secrets);

  const url = stringOf(values.repo);
  let name = providerFlag as PromotionProviderName | undefined;
  let location: PromotionLocation | undefined;
  if (url !== undefined) {
    name ??= providerOfUrl(url);
    location = name === undefined ? undefined : PROMOTION_PROVIDERS[name].parseUrl(url);
    if (location === undefined) throw new UsageError(`--repo ${url} is not a GitHub (https://github.com/org/repo) or Azure DevOps (https://dev.azure.com/org/project/_git/repo) repository`);
  } else {
    const fromCi = (Object.keys(PROMOTION_PROVIDERS) as PromotionProviderName[])
      .filter((candidate) => name === undefined || candidate === name)
      .map((candidate) => ({ candidate, found: PROMOTION_PROVIDERS[candidate].fromCi(env) }))
      .find(({ found }) => found !== undefined);
    if (fromCi !== undefined) {
      name = fromCi.candidate;
      location = fromCi.found;
    } else {
      const origin = originRemote(stringOf(values.sourcedir) ?? process.cwd());
      if (origin === undefined) throw new UsageError("no repository: give --instance or --repo, or run in GitHub Actions / Azure Pipelines, or in a clone with an origin remote");
      name ??= providerOfUrl(origin) ?? "azdo";
      location = PROMOTION_PROVIDERS[name].parseUrl(origin);
      if (location === undefined) throw new UsageError(`the origin remote ${origin.replace(/\/\/[^@/]+@/, "//")} is not a ${name} repository`);
    }
  }
  const provider = PROMOTION_PROVIDERS[name!];
  const secret = token ?? stringOf(env[provider.tokenVariable]);
  if (secret === undefined) throw new UsageError(`no token: give --token or set ${provider.tokenVariable}`);
  secrets.push(secret);
  return { repository: provider.create(location!, { credentials: tokenCredentials(secret), userAgent: USER_AGENT }) };
}

function fromInstance(name: string, configFlag: string | undefined, token: string | undefined, env: Readonly<Record<string, string | undefined>>, secrets: string[]): Resolved {
  const source = resolveConfigSource({ flag: configFlag, env });
  if (!source.ok) throw new UsageError(source.error);
  const result = loadConfig({ source: source.source, env });
  if (!result.ok) throw new UsageError(`the config has errors:\n${formatConfigErrors(result.errors).join("\n")}`);
  const instance = result.config.instances.find((candidate) => candidate.name === name);
  if (instance === undefined) throw new UsageError(`no instance ${name} in ${source.source.description} (${result.config.instances.map((i) => i.name).join(", ")})`);
  const module = gitProviderOf(instance.gitRepositoryType);
  if (module.promotion === undefined) throw new UsageError(`instance ${name} is on ${module.title}; promotion runs on GitHub and Azure DevOps`);
  secrets.push(...result.config.secrets);
  const credentials: Credentials = token !== undefined
    ? tokenCredentials(token)
    : module.credentialsOf?.(instance, { onSecret: (secret) => secrets.push(secret) }) ?? tokenCredentials(instance.pat);
  if (credentials.kind === "token" && credentials.token === "") throw new UsageError(`instance ${name} has no pat; give --token`);
  const repository = module.promotion(instance, { credentials, userAgent: USER_AGENT, logger: createLogger({ level: "silent" }) });
  return { repository, ...(instance.environment ? { environment: instance.environment } : {}) };
}

/** The `origin` remote's URL in `<dir>/.git/config`, if any. */
export function originRemote(dir: string): string | undefined {
  const path = join(dir, ".git", "config");
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8");
  const section = /\[remote "origin"\]([^[]*)/.exec(text)?.[1];
  return section === undefined ? undefined : /^\s*url\s*=\s*(.+?)\s*$/m.exec(section)?.[1];
}
