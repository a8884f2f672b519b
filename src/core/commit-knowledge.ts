/**
 * "What is known of a commit": the last status planned per context and the outcomes already sent to the
 * orchestrator. The planner reads and rewrites it, which keeps the planner pure; the outbox stores it in SQLite,
 * in the same transaction as the jobs, so notify-once survives restarts.
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
  /** `Kind/namespace/name=outcome` of each finish a promotion job was planned for: once each. */
  readonly promoted?: readonly string[];
}

export const NOTHING_KNOWN: KnownCommit = { statuses: {}, notified: [] };
