/**
 * The vocabulary every part of gitops-connector shares: what an operator adapter observes in a webhook,
 * and the jobs the planner derives from it. Nothing here does I/O.
 */

export const OPERATOR_TYPES = ["FLUX", "ARGOCD"] as const;
export type OperatorType = (typeof OPERATOR_TYPES)[number];

/** How status contexts are named: ours (`kustomization/apps-dev`) or the original's bare names (`Status`). */
export type StatusContextMode = "default" | "legacy";

/**
 * The operator's own word for a state, before a git provider maps it: a Flux reason
 * (`ReconciliationSucceeded`), an Argo phase/sync/health value (`Healthy`), or one of the
 * connector's own: `NotApplicable` (neutral), `info`/`error` (fallbacks for unknown Flux reasons).
 * Each git provider's state table (in its module, src/git/<provider>.ts) maps it.
 */
export type OperatorState = string;

/** One commit status as the operator reported it; the git provider decides how it looks on the wire. */
export interface CommitStatus {
  /** Unique per reconciler and part: `kustomization/apps-dev`, `kustomization/apps-dev/deployment.apps`. */
  readonly context: string;
  /** The original's `status_name`: `Status`, a resource type, `Phase`, `Sync`, `Health`. */
  readonly name: string;
  readonly state: OperatorState;
  readonly description: string;
  /**
   * What the status says, for deciding whether a re-send changes anything; the description when absent. Flux's
   * main status sets it to the reason: Flux re-sends `ReconciliationSucceeded` every interval with a new
   * duration in its message, and its own git providers compare state and a reason-derived description, never
   * the raw message (fluxcd/notification-controller internal/notifier/github.go, duplicateGithubStatus).
   */
  readonly summary?: string;
  /**
   * A per-resource part (a change-set resource type, a failed object), not the object's own state: a commit
   * superseded by this one gets the object's own statuses only.
   */
  readonly part?: boolean;
}

/** The Flux or Argo CD object whose reconciliation is reported. */
export interface Reconciler {
  /** As the operator spells it: `Kustomization`, `GitRepository`, `Application`. */
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

export type Outcome = "succeeded" | "failed";

/** What one webhook says about one commit. Produced by an operator adapter, consumed by the planner. */
export interface Observation {
  readonly operator: OperatorType;
  /** The manifests repository commit, a full or abbreviated hex SHA. */
  readonly commit: string;
  readonly reconciler: Reconciler;
  /** The original's `genre`: the Flux kind, or `ArgoCD`. Subscribers receive it as is. */
  readonly genre: string;
  /** The operator's raw state for the whole reconciliation (subscriber `state` for the main status). */
  readonly statuses: readonly CommitStatus[];
  /** Set when the deployment of this commit has finished, successfully or not. */
  readonly outcome?: Outcome;
  /**
   * When the operation reported began (Argo CD's `operationState.startedAt`). A finish from an operation that began
   * before one already seen running for the same commit is stale and planned as nothing (argoproj/argo-cd#28926).
   */
  readonly startedAt?: string;
}

/** What an adapter makes of a payload: something to plan, a deliberate no-op, or a client error. */
export type Translation =
  | { readonly kind: "observation"; readonly observation: Observation }
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "invalid"; readonly error: string };

