/**
 * An in-memory stand-in for the outbox's commit knowledge, for tests that plan without SQLite: what is known of
 * each commit and each reconciler's last finished commit, bounded, oldest forgotten first.
 */
import { NOTHING_KNOWN, type KnownCommit } from "../../src/core/commit-knowledge.ts";
import { reconcilerId, type Job, type Observation } from "../../src/core/model.ts";
import { planJobs, type PlanningInstance } from "../../src/core/planner.ts";

export interface CommitLedger {
  get(instance: string, commit: string): KnownCommit;
  put(instance: string, commit: string, known: KnownCommit): void;
  /** The last commit a reconciler (`Kind/namespace/name`) of the instance finished, if any is known. */
  lastFinished(instance: string, reconciler: string): string | undefined;
  setLastFinished(instance: string, reconciler: string, commit: string): void;
}

export function createMemoryLedger(maxCommits = 10_000): CommitLedger {
  const commits = new Map<string, KnownCommit>();
  const heads = new Map<string, string>();
  const keyOf = (instance: string, commit: string) => `${instance}\u0000${commit}`;
  return {
    lastFinished: (instance, reconciler) => heads.get(keyOf(instance, reconciler)),
    setLastFinished(instance, reconciler, commit) {
      heads.set(keyOf(instance, reconciler), commit);
      if (heads.size > maxCommits) heads.delete(heads.keys().next().value as string);
    },
    get: (instance, commit) => commits.get(keyOf(instance, commit)) ?? NOTHING_KNOWN,
    put(instance, commit, known) {
      const key = keyOf(instance, commit);
      commits.delete(key);
      commits.set(key, known);
      if (commits.size > maxCommits) commits.delete(commits.keys().next().value as string);
    },
  };
}

/** Reads what is known, plans, and remembers the result: what the outbox intake does in one transaction. */
export function planWithLedger(ledger: CommitLedger, observation: Observation, instance: PlanningInstance): readonly Job[] {
  const reconciler = reconcilerId(observation.reconciler);
  const plan = planJobs(observation, instance, ledger.get(instance.name, observation.commit), ledger.lastFinished(instance.name, reconciler));
  ledger.put(instance.name, observation.commit, plan.known);
  if (plan.finished) ledger.setLastFinished(instance.name, reconciler, observation.commit);
  return plan.jobs;
}
