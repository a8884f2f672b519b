/**
 * `promote new | promote | status` over the promotion port: what each does and when it skips (DESIGN §11). No I/O
 * of their own: the repository, the clock and the wait between polls are passed in, so tests drive them with a
 * fake git host and no sleeping.
 */
import { DeliveryError } from "../core/delivery.ts";
import { nextEnvironment, previousEnvironment, PROMOTION_CONFIG_FILE, readPromotionConfig, reconcilerContext, type PromotionConfig } from "./config.ts";
import { DIGEST_PATTERN, TAG_PATTERN } from "./image-reference.ts";
import type { CommitStatus, PromotionPullRequest, PromotionRepository } from "./port.ts";
import { promoteTo, PromotionError, short, type PromotionOutcome } from "./promote-to.ts";
import { readPromotionBody, type PromotionState } from "./pull-request.ts";

export interface CommandContext {
  readonly repository: PromotionRepository;
  /** `--base`: overrides the config's `x-gitops-connector.baseBranch`. */
  readonly base?: string;
  readonly warn: (message: string) => void;
  /** Waits between polls and retries; a test resolves it at once. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

export interface Loaded {
  readonly config: PromotionConfig;
  readonly baseTip: string;
}

/** Resolve the base tip once and read the config there. */
export async function loadAtBase(context: CommandContext): Promise<Loaded> {
  const initialBase = context.base ?? "main";
  const tip = await context.repository.branchTip(initialBase);
  if (tip === undefined) throw new PromotionError(`branch ${initialBase} does not exist in ${context.repository.location}`);
  const text = await context.repository.readPath(tip, PROMOTION_CONFIG_FILE);
  if (text === undefined) throw new PromotionError(`${PROMOTION_CONFIG_FILE} not found at the root of ${initialBase} in ${context.repository.location}`);
  const config = readPromotionConfig(text, context.warn);
  if (context.base === undefined && config.baseBranch !== initialBase) {
    // The config names another base: read it again there, so everything is at that branch's tip.
    return loadAtBase({ ...context, base: config.baseBranch });
  }
  return { config: { ...config, baseBranch: initialBase }, baseTip: tip };
}

export interface NewOptions {
  readonly group: string;
  readonly app: string;
  readonly tag: string;
  readonly digest?: string;
}

export function checkNewOptions(options: NewOptions): string | undefined {
  if (!options.group) return "--group is required";
  if (!options.app) return "--app is required";
  if (!options.tag) return "--tag is required";
  if (!TAG_PATTERN.test(options.tag)) return `--tag ${JSON.stringify(options.tag)} is not an image tag (letters, digits, '_', '.', '-'; at most 128)`;
  if (options.digest !== undefined && !DIGEST_PATTERN.test(options.digest)) return `--digest ${JSON.stringify(options.digest)} is not a digest like sha256:<64 hex>`;
  return undefined;
}

export async function promoteNew(context: CommandContext, options: NewOptions): Promise<PromotionOutcome> {
  const { config, baseTip } = await loadAtBase(context);
  const state: PromotionState = {
    group: options.group,
    app: options.app,
    tag: options.tag,
    env: config.environments[0]!.name,
    sha: baseTip,
    feature: "",
    type: "promote",
    ...(options.digest === undefined ? {} : { digest: options.digest }),
  };
  return promoteTo({ repository: context.repository, config, baseTip, warn: context.warn }, state);
}

/** How long `promote` waits for the provider to know the PR behind a fresh merge commit. */
const MERGED_PR_RETRIES_MS = [1000, 2000, 4000, 8000];

export async function promoteNext(context: CommandContext, sha: string | undefined): Promise<PromotionOutcome> {
  const { config, baseTip } = await loadAtBase(context);
  const merged = sha ?? baseTip;
  const pullRequest = await retryWhileUndefined(context, () => context.repository.mergedPullRequestOf(merged));
  const skip = (reason: string): PromotionOutcome => ({ kind: "skipped", reason, branch: "", pullRequest });
  if (pullRequest === undefined) return skip(`commit ${short(merged)} did not come from a pull request`);
  const previous = readPromotionBody(pullRequest.body);
  if (previous === undefined) return skip(`pull request #${pullRequest.number} was not made by a promotion`);
  if (previous.type === "feature") return skip(`pull request #${pullRequest.number} is a feature; features are not promoted`);
  const next = nextEnvironment(config, previous.env);
  if (next === undefined) return skip(`${previous.env} is the last environment; nothing to promote to`);
  const state: PromotionState = { ...previous, env: next.name, sha: merged };
  return promoteTo({ repository: context.repository, config, baseTip, warn: context.warn }, state);
}

async function retryWhileUndefined<T>(context: CommandContext, read: () => Promise<T | undefined>): Promise<T | undefined> {
  for (const wait of [...MERGED_PR_RETRIES_MS, undefined]) {
    const value = await read();
    if (value !== undefined || wait === undefined) return value;
    await context.sleep(wait);
  }
  return undefined;
}

export type StatusOutcome =
  | { readonly kind: "skipped"; readonly reason: string }
  | { readonly kind: "succeeded" | "failed"; readonly reason: string; readonly context: string; readonly sha: string }
  | { readonly kind: "timed-out"; readonly reason: string; readonly context: string };

export interface StatusOptions {
  readonly branch?: string;
  readonly pullRequest?: number;
  readonly timeoutMs?: number;
  /** An `environment:` segment our daemon adds after the object's name (`kustomization/apps-dev/<environment>`). */
  readonly environment?: string;
}

/** Polls start this far apart and back off to the maximum. */
export const STATUS_POLL_MS = { first: 5000, factor: 1.5, max: 30_000 } as const;

export async function promotionStatus(context: CommandContext, options: StatusOptions): Promise<StatusOutcome> {
  const { config } = await loadAtBase(context);
  const pullRequest = await pullRequestToCheck(context, config, options);
  if (typeof pullRequest === "string") return { kind: "skipped", reason: pullRequest };
  const state = readPromotionBody(pullRequest.body);
  if (state === undefined) return { kind: "skipped", reason: `pull request #${pullRequest.number} was not made by a promotion` };
  if (state.type === "feature") return { kind: "skipped", reason: `pull request #${pullRequest.number} is a feature: allowed` };
  const previous = previousEnvironment(config, state.env);
  if (previous === undefined) return { kind: "skipped", reason: `${state.env} is the first environment: no status to wait for` };

  const wanted = reconcilerContext(config, state.group, previous.name);
  const deadline = context.now() + (options.timeoutMs ?? config.statusTimeoutMs);
  let wait: number = STATUS_POLL_MS.first;
  let seen = "no status yet";
  for (;;) {
    try {
      for (const sha of await shasToRead(context, config, state.sha)) {
        const status = (await context.repository.statuses(sha)).find((candidate) => matchesReconciler(candidate.context, wanted, options.environment));
        if (status === undefined) continue;
        if (status.state === "success") return { kind: "succeeded", reason: `${status.context} is success on ${short(sha)}`, context: status.context, sha };
        if (status.state !== "pending") return { kind: "failed", reason: `${status.context} is ${status.state} on ${short(sha)}${status.description ? `: ${status.description}` : ""}`, context: status.context, sha };
        seen = `${status.context} is pending on ${short(sha)}`;
        break;
      }
    } catch (error) {
      if (!(error instanceof DeliveryError) || error.permanent) throw error;
      seen = `the API answered ${error.message}`;
      if (error.retryAfterMs !== undefined) wait = Math.max(wait, error.retryAfterMs);
    }
    const left = deadline - context.now();
    if (left <= 0) return { kind: "timed-out", reason: `timed out waiting for ${wanted} to succeed on ${short(state.sha)} (${seen})`, context: wanted };
    context.warn(`waiting for ${wanted}: ${seen}; next look in ${Math.round(Math.min(wait, left) / 1000)} s`);
    await context.sleep(Math.min(wait, left));
    wait = Math.min(STATUS_POLL_MS.max, Math.round(wait * STATUS_POLL_MS.factor));
  }
}

/** The PR's `sha` first, then the base tip (Flux may reconcile a later commit and skip the merge commit). */
async function shasToRead(context: CommandContext, config: PromotionConfig, sha: string): Promise<string[]> {
  const tip = await context.repository.branchTip(config.baseBranch);
  return tip === undefined || tip === sha ? [sha] : [sha, tip];
}

/** Exactly the reconciler's context, or it followed by Flux's `/<8 hex>` or our `/<environment>`; never a part. */
export function matchesReconciler(context: string, wanted: string, environment: string | undefined): boolean {
  if (context === wanted) return true;
  if (!context.startsWith(`${wanted}/`)) return false;
  const rest = context.slice(wanted.length + 1);
  return /^[0-9a-f]{8}$/.test(rest) || (environment !== undefined && rest === environment);
}

async function pullRequestToCheck(context: CommandContext, config: PromotionConfig, options: StatusOptions): Promise<PromotionPullRequest | string> {
  if (options.pullRequest !== undefined) {
    const pullRequest = await context.repository.pullRequest(options.pullRequest);
    return pullRequest.branch.startsWith("promote/") ? pullRequest : `branch ${pullRequest.branch} is not a promotion branch: a manual change, not checked`;
  }
  const branch = options.branch?.replace(/^refs\/heads\//, "");
  if (branch === undefined || branch === "") throw new PromotionError("status needs --branch or --pr (or GITHUB_HEAD_REF / SYSTEM_PULLREQUEST_SOURCEBRANCH)");
  if (!branch.startsWith("promote/")) return `branch ${branch} is not a promotion branch: a manual change, not checked`;
  const open = await context.repository.openPullRequests(branch, config.baseBranch);
  if (open.length === 0) throw new PromotionError(`no open pull request for branch ${branch} into ${config.baseBranch}`);
  if (open.length > 1) throw new PromotionError(`${open.length} open pull requests for branch ${branch}; close all but one`);
  return open[0]!;
}

export type { CommitStatus };
