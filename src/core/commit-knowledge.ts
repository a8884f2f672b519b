/**
 * "What is known of a commit": the last status planned per context and the outcomes already sent to the
 * orchestrator. The planner reads and rewrites it; this port keeps the planner pure. In-memory here; the
 * outbox backs it with SQLite so notify-once survives restarts.
 */
import type { OperatorState, Outcome } from "./model.ts";

export interface PlannedStatus {
  readonly state: OperatorState;
  readonly description: string;
  /** The status's summary (see CommitStatus.summary); absent in what versions before it recorded. */
  readonly summary?: string;
}

export interface KnownCommit {
  /** Keyed by status context. */
  readonly statuses: Readonly<Record<string, PlannedStatus>>;
  readonly notified: readonly Outcome[];
  /**
   * The reconcilers (`Kind/namespace/name`) that finished this commit before. Finishing it again (a re-send after
   * a newer commit, a rollback) supersedes nothing: whatever lay between was told when it first finished.
   */
  readonly finishedBy?: readonly string[];
  /** Per reconciler (`Kind/namespace/name`), when the latest operation seen running on this commit began. */
  readonly running?: Readonly<Record<string, string>>;
}

export const NOTHING_KNOWN: KnownCommit = { statuses: {}, notified: [] };

export interface CommitLedger {
  get(instance: string, commit: string): KnownCommit;
  put(instance: string, commit: string, known: KnownCommit): void;
  /** The last commit a reconciler (`Kind/namespace/name`) of the instance finished, if any is known. */
  lastFinished(instance: string, reconciler: string): string | undefined;
  setLastFinished(instance: string, reconciler: string, commit: string): void;
}

/** Bounded so a long-running dry run does not grow without limit; oldest commits are forgotten first. */
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