/** Options an adapter needs from the instance that receives the payload. */
export interface TranslationOptions {
  readonly statusContext: StatusContextMode;
  /** Stands in for the Argo CD application name when the payload carries no `app`. */
  readonly instanceName: string;
  /**
   * The instance's `environment` (two clusters on one repository, Azure/gitops-connector#80): it goes into every
   * context right after the object's name (`kustomization/apps/prod-eu`, `…/prod-eu/deployment.apps`), so two
   * clusters with same-named objects do not overwrite each other. gitops-promotion still finds `apps` as the
   * second segment.
   */
  readonly environment?: string;
  /** At most this many part statuses per event, then one "… and N more" (default 50). */
  readonly maxParts?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Jobs: every outbound effect is one job. The dry-run sink logs them; the outbox persists and delivers them.

/** Post one commit status to the instance's git provider. */
export interface StatusJobPayload {
  readonly commit: string;
  readonly operator: OperatorType;
  readonly genre: string;
  readonly reconciler: string;
  readonly status: CommitStatus;
  /** The original's `callback_url`: the instance's `gitOpsAppURL`. */
  readonly callbackUrl: string;
  readonly statusContext: StatusContextMode;
}

/**
 * POST the original's subscriber JSON (DESIGN §7, §10) to one subscriber. The job names the subscriber; its URL
 * is read from the current config when the job is delivered, so a URL's credentials (`https://user:pass@…`,
 * `?token=…`) are never stored in the outbox, and a reload that moves a subscriber applies to jobs already queued.
 */
export interface SubscriberJobPayload {
  /** The key of the instance's `subscribers`. */
  readonly subscriber?: string;
  /** Only in jobs stored by versions before the subscriber's name was; delivered to as it is. */
  readonly url?: string;
  readonly body: SubscriberBody;
}

/** The JSON a subscriber receives: the original's fields plus `context`, `instance`, `reconciler`. */
export interface SubscriberBody {
  readonly commit_id: string;
  readonly status_name: string;
  readonly state: string;
  readonly message: string;
  readonly callback_url: string;
  readonly gitops_operator: "Flux" | "ArgoCD";
  readonly genre: string;
  readonly context: string;
  readonly instance: string;
  readonly reconciler: string;
}

/** Tell the instance's CI/CD orchestrator that the deployment of a commit finished. */
export interface OrchestratorJobPayload {
  readonly commit: string;
  readonly outcome: Outcome;
  readonly reconciler: string;
  /**
   * Set when `commit` was never deployed itself: the reconciler finished this newer commit, which contains it
   * (Flux applies only the newest commit), so `commit`'s pipeline gets that commit's outcome.
   */
  readonly supersededBy?: string;
}

/**
 * A reconciler finished `commit`; the commits since the last one it finished (`since`, exclusive) up to `commit`
 * (exclusive) were never deployed on their own. Delivery lists them (the provider's compare API) and plans, for
 * each, the statuses below and an orchestrator notification, once each (Azure/gitops-connector#42, #44).
 */
export interface SupersedeJobPayload {
  readonly commit: string;
  readonly since: string;
  readonly outcome: Outcome;
  /** `Kind/namespace/name` of the reconciler. */
  readonly reconciler: string;
  readonly operator: OperatorType;
  readonly genre: string;
  /** The object's own statuses of the finishing event, described as superseded by `commit`. */
  readonly statuses: readonly CommitStatus[];
  /** Whether this reconciler's outcome finishes pipelines (`completionReconcilers`, orchestrator not NONE). */
  readonly notifyOrchestrator: boolean;
}

/** Fail the Azure Pipelines task waiting for a pull request that was abandoned (found by the scheduler's sweep). */
export interface AbandonedPullRequestJobPayload {
  readonly pullRequest: number;
  /** ISO 8601, when the provider said. */
  readonly closedAt?: string;
}

/**
 * A Flux Kustomization finished `commit` on an instance that drives promotion: delivery reads
 * gitops-promotion.yaml and, when the name fits its `reconciler` pattern, advances what the commit contains
 * (src/promotion/advance.ts).
 */
export interface PromotionJobPayload {
  readonly commit: string;
  /** The Kustomization's name (`apps-dev`), matched against `kustomization/{group}-{env}`. */
  readonly kustomization: string;
  /** `Kind/namespace/name`. */
  readonly reconciler: string;
  readonly outcome: Outcome;
}

/** `promote new` asked of the daemon (`POST /api/promotions`), run through the outbox. */
export interface PromotionNewJobPayload {
  readonly group: string;
  readonly app: string;
  readonly tag: string;
  readonly digest?: string;
}

interface JobBase<K extends string, P> {
  readonly kind: K;
  readonly instance: string;
  /** Where the job goes, e.g. `github:org/manifests`; retries and rate limits apply per target. */
  readonly target: string;
  /** Jobs with the same ordering key are delivered strictly in order. */
  readonly orderingKey: string;
  /** A pending job with the same coalescing key is replaced by the newer one instead of queued behind it. */
  readonly coalesceKey?: string;
  readonly payload: P;
}

export type StatusJob = JobBase<"status", StatusJobPayload>;
export type SubscriberJob = JobBase<"subscriber", SubscriberJobPayload>;
export type OrchestratorJob = JobBase<"orchestrator", OrchestratorJobPayload>;
export type AbandonedPullRequestJob = JobBase<"abandoned-pr", AbandonedPullRequestJobPayload>;
export type SupersedeJob = JobBase<"supersede", SupersedeJobPayload>;
export type PromotionJob = JobBase<"promotion", PromotionJobPayload>;
export type PromotionNewJob = JobBase<"promotion-new", PromotionNewJobPayload>;
export type Job = StatusJob | SubscriberJob | OrchestratorJob | AbandonedPullRequestJob | SupersedeJob | PromotionJob | PromotionNewJob;
export type JobKind = Job["kind"];

/** `Kind/namespace/name` or `Kind/name`: how logs, subscribers and globs name a reconciler. */
export function reconcilerId(reconciler: Reconciler): string {
  return reconciler.namespace
    ? `${reconciler.kind}/${reconciler.namespace}/${reconciler.name}`
    : `${reconciler.kind}/${reconciler.name}`;
}

/** The commit a job is about; an abandoned-PR job is about a pull request instead. */
export function commitOfJob(job: Job): string | undefined {
  switch (job.kind) {
    case "status":
    case "orchestrator":
    case "supersede":
    case "promotion":
      return job.payload.commit;
    case "subscriber":
      return job.payload.body.commit_id;
    case "abandoned-pr":
    case "promotion-new":
      return undefined;
  }
}
