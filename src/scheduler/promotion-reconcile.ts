/**
 * The promotion reconcile (DESIGN §11): Flux delivers each event at most once (4 retries, then it forgets), so a
 * webhook lost on its way would leave a promotion waiting for ever. Every `scheduler.promotionReconcileSeconds`
 * this looks, per instance with `promotion.enabled`, at the newest merged promotion PR of each (group, app) and
 * environment that the next environment has not taken up yet, and at the statuses on the base tip and on that
 * PR's merge commit: a success of its environment's reconciler there is the event that was lost, and one
 * `promotion` job is enqueued for it, once per (instance, reconciler, commit). A lost webhook delays a promotion
 * by one interval; it never loses it.
 */
import type { Job, PromotionJob } from "../core/model.ts";
import type { Instance } from "../instances/compile.ts";
import type { Logger } from "../observability/logger.ts";
import { withOutboundScope } from "../observability/outbound.ts";
import { matchesReconciler, loadAtBase, type CommandContext } from "../promotion/commands.ts";
import { nextEnvironment, reconcilerContext } from "../promotion/config.ts";
import type { CommitStatus, MergedPullRequest, PromotionRepository } from "../promotion/port.ts";
import { promotionBranch, readPromotionBody, type PromotionState } from "../promotion/pull-request.ts";

export interface PromotionReconcileOptions {
  readonly instances: () => readonly Instance[];
  readonly store: { enqueueOnce(onceKey: string, job: Job, now: number): Promise<boolean> };
  readonly onEnqueued: () => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

const RECENT_PULL_REQUESTS = 50;

export function createPromotionReconcile(options: PromotionReconcileOptions) {
  const log = options.logger.child({ component: "promotion-reconcile" });
  const now = options.now ?? Date.now;
  const lastFailure = new Map<string, string>();

  async function reconcile(instance: Instance, repository: PromotionRepository): Promise<number> {
    const context: CommandContext = { repository, warn: (message) => log.warn({ instance: instance.name }, message), sleep: async () => {}, now };
    const { config, baseTip } = await loadAtBase(context);
    const recent = await repository.recentlyMergedPullRequests(config.baseBranch, RECENT_PULL_REQUESTS);
    const promotions = recent
      .map((pullRequest) => ({ pullRequest, state: readPromotionBody(pullRequest.body) }))
      .filter((entry): entry is { pullRequest: MergedPullRequest; state: PromotionState } => entry.state !== undefined && entry.state.type === "promote");
    const statusCache = new Map<string, Promise<CommitStatus[]>>();
    const statusesOf = (sha: string) => {
      if (!statusCache.has(sha)) statusCache.set(sha, repository.statuses(sha));
      return statusCache.get(sha)!;
    };
    const seen = new Set<string>();
    let enqueued = 0;
    for (const { pullRequest, state } of promotions) {
      const key = `${state.group}|${state.app}|${state.env}`;
      if (seen.has(key)) continue; // newest first: older PRs of the same app and environment are behind it
      seen.add(key);
      const next = nextEnvironment(config, state.env);
      if (next === undefined) continue;
      if (await takenUp(repository, config.baseBranch, promotions, { ...state, env: next.name }, promotionBranch({ ...state, env: next.name }, config.prflow))) continue;
      const wanted = reconcilerContext(config, state.group, state.env);
      for (const sha of [baseTip, pullRequest.mergeCommit]) {
        if (sha !== pullRequest.mergeCommit && !(await repository.isAncestor(pullRequest.mergeCommit, sha))) continue;
        const status = (await statusesOf(sha)).find((candidate) => matchesReconciler(candidate.context, wanted, instance.config.environment));
        if (status?.state !== "success") continue;
        const kustomization = wanted.split("/")[1] ?? wanted;
        const job: PromotionJob = {
          kind: "promotion",
          instance: instance.name,
          target: instance.repository.target,
          orderingKey: `promotion:${instance.repository.target}`,
          payload: { commit: sha, kustomization, reconciler: `Kustomization/${kustomization}`, outcome: "succeeded" },
        };
        if (await options.store.enqueueOnce(`promotion-reconcile|${instance.name}|${kustomization}|${sha}`, job, now())) {
          enqueued += 1;
          log.info({ instance: instance.name, group: state.group, app: state.app, env: state.env, commit: sha }, `${wanted} succeeded on ${sha.slice(0, 7)} but ${state.app} ${state.tag} is not in ${next.name} yet: advancing it`);
        }
        break;
      }
    }
    return enqueued;
  }

  return {
    async run(): Promise<number> {
      let total = 0;
      for (const instance of options.instances()) {
        if (!instance.config.promotion.enabled || instance.promotion === undefined) continue;
        try {
          total += await withOutboundScope({ target: instance.repository.target }, () => reconcile(instance, instance.promotion!));
          lastFailure.delete(instance.name);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          const repeated = lastFailure.get(instance.name) === message;
          lastFailure.set(instance.name, message);
          (repeated ? log.debug : log.warn).call(log, { instance: instance.name, error: message }, `promotion reconcile of instance ${instance.name} failed; next try in the next run`);
        }
      }
      if (total > 0) options.onEnqueued();
      return total;
    },
  };
}

/** The next environment already has this tag: an open PR for it, or a merged one newer than the candidate. */
async function takenUp(repository: PromotionRepository, base: string, promotions: readonly { state: PromotionState }[], wanted: PromotionState, branch: string): Promise<boolean> {
  if (promotions.some(({ state }) => state.group === wanted.group && state.app === wanted.app && state.env === wanted.env && state.tag === wanted.tag)) return true;
  const open = await repository.openPullRequests(branch, base);
  return open.some((pullRequest) => {
    const state = readPromotionBody(pullRequest.body);
    return state !== undefined && state.env === wanted.env && state.tag === wanted.tag;
  });
}
