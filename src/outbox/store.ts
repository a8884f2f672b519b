/**
 * The outbox's SQLite store (DESIGN §8): jobs, what is known of each commit, and per-target blocks, in one
 * bun:sqlite file shared by the daemon and the `outbox` CLI. Every statement is prepared once at open; every
 * read-then-write runs in an IMMEDIATE transaction, so a second process waits on `busy_timeout` instead of
 * failing on a stale snapshot.
 *
 * Claims (jobs in flight) live in this object's memory, not in the file: a claim lasts one attempt of this
 * process, and a process that dies takes its attempts with it, so its jobs are simply pending for the next.
 * Keeping them out of the file saves a write transaction per delivery. No query reads the `claimed` column any
 * more; it stays in the schema for files written by earlier versions, and releaseClaims() clears their marks.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { NOTHING_KNOWN, type KnownCommit } from "../core/commit-knowledge.ts";
import { commitOfJob, type Job, type OrchestratorJob } from "../core/model.ts";
import { createReadModel, type PromotionRecord } from "./read-model.ts";
import { migrate, OutboxVersionError } from "./schema.ts";
import { resolveOutboxPath } from "./paths.ts";
import type { ClaimOptions, Immediate, JobState, OutboxStore, PlanContext, PlanResult, RateLimitedTarget, StatsRow, StoredJob, SubmitOutcome, SubmitRequest } from "./types.ts";
import { isStorageError } from "./storage-health.ts";
import { targetsFilledBy } from "./claim-room.ts";

export interface SqliteOutboxOptions {
  /** A file path, or ":memory:" (tests, throwaway runs). */
  readonly path: string;
  /** "normal" (default) survives a killed process; "full" also survives power loss. See the comment at open. */
  readonly synchronous?: "normal" | "full";
  /** Clock for bookkeeping the port passes no time to (when a migration was applied). */
  readonly now?: () => number;
}

export { resolveOutboxPath };

/** The SQLite driver answers at once; `promised` gives it the store port every caller uses. */
export type SqliteOutboxStore = Immediate<OutboxStore> & { readonly path: string };

/** How long a statement waits for another process's write lock (the CLI beside the daemon) before failing. */
const BUSY_TIMEOUT_MS = 5_000;
/** What the -wal file is truncated back to after a checkpoint. */
const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;


