/**
 * The planner: Observation + what is known of that commit → the jobs to run, and what is known afterwards.
 * Pure. The rules that make the connector quiet where the original was noisy live here:
 * - a status that says what the last one planned for its context said (same state and summary, see
 *   CommitStatus.summary) is not planned again: Flux re-sends ReconciliationSucceeded on every interval, each
 *   time with a new duration in its message;
 * - the orchestrator hears of a commit at most once per outcome, and for Azure Pipelines at most once at all
 *   (a task completes once), so the original's endless dispatch loop cannot happen;
 * - only reconcilers matching the instance's `completionReconcilers` globs may finish a pipeline;
 * - a reconciler that finishes a commit other than the last one it finished plans one `supersede` job, which
 *   tells the commits in between (delivered by src/delivery/superseded.ts, planned by ./planner-superseded.ts).
 */
import type { KnownCommit, PlannedStatus } from "./commit-knowledge.ts";
import { reconcilerRecordOf, type ReconcilerRecord } from "./deployments.ts";
import {
  reconcilerId,
  type CommitStatus,
  type Job,
  type Observation,
  type OperatorType,
  type Outcome,
  type StatusContextMode,
  type SubscriberBody,
} from "./model.ts";
import { subscriberTargetOf } from "./targets.ts";

/** When an orchestrator hears of a commit's outcome (each orchestrator module declares its own). */
export interface NotifyPolicy {
  /** `commit`: the first outcome stands (a task completes once); `outcome`: each outcome once. */
  readonly once: "commit" | "outcome";
  /** Whether a failed deployment is told at all (GitHub Actions: only with `dispatchOnFailure`). */
  readonly failures: boolean;
}

/** What planning needs of an instance: compiled once from its config (src/instances/compile.ts). */
export interface PlanningInstance {
  readonly name: string;
  readonly gitOpsAppURL: string;
  /** The names of its subscribers; each gets every status. */
  readonly subscribers: readonly string[];
  readonly statusContext: StatusContextMode;
  readonly completionReconcilers: readonly string[];
  /** The target of its status and supersede jobs (the manifests repository's). */
  readonly gitTarget: string;
  /** Its orchestrator's target and policy; absent for NONE (statuses only). */
  readonly orchestrator?: { readonly target: string; readonly policy: NotifyPolicy };
  /** Set when it drives promotion (`promotion.enabled`): Flux Kustomization finishes plan a promotion job. */
  readonly promotion?: { readonly target: string };
}

export interface Plan {
  readonly jobs: readonly Job[];
  readonly known: KnownCommit;
  /** The observation finished its commit: it becomes the reconciler's last finished commit. */
  readonly finished?: boolean;
  /** What the read model records of the reconciler, in the same transaction (src/core/deployments.ts). */
  readonly record?: ReconcilerRecord;
}

/** What the jobs for one commit are about: the commit, and who reported it. */
export interface JobSubject {
  readonly commit: string;
  readonly operator: OperatorType;
  readonly genre: string;
  /** `Kind/namespace/name`. */
  readonly reconciler: string;
}

/** `lastFinished`: the last commit the observation's reconciler finished before, when known. */
export function planJobs(observation: Observation, instance: PlanningInstance, known: KnownCommit, lastFinished?: string): Plan {
  const subject: JobSubject = { commit: observation.commit, operator: observation.operator, genre: observation.genre, reconciler: reconcilerId(observation.reconciler) };
  // A finish from an operation older than one seen running since is stale (argoproj/argo-cd#28926): nothing to say.
  const runningSince = known.running?.[subject.reconciler];
  if (observation.outcome && isBefore(observation.startedAt, runningSince)) return { jobs: [], known };
  const statusPlan = planStatuses(subject, [...observation.statuses, ...recoveredParts(observation, instance.statusContext, known)], instance, known);
  const jobs: Job[] = [...statusPlan.jobs];
  const counts = observation.outcome !== undefined && countsForCompletion(observation, instance.completionReconcilers);
  const outcome = observation.outcome && counts ? notifiableOutcome(observation.outcome, instance, known) : undefined;
  const notified = outcome ? [...known.notified, outcome] : known.notified;
  if (outcome) jobs.push(toOrchestratorJob(subject, instance, outcome));
  const finishedBefore = known.finishedBy?.includes(subject.reconciler) ?? false;
  if (observation.outcome && lastFinished !== undefined && lastFinished !== observation.commit && !finishedBefore) {
    jobs.push(toSupersedeJob(subject, observation, instance, lastFinished, counts && instance.orchestrator !== undefined));
  }
  const record = reconcilerRecordOf(observation);
  const promotion = planPromotion(observation, instance, subject, known);
  if (promotion) jobs.push(promotion.job);
  const promoted = promotion ? [...(known.promoted ?? []), promotion.key] : known.promoted;
  const running = !observation.outcome && observation.startedAt && !isBefore(observation.startedAt, runningSince)
    ? { ...known.running, [subject.reconciler]: observation.startedAt }
    : known.running;
  const finishedBy = observation.outcome && !finishedBefore ? [...(known.finishedBy ?? []), subject.reconciler] : known.finishedBy;
  return {
    jobs,
    known: { statuses: statusPlan.statuses, notified, ...(finishedBy ? { finishedBy } : {}), ...(running ? { running } : {}), ...(promoted ? { promoted } : {}) },
    ...(observation.outcome ? { finished: true } : {}),
    ...(record ? { record } : {}),
  };
}

