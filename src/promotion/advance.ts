/**
 * Connector-driven promotion (DESIGN §11): a Flux Kustomization named by the `reconciler` pattern
 * (`kustomization/{group}-{env}`) finished commit C. On success, every promotion of that group and environment C
 * contains advances to the next environment: the PR behind C and, because Flux applies only the newest commit, the
 * recently merged promotion PRs of that environment whose merge commit is an ancestor of C, the newest per app.
 * Each gets the next environment's PR with `sha` = C (what `promote` would open) and the status
 * `promotion/<group>-<env>` on its head, a required check with no CI job behind it. A failure advances nothing
 * and posts `failure` there instead. Over the promotion port only, so it runs in the outbox's delivery.
 */
import { loadAtBase, type CommandContext } from "./commands.ts";
import { nextEnvironment, type PromotionConfig } from "./config.ts";
import type { MergedPullRequest, PromotionPullRequest } from "./port.ts";
import { promoteTo, short, type PromotionOutcome } from "./promote-to.ts";
import { promotionBranch, readPromotionBody, type PromotionState } from "./pull-request.ts";

export interface AdvanceRequest {
  readonly commit: string;
  /** The Kustomization's name: `apps-dev`. */
  readonly kustomization: string;
  readonly outcome: "succeeded" | "failed";
}

export interface AppAdvance {
  readonly app: string;
  readonly tag: string;
  readonly from: number;
  readonly outcome: PromotionOutcome["kind"] | "blocked";
  readonly pullRequest?: number;
  readonly url?: string;
}

export type AdvanceResult =
  | { readonly kind: "not-a-promotion"; readonly reason: string }
  | { readonly kind: "done"; readonly group: string; readonly env: string; readonly next: string; readonly apps: readonly AppAdvance[]; readonly chain: readonly string[] };

/** How many recently merged PRs are searched for promotions C contains. */
const RECENT_PULL_REQUESTS = 50;

export async function advancePromotion(context: CommandContext, request: AdvanceRequest): Promise<AdvanceResult> {
  const { config, baseTip } = await loadAtBase(context);
  const match = matchReconciler(config, request.kustomization);
  if (match === undefined) return { kind: "not-a-promotion", reason: `${request.kustomization} does not match ${config.reconciler} for any environment` };
  const next = nextEnvironment(config, match.env);
  if (next === undefined) return { kind: "not-a-promotion", reason: `${match.env} is the last environment` };
  const promotions = await promotionsContainedIn(context, config, match, request.commit);
  const checkContext = `promotion/${match.group}-${match.env}`;
  const apps: AppAdvance[] = [];
  for (const { pullRequest, state } of promotions) {
    const target: PromotionState = { ...state, env: next.name, sha: request.commit };
    if (request.outcome === "failed") {
      const [open] = await context.repository.openPullRequests(promotionBranch(target, config.prflow), config.baseBranch);
      if (open !== undefined) {
        await context.repository.postStatus(open.headSha, { context: checkContext, state: "failure", description: `${match.env} failed to deploy ${short(request.commit)}` });
      }
      apps.push({ app: state.app, tag: state.tag, from: pullRequest.number, outcome: "blocked", ...(open ? { pullRequest: open.number, url: open.url } : {}) });
      continue;
    }
    const outcome = await promoteTo({ repository: context.repository, config, baseTip, warn: context.warn }, target);
    const opened = outcome.pullRequest;
    if (opened !== undefined && outcome.kind !== "skipped") {
      await context.repository.postStatus(opened.headSha, { context: checkContext, state: "success", description: `${match.env} deployed ${short(request.commit)}` });
    }
    apps.push({ app: state.app, tag: state.tag, from: pullRequest.number, outcome: outcome.kind, ...(opened ? { pullRequest: opened.number, url: opened.url } : {}) });
  }
  return { kind: "done", group: match.group, env: match.env, next: next.name, apps, chain: config.environments.map((environment) => environment.name) };
}

/** `apps-dev` against `kustomization/{group}-{env}` → group `apps`, env `dev`; the longest environment name wins. */
export function matchReconciler(config: Pick<PromotionConfig, "reconciler" | "environments">, kustomization: string): { group: string; env: string } | undefined {
  const environments = [...config.environments].sort((a, b) => b.name.length - a.name.length);
  for (const { name } of environments) {
    const pattern = escape(config.reconciler).replace("\\{group\\}", "(?<group>[A-Za-z0-9][A-Za-z0-9._-]*?)").replace("\\{env\\}", escape(name));
    const group = new RegExp(`^${pattern}$`, "i").exec(`kustomization/${kustomization}`)?.groups?.group;
    if (group !== undefined) return { group, env: name };
  }
  return undefined;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

interface ContainedPromotion {
  readonly pullRequest: PromotionPullRequest;
  readonly state: PromotionState;
}

/** The promotions of `group` into `env` that `commit` contains: the PR behind it, then merged ones it descends from. */
async function promotionsContainedIn(context: CommandContext, config: PromotionConfig, match: { group: string; env: string }, commit: string): Promise<ContainedPromotion[]> {
  const ofThisEnvironment = (pullRequest: PromotionPullRequest): ContainedPromotion | undefined => {
    const state = readPromotionBody(pullRequest.body);
    return state !== undefined && state.type === "promote" && state.group === match.group && state.env === match.env ? { pullRequest, state } : undefined;
  };
  const newestPerApp = new Map<string, ContainedPromotion>();
  const behind = await context.repository.mergedPullRequestOf(commit);
  const direct = behind === undefined ? undefined : ofThisEnvironment(behind);
  if (direct !== undefined) newestPerApp.set(direct.state.app, direct);
  const recent: MergedPullRequest[] = await context.repository.recentlyMergedPullRequests(config.baseBranch, RECENT_PULL_REQUESTS);
  for (const pullRequest of recent) {
    const found = ofThisEnvironment(pullRequest);
    if (found === undefined || newestPerApp.has(found.state.app) || pullRequest.number === behind?.number) continue;
    if (await context.repository.isAncestor(pullRequest.mergeCommit, commit)) newestPerApp.set(found.state.app, found);
  }
  return [...newestPerApp.values()];
}
