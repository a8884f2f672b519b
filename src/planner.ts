/**
 * The planner: Observation + what is known of that commit → the jobs to run, and what is known afterwards.
 * Pure. The rules that make the connector quiet where the original was noisy live here:
 * - a status that says what the last one planned for its context said (same state and summary, see
 *   CommitStatus.summary) is not planned again: Flux re-sends ReconciliationSucceeded on every interval, each
 *   time with a new duration in its message;
 * - the orchestrator hears of a commit at most once per outcome, and for Azure Pipelines at most once at all
 *   (a task completes once), so the original's endless dispatch loop cannot happen;
 * - only reconcilers matching the instance's `completionReconcilers` globs may finish a pipeline.
 */
import type { CommitLedger, KnownCommit, PlannedStatus } from "./commit-ledger.ts";
import {
  reconcilerId,
  type CommitStatus,
  type Job,
  type Observation,
  type Outcome,
  type StatusContextMode,
  type SubscriberBody,
} from "./model.ts";
import { gitTargetOf, orchestratorTargetOf, subscriberTargetOf, type TargetFields } from "./targets.ts";

/** The instance settings planning depends on (a subset of the validated config). */
export interface PlanningInstance extends TargetFields {
  readonly gitOpsAppURL: string;
  /** Names the instance's contexts and the pipeline callbacks it may complete (two clusters on one repo). */
  readonly environment?: string;
  readonly subscribers: Readonly<Record<string, string>>;
  readonly statusContext: StatusContextMode;
  readonly dispatchOnFailure: boolean;
  readonly completionReconcilers: readonly string[];
}

export interface Plan {
  readonly jobs: readonly Job[];
  readonly known: KnownCommit;
}

export function planJobs(observation: Observation, instance: PlanningInstance, known: KnownCommit): Plan {
  const fresh = observation.statuses.filter((status) => !isAlreadyPlanned(status, known));
  const statuses: Record<string, PlannedStatus> = { ...known.statuses };
  for (const status of fresh) statuses[status.context] = toPlannedStatus(status);

  const jobs: Job[] = [];
  for (const status of fresh) {
    jobs.push(toStatusJob(observation, instance, status));
    jobs.push(...toSubscriberJobs(observation, instance, status));
  }
  const outcome = orchestratorOutcome(observation, instance, known);
  const notified = outcome ? [...known.notified, outcome] : known.notified;
  if (outcome) jobs.push(toOrchestratorJob(observation, instance, outcome));
  return { jobs, known: { statuses, notified } };
}

/** Reads what is known, plans, and remembers the result: the step the intake runs per webhook. */
export function planWithLedger(ledger: CommitLedger, observation: Observation, instance: PlanningInstance & { name: string }): readonly Job[] {
  const plan = planJobs(observation, instance, ledger.get(instance.name, observation.commit));
  ledger.put(instance.name, observation.commit, plan.known);
  return plan.jobs;
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

/** The outcome to notify the orchestrator of, or undefined when there is nothing (new) to say. */
function orchestratorOutcome(observation: Observation, instance: PlanningInstance, known: KnownCommit): Outcome | undefined {
  const outcome = observation.outcome;
  if (!outcome || instance.ciCdOrchestratorType === "NONE") return undefined;
  if (!countsForCompletion(observation, instance.completionReconcilers)) return undefined;
  if (instance.ciCdOrchestratorType === "AZDO") return known.notified.length === 0 ? outcome : undefined;
  if (outcome === "failed" && !instance.dispatchOnFailure) return undefined;
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

function toStatusJob(observation: Observation, instance: PlanningInstance, status: CommitStatus): Job {
  const target = gitTargetOf(instance);
  return {
    kind: "status",
    instance: instance.name,
    target,
    orderingKey: `${instance.name}|${observation.commit}|${status.context}`,
    coalesceKey: `${target}|${observation.commit}|${status.context}`,
    payload: {
      commit: observation.commit,
      operator: observation.operator,
      genre: observation.genre,
      reconciler: reconcilerId(observation.reconciler),
      status,
      callbackUrl: instance.gitOpsAppURL,
      statusContext: instance.statusContext,
    },
  };
}

function toSubscriberJobs(observation: Observation, instance: PlanningInstance, status: CommitStatus): Job[] {
  const body: SubscriberBody = {
    commit_id: observation.commit,
    status_name: status.name,
    state: status.state,
    message: status.description,
    callback_url: instance.gitOpsAppURL,
    gitops_operator: observation.operator === "FLUX" ? "Flux" : "ArgoCD",
    genre: observation.genre,
    context: status.context,
    instance: instance.name,
    reconciler: reconcilerId(observation.reconciler),
  };
  return Object.entries(instance.subscribers).map(([name, url]) => ({
    kind: "subscriber" as const,
    instance: instance.name,
    target: subscriberTargetOf(name),
    orderingKey: `${instance.name}|${observation.commit}|subscriber:${name}`,
    payload: { url, body },
  }));
}

function toOrchestratorJob(observation: Observation, instance: PlanningInstance, outcome: Outcome): Job {
  return {
    kind: "orchestrator",
    instance: instance.name,
    target: orchestratorTargetOf(instance) ?? "none",
    orderingKey: `${instance.name}|${observation.commit}`,
    payload: { commit: observation.commit, outcome, reconciler: reconcilerId(observation.reconciler) },
  };
}