/**
 * One promotion job per Flux Kustomization finish and outcome of a commit: a failure, then a success of the same
 * commit (a retry) each count once; re-sends count never. Whether the name is a promotion's is told at delivery,
 * which reads gitops-promotion.yaml; jobs of one repository run in order.
 */
function planPromotion(observation: Observation, instance: PlanningInstance, subject: JobSubject, known: KnownCommit): { job: Job; key: string } | undefined {
  if (!instance.promotion || !observation.outcome || observation.operator !== "FLUX" || observation.reconciler.kind !== "Kustomization") return undefined;
  const key = `${subject.reconciler}=${observation.outcome}`;
  if (known.promoted?.includes(key)) return undefined;
  return {
    key,
    job: {
      kind: "promotion",
      instance: instance.name,
      target: instance.promotion.target,
      orderingKey: `promotion:${instance.promotion.target}`,
      payload: { commit: subject.commit, kustomization: observation.reconciler.name, reconciler: subject.reconciler, outcome: observation.outcome },
    },
  };
}

/** Whether time `a` is before time `b` (ISO 8601); false when either is unknown or unreadable. */
function isBefore(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const [at, bt] = [Date.parse(a), Date.parse(b)];
  return Number.isFinite(at) && Number.isFinite(bt) && at < bt;
}

/** The status and subscriber jobs for the statuses that change their context, and the contexts afterwards. */
export function planStatuses(subject: JobSubject, statuses: readonly CommitStatus[], instance: PlanningInstance, known: KnownCommit) {
  const fresh = statuses.filter((status) => !isAlreadyPlanned(status, known));
  const planned: Record<string, PlannedStatus> = { ...known.statuses };
  for (const status of fresh) planned[status.context] = toPlannedStatus(status);
  const jobs: Job[] = [];
  for (const status of fresh) {
    jobs.push(toStatusJob(subject, instance, status));
    jobs.push(...toSubscriberJobs(subject, instance, status));
  }
  return { jobs, statuses: planned };
}

/** What a failed object's status says once its reconciler succeeded on the same commit. */
const RECOVERED: Pick<CommitStatus, "state" | "description"> = { state: "Healthy", description: "healthy again" };

/**
 * A commit whose health check failed and that later succeeds (a retry, a fixed dependency) must not keep the
 * failed objects' statuses: each part its reconciler's main context left failed is posted healthy again. Default
 * contexts tell a reconciler's parts by the `<main>/` prefix; legacy ones are bare names, so every failed part.
 */
function recoveredParts(observation: Observation, mode: StatusContextMode, known: KnownCommit): CommitStatus[] {
  if (observation.outcome !== "succeeded") return [];
  const main = observation.statuses.find((status) => !status.part)?.context;
  if (main === undefined) return [];
  const reported = new Set(observation.statuses.map((status) => status.context));
  return Object.entries(known.statuses)
    .filter(([context, last]) => last.state === "HealthCheckFailed" && !reported.has(context) && context !== main)
    .filter(([context]) => (mode === "legacy" ? true : context.startsWith(`${main}/`)))
    .map(([context]) => ({ context, name: mode === "legacy" ? context : context.slice(main.length + 1), ...RECOVERED, part: true }));
}

function toPlannedStatus(status: CommitStatus): PlannedStatus {
  return status.summary === undefined
    ? { state: status.state, description: status.description }
    : { state: status.state, description: status.description, summary: status.summary };
}

/** The same state and summary as the last status planned for its context (a status without one: its description). */
function isAlreadyPlanned(status: CommitStatus, known: KnownCommit): boolean {
  // `Object.hasOwn`: a legacy part context such as `constructor` must not read Object.prototype.
  const last = Object.hasOwn(known.statuses, status.context) ? known.statuses[status.context] : undefined;
  return last !== undefined && last.state === status.state && (last.summary ?? last.description) === (status.summary ?? status.description);
}

