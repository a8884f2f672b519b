/**
 * Planning for a commit that was never deployed on its own: Flux applies only the newest commit, so when PRs A
 * and B merge before it reconciles, it reports only B, and the pipeline waiting on A would hang until its timeout
 * (Azure/gitops-connector#42, #44). When a reconciler finishes B, each commit since the last one it finished gets
 * B's statuses (described as superseded by B) and B's outcome for its pipeline, once, by the same notify-once
 * rules as a commit reported itself. Pure.
 */
import type { KnownCommit } from "./commit-knowledge.ts";
import { supersededRecordOf } from "./deployments.ts";
import type { Job, SupersedeJobPayload } from "./model.ts";
import { notifiableOutcome, planStatuses, toOrchestratorJob, type JobSubject, type Plan, type PlanningInstance } from "./planner.ts";

/** The jobs for superseded commit `commit`, from the supersede job of the commit that contains it. */
export function planSupersededCommit(commit: string, supersede: SupersedeJobPayload, instance: PlanningInstance, known: KnownCommit): Plan {
  const subject: JobSubject = { commit, operator: supersede.operator, genre: supersede.genre, reconciler: supersede.reconciler };
  const statusPlan = planStatuses(subject, supersede.statuses, instance, known);
  const jobs: Job[] = [...statusPlan.jobs];
  const outcome = supersede.notifyOrchestrator ? notifiableOutcome(supersede.outcome, instance, known) : undefined;
  if (outcome) jobs.push(toOrchestratorJob(subject, instance, outcome, supersede.commit));
  const main = supersede.statuses.find((status) => !status.part) ?? supersede.statuses[0];
  return {
    jobs,
    known: { statuses: statusPlan.statuses, notified: outcome ? [...known.notified, outcome] : known.notified },
    record: supersededRecordOf(supersede.reconciler, main?.context ?? supersede.reconciler.toLowerCase(), supersede.commit, supersede.outcome),
  };
}
