/**
 * The outbox's storage ports. The SQLite store implements them all; the intake, the worker, the `outbox` CLI and
 * the daemon's upkeep each take the narrow one they use. Times are epoch milliseconds passed in by the caller, so tests control the clock.
 */
import type { ReconcilerRecord } from "../core/deployments.ts";
import type { KnownCommit } from "../core/commit-knowledge.ts";
import type { Job, JobKind } from "../core/model.ts";
import type { DeploymentsReader, PromotionRecord } from "../core/deployments.ts";

export type JobState = "pending" | "done" | "dead";

export interface StoredJob {
  readonly id: number;
  readonly job: Job;
  readonly state: JobState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastError?: string;
  /**
   * PostgreSQL: the replica whose lease on this job ran out before it recorded a result. It may have made the
   * call already (delivery is at least once), so the worker says so when it delivers the job again.
   */
  readonly takenOverFrom?: string;
}

export interface StatsRow {
  readonly kind: JobKind;
  readonly target: string;
  readonly state: JobState;
  readonly count: number;
}

/** What else the store knows when it plans a commit. */
export interface PlanContext {
  /** The last commit the reporting reconciler finished, when the submit names one and one is known. */
  readonly lastFinished?: string;
}

export interface PlanResult {
  readonly jobs: readonly Job[];
  readonly known: KnownCommit;
  /** This commit is now the reporting reconciler's last finished one. */
  readonly finished?: boolean;
  /** Recorded in the read model with the jobs. */
  readonly record?: ReconcilerRecord;
}

export interface RateLimitedTarget {
  readonly target: string;
  /** Epoch ms. */
  readonly until: number;
  readonly pending: number;
}

export interface ClaimOptions {
  readonly now: number;
  /** At most this many jobs. */
  readonly limit: number;
  /** Targets that already have their share of jobs in flight; none of theirs is claimed. */
  readonly excludeTargets: readonly string[];
  /** At most this many of a target's jobs (its share left); unlimited but for `limit` when absent. */
  readonly roomOf?: (target: string) => number;
}

/** What the intake writes through: one webhook, one transaction. */
export interface IntakeStore {
  /**
   * One transaction: read what is known of (instance, commit), let `plan` derive jobs and the new knowledge,
   * write both, and enqueue the jobs (a job with a coalesceKey deletes the unclaimed pending job with the same
   * key, which it supersedes). Nothing is visible to the worker before the transaction commits.
   */
  submit(
    instance: string,
    commit: string,
    plan: (known: KnownCommit, context: PlanContext) => PlanResult,
    now: number,
    /** The reporting reconciler (`Kind/namespace/name`): its last finished commit is read and, if finished, moved. */
    reconciler?: string,
  ): Promise<readonly Job[]>;
  /** Pending jobs, claimed or not. */
  pendingDepth(): Promise<number>;
  /**
   * Several submits in one transaction (group commit): each in a savepoint of its own, so one whose plan throws
   * rolls back alone and gets its error; a storage failure fails them all. Optional: a driver without it is given
   * the submits one at a time.
   */
  submitBatch?(submits: readonly SubmitRequest[]): Promise<readonly SubmitOutcome[]>;
}

export interface SubmitRequest {
  readonly instance: string;
  readonly commit: string;
  readonly plan: (known: KnownCommit, context: PlanContext) => PlanResult;
  readonly now: number;
  readonly reconciler?: string;
}

export type SubmitOutcome = { readonly jobs: readonly Job[] } | { readonly error: unknown };

/** What the worker claims jobs and records their attempts through. */
export interface WorkerStore {
  /**
   * Claims due jobs: pending, unclaimed, next attempt due, target not blocked, target not excluded, and the
   * oldest pending job of its ordering key (so jobs with one key run strictly in order, one at a time).
   */
  claimDue(options: ClaimOptions): Promise<StoredJob[]>;
  /**
   * When the worker should look again: the earliest next attempt or target unblock among unclaimed pending
   * jobs, leaving out `excludeTargets` (targets at their share of deliveries: one finishing wakes the worker).
   */
  nextDueAt(excludeTargets?: readonly string[]): Promise<number | undefined>;
  /**
   * What a pump of the worker asks: claimDue, and, when it claimed fewer than `limit` (a slot stays free),
   * nextDueAt of the targets that still have room after it (`excludeTargets` and the targets it filled left
   * out), in one read where the driver can.
   */
  claimDueAndNext(options: ClaimOptions): Promise<{ jobs: StoredJob[]; nextDueAt: number | undefined }>;
  markDone(id: number, now: number): Promise<void>;
  /** Several deliveries recorded in one transaction (batched completion); optional, markDone otherwise. */
  markDoneMany?(done: readonly { readonly id: number; readonly now: number }[]): Promise<void>;
  /**
   * Counts the attempt (unless `countAttempt` is false: a rate limit is no failed attempt), records the error,
   * releases the claim, schedules the next attempt.
   */
  markRetry(id: number, now: number, nextAttemptAt: number, error: string, countAttempt?: boolean): Promise<void>;
  /** Counts the attempt, records the error, state dead. */
  markDead(id: number, now: number, error: string): Promise<void>;
  /** No job of this target is claimed before `until` (rate limits, Retry-After). */
  blockTarget(target: string, until: number): Promise<void>;
  /** Forgets one claim of this process without recording anything: the job is claimable again. */
  releaseClaim(id: number): Promise<void>;
  /**
   * Releases every claim this store holds (after shutdown), and clears the claimed marks that versions which kept
   * claims in the file left there (at start-up). Returns how many of this store's claims it released.
   */
  releaseClaims(): Promise<number>;
  /**
   * Calls `listener` when another process sharing the outbox enqueued jobs (PostgreSQL: LISTEN/NOTIFY after its
   * commit). A wake-up can be missed (a reconnect), so the worker's idle look stays as the safety poll.
   */
  subscribeWake?(listener: () => void): () => void;
}