/** The outcome to notify the orchestrator of, or undefined when there is nothing (new) to say for this commit. */
export function notifiableOutcome(outcome: Outcome, instance: PlanningInstance, known: KnownCommit): Outcome | undefined {
  const policy = instance.orchestrator?.policy;
  if (!policy) return undefined;
  if (outcome === "failed" && !policy.failures) return undefined;
  if (policy.once === "commit") return known.notified.length === 0 ? outcome : undefined;
  return known.notified.includes(outcome) ? undefined : outcome;
}

/**
 * Globs match `kind/name` lower-cased (`kustomization/apps-*`), or `kind/namespace/name`. A lone `*` (the
 * default) matches every reconciler, although `*` does not cross a `/` inside longer globs.
 */
export function countsForCompletion(observation: Observation, globs: readonly string[]): boolean {
  if (globs.some((glob) => glob === "*" || glob === "**")) return true;
  const { kind, namespace, name } = observation.reconciler;
  const candidates = [`${kind}/${name}`.toLowerCase()];
  if (namespace) candidates.push(`${kind}/${namespace}/${name}`.toLowerCase());
  return globs.some((glob) => {
    const matcher = new Bun.Glob(glob.toLowerCase());
    return candidates.some((candidate) => matcher.match(candidate));
  });
}

function toStatusJob(subject: JobSubject, instance: PlanningInstance, status: CommitStatus): Job {
  const target = instance.gitTarget;
  return {
    kind: "status",
    instance: instance.name,
    target,
    orderingKey: `${instance.name}|${subject.commit}|${status.context}`,
    coalesceKey: `${target}|${subject.commit}|${status.context}`,
    payload: {
      commit: subject.commit,
      operator: subject.operator,
      genre: subject.genre,
      reconciler: subject.reconciler,
      status,
      callbackUrl: instance.gitOpsAppURL,
      statusContext: instance.statusContext,
    },
  };
}

function toSubscriberJobs(subject: JobSubject, instance: PlanningInstance, status: CommitStatus): Job[] {
  const body: SubscriberBody = {
    commit_id: subject.commit,
    status_name: status.name,
    state: status.state,
    message: status.description,
    callback_url: instance.gitOpsAppURL,
    gitops_operator: subject.operator === "FLUX" ? "Flux" : "ArgoCD",
    genre: subject.genre,
    context: status.context,
    instance: instance.name,
    reconciler: subject.reconciler,
  };
  return instance.subscribers.map((name) => ({
    kind: "subscriber" as const,
    instance: instance.name,
    target: subscriberTargetOf(name),
    // In order per subscriber and context, which is all a subscriber can tell apart; one key per commit would
    // queue a commit's thousand reconcilers one behind the other (and make each claim walk the queue).
    orderingKey: `${instance.name}|${subject.commit}|subscriber:${name}|${status.context}`,
    payload: { subscriber: name, body },
  }));
}

/** The short form of a commit in descriptions, as git and GitHub show it. */
export const shortCommit = (commit: string) => commit.slice(0, 7);

/**
 * The job that tells the commits between `since` and the finished commit, with the object's own statuses (no
 * parts) described as superseded. One at a time per reconciler: the ranges follow one another.
 */
function toSupersedeJob(subject: JobSubject, observation: Observation, instance: PlanningInstance, since: string, notifyOrchestrator: boolean): Job {
  const description = `superseded by ${shortCommit(subject.commit)}`;
  return {
    kind: "supersede",
    instance: instance.name,
    target: instance.gitTarget,
    orderingKey: `${instance.name}|supersede|${subject.reconciler}`,
    payload: {
      commit: subject.commit,
      since,
      outcome: observation.outcome ?? "failed",
      reconciler: subject.reconciler,
      operator: subject.operator,
      genre: subject.genre,
      statuses: observation.statuses.filter((status) => !status.part).map(({ summary: _summary, ...status }) => ({ ...status, description })),
      notifyOrchestrator,
    },
  };
}

/** `supersededBy`: the newer commit whose outcome this one gets (it was never deployed itself). */
export function toOrchestratorJob(subject: JobSubject, instance: PlanningInstance, outcome: Outcome, supersededBy?: string): Job {
  return {
    kind: "orchestrator",
    instance: instance.name,
    target: instance.orchestrator?.target ?? "none",
    orderingKey: `${instance.name}|${subject.commit}`,
    payload: { commit: subject.commit, outcome, reconciler: subject.reconciler, ...(supersededBy ? { supersededBy } : {}) },
  };
}