/** Not SQLite's error, thrown between a submit's writes: a bug, and what was written of it must not stay. */
class HalfWrittenError extends Error {
  constructor(cause: unknown) {
    super(`outbox: a submit failed between its writes (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}

interface JobRow {
  id: number;
  /** As SQLite holds it: the key claims are compared with, which may differ from the payload's (see claimDue). */
  ordering_key: string;
  payload: string;
  state: JobState;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
  last_error: string | null;
}

const JOB_COLUMNS = "id, ordering_key, payload, state, attempts, next_attempt_at, created_at, updated_at, last_error";

function toStoredJob(row: JobRow): StoredJob {
  const stored = {
    id: row.id,
    job: JSON.parse(row.payload) as Job,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  return row.last_error === null ? stored : { ...stored, lastError: row.last_error };
}

function open(path: string, synchronous: "normal" | "full", now: number): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let db: Database | undefined;
  try {
    db = new Database(path, { create: true, readwrite: true, strict: true });
    db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // WAL: readers (the CLI, metrics) never block the writer, and a commit is one append to the -wal file.
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA foreign_keys = ON");
    // synchronous=NORMAL in WAL mode: COMMIT returns once the transaction's frames are written to the WAL
    // (in the OS page cache), without fsync; the WAL is fsynced at checkpoints. A killed or crashed process
    // loses nothing it committed, which is what "acknowledged with 202" promises. A power loss or kernel
    // crash may lose the last few transactions. synchronous=FULL fsyncs the WAL on every commit: durable
    // across power loss, at the cost of one fsync per webhook and per delivered job.
    // https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html
    db.run(`PRAGMA synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
    // Sorts and temporary indexes stay in memory: with a read-only root, the only writable places may be the
    // data dir and a small /tmp, and SQLite's temp files would otherwise go to /tmp.
    db.run("PRAGMA temp_store = MEMORY");
    // After a checkpoint the -wal file is cut back to this size, so a burst does not keep its space for ever.
    db.run(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    checkIntegrity(db, path);
    migrate(db, path, now);
    return db;
  } catch (error) {
    db?.close();
    const code = (error as { code?: unknown }).code;
    if (code === "SQLITE_NOTADB")
      throw new Error(`outbox ${path} is not a SQLite database: point outbox.path or --data-dir at another file, or move this one away`, { cause: error });
    if (code === "SQLITE_CORRUPT" || error instanceof OutboxCorruptError)
      throw new OutboxCorruptError(
        `outbox ${path} is not a valid database (${error instanceof OutboxCorruptError ? error.detail : (error as Error).message}): stop the daemon, ` +
          `move the file aside (its pending jobs are lost unless \`sqlite3 ${path} .recover\` saves them) and start again`,
        error instanceof OutboxCorruptError ? error.detail : String(code),
      );
    if (error instanceof OutboxVersionError) throw error;
    throw new Error(`cannot open outbox ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Who holds the outbox's lock, as recorded in the file; undefined when it cannot be read. */
export function readLockHolder(path: string): { pid: number; host: string; since: number } | undefined {
  if (path === ":memory:") return undefined;
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db.query<{ pid: number; host: string; since: number }, []>("SELECT pid, host, since FROM lock_holder WHERE id = 1").get() ?? undefined;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** The outbox file fails SQLite's integrity check; its message says what to do. */
export class OutboxCorruptError extends Error {
  override readonly name = "OutboxCorruptError";
  constructor(
    message: string,
    /** What quick_check (or SQLite) said. */
    readonly detail: string,
  ) {
    super(message);
  }
}

/**
 * `PRAGMA quick_check` at open: a damaged file (a disk that lied about a write, a copy taken mid-write) is refused
 * with its path instead of failing later, one query at a time. About 95 ms on a 98 MiB file of 100,000 jobs
 * (bench/README.md); the outbox holds far less once done jobs are pruned.
 */
function checkIntegrity(db: Database, path: string): void {
  if (path === ":memory:") return;
  const rows = db.query<{ quick_check: string }, []>("PRAGMA quick_check").all();
  if (rows.length === 1 && rows[0]?.quick_check === "ok") return;
  const detail = rows.slice(0, 3).map((row) => row.quick_check).join("; ");
  throw new OutboxCorruptError(`quick_check: ${detail}`, `quick_check: ${detail}${rows.length > 3 ? ` (and ${rows.length - 3} more)` : ""}`);
}

/** Opens (creating and migrating as needed) the outbox at `options.path`. Throws with the path on failure. */
export function createSqliteOutboxStore(options: SqliteOutboxOptions): SqliteOutboxStore {
  const clock = options.now ?? Date.now;
  const db = open(options.path, options.synchronous ?? "normal", clock());

  // Without ANALYZE statistics SQLite may pick another index than the one a lookup was written for, which can
  // turn a seek into a scan of every pending job; INDEXED BY pins the intended index (and fails here, at open,
  // if that index cannot serve the query).

  const selectKnown = db.query<{ known: string }, [string, string]>('SELECT known FROM commits WHERE instance = ? AND "commit" = ?');
  const upsertKnown = db.query<unknown, [string, string, string, number]>(
    'INSERT INTO commits (instance, "commit", known, updated_at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (instance, "commit") DO UPDATE SET known = excluded.known, updated_at = excluded.updated_at',
  );
  const selectHead = db.query<{ commit: string }, [string, string]>('SELECT "commit" FROM reconciler_heads WHERE instance = ? AND reconciler = ?');
  const upsertHead = db.query<unknown, [string, string, string, number]>(
    'INSERT INTO reconciler_heads (instance, reconciler, "commit", finished_at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (instance, reconciler) DO UPDATE SET "commit" = excluded."commit", finished_at = excluded.finished_at',
  );
  const pruneHeads = db.query<unknown, [number]>("DELETE FROM reconciler_heads WHERE finished_at < ?");
  const writeHolder = db.query<unknown, [number, string, number]>(
    "INSERT INTO lock_holder (id, pid, host, since) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, since = excluded.since",
  );
  const writeProbe = db.query<unknown, [number]>("INSERT INTO storage_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at");
  /** Jobs claimed by this process and not yet settled: id → ordering key. */
  const claims = new Map<number, string>();
  const claimedIds = () => JSON.stringify([...claims.keys()]);
  /**
   * Not in flight here, and no job of its key in flight: a dead job revived by `outbox retry` may head a key
   * whose earlier job is still being delivered. Checked in JS rather than by `NOT IN (json_each(…))` in each
   * look, which cost more than the look itself.
   */
  const isClaimable = (row: { id: number; ordering_key: string }, claimedKeys: ReadonlySet<string>) => !claims.has(row.id) && !claimedKeys.has(row.ordering_key);

  const deleteSuperseded = db.query<{ ordering_key: string; head: number }, [string, string]>(
    "DELETE FROM jobs INDEXED BY jobs_coalesce WHERE coalesce_key = ? AND state = 'pending' AND id NOT IN (SELECT value FROM json_each(?)) RETURNING ordering_key, head",
  );
  // A new job heads its key when no other job of the key is pending.
  const insertJobRow = db.query<unknown, [string, string, string, string, string | null, string, number, number, number, string | null, string]>(
    'INSERT INTO jobs (kind, instance, target, ordering_key, coalesce_key, payload, state, claimed, attempts, next_attempt_at, created_at, updated_at, "commit", head) ' +
      "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?, NOT EXISTS (SELECT 1 FROM jobs AS o INDEXED BY jobs_ordering_head WHERE o.ordering_key = ? AND o.state = 'pending'))",
  );
  const jobRow = (job: Job, now: number): Parameters<typeof insertJobRow.run> =>
    [job.kind, job.instance, job.target, job.orderingKey, job.coalesceKey ?? null, JSON.stringify(job), now, now, now, commitOfJob(job) ?? null, job.orderingKey];
  const insertJob = (job: Job, now: number) => insertJobRow.run(...jobRow(job, now));
  // When a head leaves pending (done, dead, coalesced away), the next pending job of its key heads it.
  // Looked up first: most keys (a commit's status) have no job queued behind, and an UPDATE that matches nothing
  // still cost three times the lookup (measured).
  const selectNextOfKey = db.query<{ id: number | null }, [string]>(
    "SELECT MIN(h.id) AS id FROM jobs AS h INDEXED BY jobs_ordering_head WHERE h.ordering_key = ? AND h.state = 'pending'",
  );
  const markHead = db.query<unknown, [number]>("UPDATE jobs SET head = 1 WHERE id = ? AND head = 0");
  const promoteHead = (orderingKey: string): void => {
    const next = selectNextOfKey.get(orderingKey)?.id;
    if (next !== null && next !== undefined) markHead.run(next);
  };
  // A dead job revived may come before its key's head: the lowest pending id heads the key again.
  const recomputeHeads = db.query<unknown, [string]>(
    "UPDATE jobs SET head = (id = (SELECT MIN(h.id) FROM jobs AS h INDEXED BY jobs_ordering_head WHERE h.ordering_key = ?1 AND h.state = 'pending')) WHERE ordering_key = ?1 AND state = 'pending'",
  );
  // Claimable: pending, due, the head (lowest pending id) of its ordering key, no job of that key in flight,
  // its target not blocked. Targets are few (repositories, orchestrators, subscribers) and jobs many, so both
  // lookups go target by target through jobs_target_ready: the distinct targets with pending jobs by one index
  // seek each (a "loose index scan"), then each target's jobs in due order until a claimable one. The only
  // rows walked past are jobs in flight and due jobs queued behind a head of their key (in flight or waiting
  // for its retry): a handful per commit, not the backlog. Walking every pending job instead, as a single
  // ORDER BY over all of them did, made each claim O(pending) whenever one busy target held the backlog.
  const selectPendingTargets = db.query<{ target: string }, []>(
    `WITH RECURSIVE targets(target) AS (
       SELECT (SELECT MIN(target) FROM jobs INDEXED BY jobs_target_ready WHERE state = 'pending')
       UNION ALL
       SELECT (SELECT MIN(j.target) FROM jobs AS j INDEXED BY jobs_target_ready WHERE j.state = 'pending' AND j.target > t.target)
       FROM targets AS t WHERE t.target IS NOT NULL
     )
     SELECT target FROM targets WHERE target IS NOT NULL`,
  );
  // Heads in due order; the ones this process has in flight are skipped in JS (see isClaimable), so each look
  // asks for as many more rows as there are claims: a claimed key holds at most one head.
  const selectDueOfTarget = db.query<JobRow, { target: string; now: number; limit: number }>(
    `SELECT ${JOB_COLUMNS} FROM jobs AS j INDEXED BY jobs_target_heads
     WHERE j.target = $target AND j.state = 'pending' AND j.head = 1 AND j.next_attempt_at <= $now
     ORDER BY j.next_attempt_at, j.id
     LIMIT $limit`,
  );
  // A job queued behind another of its key becomes due when that one finishes, which the worker sees anyway;
  // counting it would report a due time in the past and make the worker spin. Only claimable heads count.
  const selectNextDueOfTarget = db.query<{ id: number; ordering_key: string; at: number }, { target: string; limit: number }>(
    `SELECT j.id AS id, j.ordering_key AS ordering_key, j.next_attempt_at AS at FROM jobs AS j INDEXED BY jobs_target_heads
     WHERE j.target = $target AND j.state = 'pending' AND j.head = 1
     ORDER BY j.next_attempt_at, j.id
     LIMIT $limit`,
  );
  const selectBlockedUntil = db.query<{ until: number }, [string]>("SELECT blocked_until AS until FROM target_blocks WHERE target = ?");
  // The payload only where the read model needs it (an orchestrator job's outcome): not copied out for every status.
  const markDone = db.query<{ kind: string; instance: string; commit: string | null; payload: string | null; ordering_key: string }, [number, number]>(
    "UPDATE jobs SET state = 'done', head = 0, attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'pending' " +
      "RETURNING kind, instance, \"commit\", CASE WHEN kind = 'orchestrator' THEN payload END AS payload, ordering_key",
  );
  const markRetry = db.query<unknown, [number, string, number, number]>(
    "UPDATE jobs SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
  );
  const markWaiting = db.query<unknown, [number, string, number, number]>(
    "UPDATE jobs SET next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
  );
  const markDead = db.query<{ instance: string; commit: string | null; ordering_key: string }, [string, number, number]>(
    "UPDATE jobs SET state = 'dead', head = 0, attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending' RETURNING instance, \"commit\", ordering_key",
  );
  const upsertBlock = db.query<unknown, [string, number]>(
    "INSERT INTO target_blocks (target, blocked_until) VALUES (?, ?) " +
      "ON CONFLICT (target) DO UPDATE SET blocked_until = MAX(blocked_until, excluded.blocked_until)",
  );
  const selectRateLimited = db.query<RateLimitedTarget, [number]>(
    `SELECT b.target AS target, b.blocked_until AS until,
            (SELECT COUNT(*) FROM jobs AS j INDEXED BY jobs_target_ready WHERE j.target = b.target AND j.state = 'pending') AS pending
     FROM target_blocks AS b WHERE b.blocked_until > ? ORDER BY b.target`,
  );
  const pruneBlocks = db.query<unknown, [number]>("DELETE FROM target_blocks WHERE blocked_until < ?");
  // Only files last written by a version that kept claims in the file have any.
  const resetFileClaims = db.query<unknown, []>("UPDATE jobs SET claimed = 0 WHERE claimed = 1");
  const selectStats = db.query<StatsRow, []>(
    "SELECT kind, target, state, COUNT(*) AS count FROM jobs GROUP BY kind, target, state ORDER BY kind, target, state",
  );
  const selectDead = db.query<JobRow, []>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'dead' ORDER BY id`);
  // A dead status that a newer status for the same (target, commit, context) has superseded is not revived:
  // sending it now would show an older state last.
  const notSuperseded = "NOT EXISTS (SELECT 1 FROM jobs AS newer WHERE newer.coalesce_key = jobs.coalesce_key AND newer.id > jobs.id)";
  const retryOne = db.query<{ ordering_key: string }, [number, number, number]>(
    `UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'dead' AND ${notSuperseded} RETURNING ordering_key`,
  );
  const retryAll = db.query<{ ordering_key: string }, [number, number]>(
    `UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE state = 'dead' AND ${notSuperseded} RETURNING ordering_key`,
  );
  // Revived jobs are pending again: each of their keys is headed by its lowest pending id.
  const revive = db.transaction((which: number | "all", now: number) => {
    const revived = which === "all" ? retryAll.all(now, now) : retryOne.all(now, now, which);
    for (const key of new Set(revived.map((row) => row.ordering_key))) recomputeHeads.run(key);
    return revived.length;
  });
  const purgeDead = db.query<unknown, []>("DELETE FROM jobs WHERE state = 'dead'");
  const pruneDone = db.query<unknown, [number]>("DELETE FROM jobs INDEXED BY jobs_done_updated WHERE state = 'done' AND updated_at < ?");
  const pruneCommits = db.query<unknown, [number]>("DELETE FROM commits WHERE updated_at < ?");
  // Kept by triggers (schema 8): a lookup, not a walk of every pending job.
  const countPending = db.query<{ count: number }, []>("SELECT count FROM job_counts WHERE state = 'pending'");
  const countDead = db.query<{ count: number }, []>("SELECT count FROM job_counts WHERE state = 'dead'");
  const selectOldest = db.query<{ at: number | null }, []>("SELECT MIN(created_at) AS at FROM jobs INDEXED BY jobs_pending_created WHERE state = 'pending'");

  const insertOnceKey = db.query<unknown, [string, number]>("INSERT INTO once_keys (key, created_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING");
  const pruneOnceKeys = db.query<unknown, [number]>("DELETE FROM once_keys WHERE created_at < ?");

  const readModel = createReadModel(db);
  // A delivered orchestrator job is the notification the read model shows; a dead job changes its commit's row.
  const settleOne = (id: number, now: number) => {
    const row = markDone.get(now, id);
    if (row) promoteHead(row.ordering_key);
    if (row?.kind !== "orchestrator" || row.commit === null || row.payload === null) return;
    const { payload } = JSON.parse(row.payload) as OrchestratorJob;
    readModel.writer.recordNotification(row.instance, row.commit, payload.outcome, payload.supersededBy, now);
  };
  const settleDone = db.transaction(settleOne);
  // Not settleDone in a loop: each nested transaction is a savepoint, which costs as much as the update itself.
  const settleDoneMany = db.transaction((done: readonly { readonly id: number; readonly now: number }[]) => {
    for (const { id, now } of done) settleOne(id, now);
  });
  const settleDead = db.transaction((id: number, now: number, error: string) => {
    const row = markDead.get(error, now, id);
    if (row) promoteHead(row.ordering_key);
    if (row?.commit) readModel.writer.touchCommit(row.instance, row.commit, now);
  });
  const recordPromotion = db.transaction((record: PromotionRecord, now: number) => readModel.writer.recordPromotion(record, now));

  const enqueueOnce = db.transaction((onceKey: string, job: Job, now: number) => {
    if (insertOnceKey.run(onceKey, now).changes === 0) return false;
    insertJob(job, now);
    return true;
  });

  /**
   * One webhook's writes. Everything that can throw outside SQLite (the plan, which refuses an event for room,
   * and serialising) runs before the first write, so a failing submit leaves nothing behind and a batch needs no
   * savepoint per webhook (each cost about as much as a job's insert); once writing, only SQLite can fail, and
   * any SQLite error fails the whole batch (isStorageError).
   */
  const writeSubmit = (instance: string, commit: string, plan: (known: KnownCommit, context: PlanContext) => PlanResult, now: number, reconciler?: string) => {
    const row = selectKnown.get(instance, commit);
    const lastFinished = reconciler === undefined ? undefined : selectHead.get(instance, reconciler)?.commit;
    const result = plan(row ? (JSON.parse(row.known) as KnownCommit) : NOTHING_KNOWN, lastFinished === undefined ? {} : { lastFinished });
    const known = JSON.stringify(result.known);
    const rows = result.jobs.map((job) => jobRow(job, now));
    const inFlight = result.jobs.some((job) => job.coalesceKey !== undefined) ? claimedIds() : "[]";
    try {
      upsertKnown.run(instance, commit, known, now);
      if (result.finished && reconciler !== undefined) upsertHead.run(instance, reconciler, commit, now);
      for (const [index, job] of result.jobs.entries()) {
        if (job.coalesceKey !== undefined) {
          for (const gone of deleteSuperseded.all(job.coalesceKey, inFlight)) if (gone.head === 1) promoteHead(gone.ordering_key);
        }
        insertJobRow.run(...rows[index]!);
      }
      if (result.record) readModel.writer.recordReconciler(instance, commit, result.record, now);
    } catch (error) {
      throw isStorageError(error) ? error : new HalfWrittenError(error);
    }
    return result.jobs;
  };
  const submit = db.transaction(writeSubmit);

  // Group commit: the webhooks of one turn in one transaction. A plan that throws has written nothing, so it
  // fails alone; a SQLite error fails them all (rolled back whole, each webhook answered 503).
  const submitBatch = db.transaction((submits: readonly SubmitRequest[]): SubmitOutcome[] =>
    submits.map((request) => {
      const mark = readModel.writer.mark();
      try {
        return { jobs: writeSubmit(request.instance, request.commit, request.plan, request.now, request.reconciler) };
      } catch (error) {
        readModel.writer.rollbackTo(mark);
        // The disk, not this webhook, or a webhook half written: the whole batch is rolled back.
        if (isStorageError(error) || error instanceof HalfWrittenError) throw error;
        return { error };
      }
    }),
  );

  /** Targets with pending jobs that are neither excluded nor blocked at `now`. */
  const openOf = (targets: readonly string[], now: number, excludeTargets: readonly string[]) =>
    targets.filter((target) => !excludeTargets.includes(target) && (selectBlockedUntil.get(target)?.until ?? 0) <= now);

  function claimFrom(targets: readonly string[], options: ClaimOptions): StoredJob[] {
    if (options.limit <= 0) return [];
    const keys = new Set(claims.values());
    const rows = openOf(targets, options.now, options.excludeTargets)
      .map((target) => ({ target, limit: Math.min(options.limit, options.roomOf?.(target) ?? options.limit) }))
      .filter(({ limit }) => limit > 0)
      .flatMap(({ target, limit }) =>
        selectDueOfTarget
          .all({ target, now: options.now, limit: limit + claims.size })
          .filter((row) => isClaimable(row, keys))
          .slice(0, limit),
      )
      .sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id)
      .slice(0, options.limit);
    // Only a key's lowest pending id is claimable, so no key repeats among these. The claim notes the key as
    // SQLite holds it: a string it cannot store as it is (a lone UTF-16 surrogate) comes back changed, and a note
    // of the payload's spelling would never match, so the job would be claimed again while in flight.
    for (const row of rows) claims.set(row.id, row.ordering_key);
    return rows.map(toStoredJob);
  }

  // A blocked target's head is due when both its attempt time and the block have passed.
  function nextDueFrom(targets: readonly string[], excludeTargets: readonly string[]): number | undefined {
    const keys = new Set(claims.values());
    let earliest: number | undefined;
    for (const target of targets) {
      if (excludeTargets.includes(target)) continue;
      const head = selectNextDueOfTarget.all({ target, limit: claims.size + 1 }).find((row) => isClaimable(row, keys));
      if (!head) continue;
      const at = Math.max(head.at, selectBlockedUntil.get(target)?.until ?? 0);
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest;
  }

  const pendingTargets = () => selectPendingTargets.all().map((row) => row.target);
  // Reads only: a claim is this process's note, so nothing is written. One read transaction for all of its
  // statements, rather than one each: starting a read in WAL mode costs a few system calls.
  const claimDue = db.transaction((options: ClaimOptions) => claimFrom(pendingTargets(), options));
  const nextDueAt = db.transaction((excludeTargets: readonly string[]) => nextDueFrom(pendingTargets(), excludeTargets));
  // A pump's claim and its next look in one read, over one scan of the targets: each was a read of its own.
  const claimDueAndNext = db.transaction((options: ClaimOptions) => {
    const targets = pendingTargets();
    const jobs = claimFrom(targets, options);
    if (jobs.length >= options.limit) return { jobs, nextDueAt: undefined };
    return { jobs, nextDueAt: nextDueFrom(targets, [...options.excludeTargets, ...targetsFilledBy(options, jobs)]) };
  });

  // Blocks that expired before `doneBefore` (a day ago by default) go too: they can no longer hold anything back.
  const prune = db.transaction((doneBefore: number, commitsBefore: number) => {
    pruneBlocks.run(doneBefore);
    pruneHeads.run(commitsBefore);
    readModel.writer.prune(commitsBefore);
    return { jobs: pruneDone.run(doneBefore).changes, commits: pruneCommits.run(commitsBefore).changes };
  });

  return {
    path: options.path,
    submit(instance, commit, plan, now, reconciler) {
      try {
        const jobs = submit.immediate(instance, commit, plan, now, reconciler);
        readModel.writer.flush(true);
        return jobs;
      } catch (error) {
        readModel.writer.flush(false);
        throw error;
      }
    },
    submitBatch(submits) {
      try {
        const outcomes = submitBatch.immediate(submits);
        readModel.writer.flush(true);
        return outcomes;
      } catch (error) {
        readModel.writer.flush(false);
        throw error;
      }
    },
    reader: readModel.reader,
    recordPromotion(record, now) {
      recordPromotion.immediate(record, now);
      readModel.writer.flush(true);
    },
    enqueueOnce: (onceKey, job, now) => enqueueOnce.immediate(onceKey, job, now),
    pendingDepth: () => countPending.get()?.count ?? 0,
    deadCount: () => countDead.get()?.count ?? 0,
    oldestPendingAt: () => selectOldest.get()?.at ?? undefined,
    claimDue: (claimOptions) => claimDue.deferred(claimOptions),
    nextDueAt: (excludeTargets = []) => nextDueAt.deferred(excludeTargets),
    claimDueAndNext: (claimOptions) => claimDueAndNext.deferred(claimOptions),
    markDone(id, now) {
      settleDone.immediate(id, now);
      readModel.writer.flush(true);
      claims.delete(id);
    },
    markDoneMany(done) {
      try {
        settleDoneMany.immediate(done);
        readModel.writer.flush(true);
      } catch (error) {
        readModel.writer.flush(false);
        throw error;
      }
      for (const { id } of done) claims.delete(id);
    },
    markRetry(id, now, nextAttemptAt, error, countAttempt = true) {
      (countAttempt ? markRetry : markWaiting).run(nextAttemptAt, error, now, id);
      claims.delete(id);
    },
    markDead(id, now, error) {
      settleDead.immediate(id, now, error);
      readModel.writer.flush(true);
      claims.delete(id);
    },
    blockTarget(target, until) {
      upsertBlock.run(target, until);
    },
    rateLimitedTargets: (now) => selectRateLimited.all(now),
    recordHolder(holder) {
      writeHolder.run(holder.pid, holder.host, holder.since);
    },
    probeWrite(now) {
      writeProbe.run(now);
    },
    releaseClaim(id) {
      claims.delete(id);
    },
    releaseClaims() {
      const released = claims.size;
      claims.clear();
      resetFileClaims.run();
      return released;
    },
    stats: () => selectStats.all(),
    deadJobs: () => selectDead.all().map(toStoredJob),
    retryDead: (which, now) => revive.immediate(which, now),
    purgeDead: () => purgeDead.run().changes,
    prune: (doneBefore, commitsBefore) => prune.immediate(doneBefore, commitsBefore),
    pruneOnceKeys: (before) => pruneOnceKeys.run(before).changes,
    // One daemon owns the file (src/outbox/lock.ts), so it is always the one that runs the scheduler.
    tryLease: () => ({ held: true, term: 1 }),
    close() {
      db.close();
    },
  };
}