/** What `gitops-connector outbox` reads and repairs through (safe while the daemon runs). */
export interface AdminStore {
  stats(): Promise<StatsRow[]>;
  deadJobs(): Promise<StoredJob[]>;
  /** Targets waiting out a rate limit at `now`: until when, and how many pending jobs wait with them. */
  rateLimitedTargets(now: number): Promise<RateLimitedTarget[]>;
  /** Dead → pending, attempts reset, due now. Returns how many. */
  retryDead(which: number | "all", now: number): Promise<number>;
  purgeDead(): Promise<number>;
}

/** What the daemon's upkeep uses: the gauges, the storage probe, the lock's holder, pruning, the sweep's enqueue. */
export interface UpkeepStore {
  pendingDepth(): Promise<number>;
  /** Dead jobs. */
  deadCount(): Promise<number>;
  /** Epoch ms of the oldest pending job, if any. */
  oldestPendingAt(): Promise<number | undefined>;
  rateLimitedTargets(now: number): Promise<RateLimitedTarget[]>;
  /** One small write transaction; throws when storage does not take writes (a full disk, a read-only volume). */
  probeWrite(now: number): Promise<void>;
  /** Notes which daemon holds the outbox's lock (src/outbox/lock.ts). */
  recordHolder(holder: { readonly pid: number; readonly host: string; readonly since: number }): Promise<void>;
  /**
   * Enqueues the job unless a job with the same once-key was ever enqueued (kept until pruned); one
   * transaction, so a restart or a second sweep cannot enqueue it twice. True when enqueued.
   */
  enqueueOnce(onceKey: string, job: Job, now: number): Promise<boolean>;
  /**
   * Deletes done jobs last updated before `doneBefore`, and the knowledge of commits (and reconcilers' last
   * finished commits) not submitted since `commitsBefore`. Every submit touches its commit, so a commit Flux keeps
   * re-announcing is never forgotten (forgetting it would re-notify the orchestrator).
   */
  prune(doneBefore: number, commitsBefore: number): Promise<{ jobs: number; commits: number }>;
  /** Forgets once-keys recorded before `before` (older than anything a sweep can still find). */
  pruneOnceKeys(before: number): Promise<number>;
  /**
   * Takes or renews the lease `name` for `holder` until `now + ttlMs`, unless another holder's has not expired.
   * `term` grows with each new holder (a fencing token). One daemon on a SQLite file always holds it.
   */
  tryLease(name: string, holder: string, ttlMs: number, now: number): Promise<{ held: boolean; term: number }>;
}

/** The deployments read model (src/outbox/read-model.ts): what the API and the page read, and promotions' record. */
export interface ReadModelStore {
  readonly reader: DeploymentsReader;
  recordPromotion(record: PromotionRecord, now: number): Promise<void>;
}

/** The whole store: each caller takes the narrow port above that it needs. */
export interface OutboxStore extends IntakeStore, WorkerStore, AdminStore, UpkeepStore, ReadModelStore {
  close(): Promise<void>;
}

/**
 * A port as a driver that answers at once implements it (SQLite in this process): the same methods, returning
 * their values rather than promises. src/outbox/store.ts is written this way and adapted by `promised`.
 */
export type Immediate<T> = { [K in keyof T]: ImmediateValue<T[K]> };

/** Distributes over a union, so an optional method (`… | undefined`) maps too. */
type ImmediateValue<V> = V extends (...args: infer A) => Promise<infer R>
  ? (...args: A) => R
  : V extends (...args: never[]) => unknown
    ? V
    : V extends object
      ? Immediate<V>
      : V;
