/**
 * The outbox on PostgreSQL (DESIGN §13), through Bun's built-in `SQL`: the store port that several replicas share.
 * What SQLite keeps in one process's memory is in the rows here: a claim is a lease (`locked_by` this replica,
 * `locked_until`), taken with `FOR UPDATE SKIP LOCKED` on the head of each ordering key only; an expired lease
 * (a replica killed mid-delivery) makes the job claimable again, and a replica that lost its lease cannot record
 * the result (fencing: every settle checks `locked_by`). A submit serialises on its (instance, commit) with a
 * transaction-scoped advisory lock, so notify-once holds across replicas. Rate-limit blocks are rows all
 * replicas read.
 */
import { SQL } from "bun";
import { hostname } from "node:os";
import { NOTHING_KNOWN, type KnownCommit } from "../core/commit-knowledge.ts";
import type { Change } from "../core/deployments.ts";
import { commitOfJob, type Job, type OrchestratorJob } from "../core/model.ts";
import { targetsFilledBy } from "./claim-room.ts";
import { createPostgresReadModel } from "./postgres-read-model.ts";
import { migratePostgres } from "./postgres-schema.ts";
import type { JobState, OutboxStore, StoredJob } from "./types.ts";

export interface PostgresOutboxOptions {
  readonly url: string;
  /** This replica's name in the leases it takes; unique per process. */
  readonly holder?: string;
  /** How long a claim holds a job before another replica may take it (longer than outbox.timeoutMs). */
  readonly leaseMs?: number;
  /** Pool size. */
  readonly max?: number;
  /**
   * false behind PgBouncer in transaction mode, which carries no LISTEN: replicas then find each other's jobs by
   * the worker's safety poll alone. It also turns off prepared statements, which such a pooler cannot keep.
   */
  readonly listen?: boolean;
  readonly now?: () => number;
}

export type PostgresOutboxStore = OutboxStore & { readonly holder: string; readonly sql: SQL };

const DEFAULT_LEASE_MS = 60_000;
/** NOTIFY channels: `<CHANNEL>_jobs` (wake the workers), `<CHANNEL>_changes` (the read model's listeners). */
const CHANNEL = "gitops_connector";

interface JobRow {
  id: string;
  payload: string;
  state: JobState;
  attempts: number;
  next_attempt_at: string;
  created_at: string;
  updated_at: string;
  last_error: string | null;
}

function toStoredJob(row: JobRow): StoredJob {
  const stored = {
    id: Number(row.id),
    job: JSON.parse(row.payload) as Job,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: Number(row.next_attempt_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
  return row.last_error === null ? stored : { ...stored, lastError: row.last_error };
}

/**
 * Whoever inserts into or hands over an ordering key holds its transaction-scoped lock, so two replicas never both
 * make a job its key's head, and a head that leaves always hands over to a job committed before.
 */
async function lockKey(tx: SQL, key: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`key\u001f${key}`}, 0))`;
}

/**
 * Several keys' locks in one round trip, taken in the order given (callers sort), so two transactions that share
 * keys wait for each other rather than deadlock.
 */
async function lockKeys(tx: SQL, sortedKeys: readonly string[]): Promise<void> {
  if (sortedKeys.length === 0) return;
  if (sortedKeys.length === 1) return lockKey(tx, sortedKeys[0]!);
  await tx`SELECT pg_advisory_xact_lock(hashtextextended('key' || chr(31) || k.key, 0))
           FROM (SELECT key FROM unnest(${tx.array([...sortedKeys], "TEXT")}) WITH ORDINALITY AS u(key, n) ORDER BY n) AS k`;
}

/** `keyLocked`: the caller already holds the key's lock (a submit takes all of its keys' up front). */
async function insertJob(tx: SQL, job: Job, now: number, keyLocked = false): Promise<void> {
  if (!keyLocked) await lockKey(tx, job.orderingKey);
  await tx`INSERT INTO jobs (kind, instance, target, ordering_key, coalesce_key, payload, state, attempts, next_attempt_at, created_at, updated_at, "commit", head)
           VALUES (${job.kind}, ${job.instance}, ${job.target}, ${job.orderingKey}, ${job.coalesceKey ?? null}, ${JSON.stringify(job)}, 'pending', 0, ${now}, ${now}, ${now}, ${commitOfJob(job) ?? null},
                   NOT EXISTS (SELECT 1 FROM jobs o WHERE o.ordering_key = ${job.orderingKey} AND o.state = 'pending'))`;
}

/** A head left pending (done, dead, coalesced away): the next pending job of its key heads it. */
async function promoteHead(tx: SQL, key: string, locked?: ReadonlySet<string>): Promise<void> {
  if (!locked?.has(key)) await lockKey(tx, key);
  await tx`UPDATE jobs SET head = true WHERE id = (SELECT MIN(h.id) FROM jobs h WHERE h.ordering_key = ${key} AND h.state = 'pending') AND NOT head`;
}

/** Revived dead jobs: each key is headed by its lowest pending id again. */
async function recomputeHeads(tx: SQL, key: string): Promise<void> {
  await lockKey(tx, key);
  await tx`UPDATE jobs SET head = (id = (SELECT MIN(h.id) FROM jobs h WHERE h.ordering_key = ${key} AND h.state = 'pending')) WHERE ordering_key = ${key} AND state = 'pending'`;
}

/** Opens the pool and brings the schema up to date; rejects for a database written by a newer version. */
export async function createPostgresOutboxStore(options: PostgresOutboxOptions): Promise<PostgresOutboxStore> {
  const clock = options.now ?? Date.now;
  const holder = options.holder ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const sql = new SQL({ url: options.url, max: options.max ?? 8, idleTimeout: 30, ...(options.listen === false ? { prepare: false } : {}) });
  await migratePostgres(sql, new URL(options.url).host, clock());
  const readModel = createPostgresReadModel(sql);

  /**
   * Other replicas hear of new jobs and read-model changes by NOTIFY, sent after the commit (inside it,
   * PostgreSQL would serialise every committer that notifies), at most one of each in flight.
   */
  const announcing = { jobs: false, changes: false };
  const announce = (channel: "jobs" | "changes") => {
    if (announcing[channel] || options.listen === false) return;
    announcing[channel] = true;
    sql.notify(`${CHANNEL}_${channel}`, holder).catch(() => undefined).finally(() => (announcing[channel] = false));
  };

  /**
   * Runs a transaction and tells the read model's listeners of its changes once it committed. A deadlock PostgreSQL
   * broke (40P01: two hand-overs of keys crossing) is run once more: nothing of it was stored.
   */
  async function transaction<T>(run: (tx: SQL, staged: Change[]) => Promise<T>, addsJobs = false): Promise<T> {
    let staged: Change[] = [];
    const attempt = () => {
      staged = [];
      return sql.begin((tx) => run(tx, staged));
    };
    const result = await attempt().catch((error: unknown) => {
      if ((error as { errno?: unknown }).errno !== "40P01") throw error;
      return attempt();
    });
    readModel.writer.tell(staged);
    if (staged.length > 0) announce("changes");
    if (addsJobs) announce("jobs");
    return result;
  }

  // Changes other replicas made reach this process's listeners (the page's SSE) through the change log.
  let toldUpTo = await readModel.reader.lastChange();
  let catchingUp = Promise.resolve();
  const unlistenChanges = options.listen === false ? undefined : await sql.listen(`${CHANNEL}_changes`, (from: string) => {
    if (from === holder) return;
    catchingUp = catchingUp.then(async () => {
      const missed = await readModel.reader.changesSince(toldUpTo, 1_000);
      for (const change of missed) toldUpTo = Math.max(toldUpTo, change.seq);
      readModel.writer.tell(missed);
    }).catch(() => undefined);
  });
  readModel.reader.onChange((change) => (toldUpTo = Math.max(toldUpTo, change.seq)));

  /**
   * The targets with pending heads, by a loose index scan of `jobs_target_heads` (one index seek per target):
   * targets are few (repositories, orchestrators, subscribers) and jobs many, so claims and the next-due look go
   * target by target, each through its own due order, and never sort or walk the whole backlog (a walk in one
   * global due order passed every job of a target left out because it already has its share).
   */
  async function pendingTargets(): Promise<string[]> {
    const rows = (await sql`
      WITH RECURSIVE t(target) AS (
        (SELECT j.target FROM jobs j WHERE j.state = 'pending' AND j.head ORDER BY j.target LIMIT 1)
        UNION ALL
        SELECT (SELECT j.target FROM jobs j WHERE j.state = 'pending' AND j.head AND j.target > t.target ORDER BY j.target LIMIT 1)
        FROM t WHERE t.target IS NOT NULL)
      SELECT target FROM t WHERE target IS NOT NULL`) as { target: string }[];
    return rows.map((row) => row.target);
  }

  /**
   * Claims the due heads of each target, up to its room, `limit` in all in due order, in one statement: the
   * candidates are picked without locks, then only they are locked (SKIP LOCKED, the claim's conditions checked
   * again on each row as locked). Locking inside the per-target pick locked every target's room of rows for a
   * claim that kept `limit` of them, and a replica claiming meanwhile skipped the rest.
   */
  async function claimRows(now: number, limit: number, rooms: ReadonlyMap<string, number>): Promise<StoredJob[]> {
    if (rooms.size === 0) return [];
    const rows = (await sql`
      WITH candidates AS (
        SELECT x.id FROM unnest(${sql.array([...rooms.keys()], "TEXT")}, ${sql.array([...rooms.values()], "INT4")}) AS r(target, room)
        CROSS JOIN LATERAL (
          SELECT j.id, j.next_attempt_at FROM jobs j
          WHERE j.target = r.target AND j.state = 'pending' AND j.head AND j.next_attempt_at <= ${now}
            AND (j.locked_until IS NULL OR j.locked_until < ${now})
          ORDER BY j.next_attempt_at, j.id
          LIMIT r.room) AS x
        WHERE NOT EXISTS (SELECT 1 FROM target_blocks b WHERE b.target = r.target AND b.blocked_until > ${now})
        ORDER BY x.next_attempt_at, x.id
        LIMIT ${limit}),
      c AS (
        SELECT j.id, j.locked_by AS previous FROM jobs j
        WHERE j.id IN (SELECT id FROM candidates) AND j.state = 'pending' AND j.head AND (j.locked_until IS NULL OR j.locked_until < ${now})
        FOR UPDATE OF j SKIP LOCKED)
      UPDATE jobs SET locked_by = ${holder}, locked_until = ${now + leaseMs}
      FROM c WHERE jobs.id = c.id
      RETURNING jobs.id, jobs.payload, jobs.state, jobs.attempts, jobs.next_attempt_at, jobs.created_at, jobs.updated_at, jobs.last_error, c.previous`) as (JobRow & { previous: string | null })[];
    return rows
      .map((row) => (row.previous !== null && row.previous !== holder ? { ...toStoredJob(row), takenOverFrom: row.previous } : toStoredJob(row)))
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id);
  }

  const store: PostgresOutboxStore = {
    holder,
    sql,

    async submit(instance, commit, plan, now, reconciler) {
      return transaction(async (tx, staged) => {
        // Two replicas planning one commit at once would both start from what was known: one waits here.
        await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`${instance}\u001f${commit}`}, 0))`;
        // Read after the lock, in a statement of its own: its snapshot then includes what the one we waited for wrote.
        const [row] = (await tx`SELECT (SELECT known FROM commits WHERE instance = ${instance} AND "commit" = ${commit}) AS known,
                                       (SELECT "commit" FROM reconciler_heads WHERE instance = ${instance} AND reconciler = ${reconciler ?? null}) AS head`) as { known: string | null; head: string | null }[];
        const result = plan(row?.known ? (JSON.parse(row.known) as KnownCommit) : NOTHING_KNOWN, reconciler !== undefined && row?.head ? { lastFinished: row.head } : {});
        // The ordering keys this submit writes, locked up front in one order, so two submits never wait on each other in a circle.
        const locked = new Set(result.jobs.map((job) => job.orderingKey));
        await lockKeys(tx, [...locked].sort());
        if (result.finished && reconciler !== undefined) {
          // The commit's knowledge and the reconciler's last finished commit in one round trip.
          await tx`WITH known AS (
                     INSERT INTO commits (instance, "commit", known, updated_at) VALUES (${instance}, ${commit}, ${JSON.stringify(result.known)}, ${now})
                     ON CONFLICT (instance, "commit") DO UPDATE SET known = excluded.known, updated_at = excluded.updated_at)
                   INSERT INTO reconciler_heads (instance, reconciler, "commit", finished_at) VALUES (${instance}, ${reconciler}, ${commit}, ${now})
                   ON CONFLICT (instance, reconciler) DO UPDATE SET "commit" = excluded."commit", finished_at = excluded.finished_at`;
        } else {
          await tx`INSERT INTO commits (instance, "commit", known, updated_at) VALUES (${instance}, ${commit}, ${JSON.stringify(result.known)}, ${now})
                   ON CONFLICT (instance, "commit") DO UPDATE SET known = excluded.known, updated_at = excluded.updated_at`;
        }
        for (const job of result.jobs) {
          // A pending job with the same coalescing key is replaced, unless a replica is delivering it now.
          if (job.coalesceKey !== undefined) {
            const gone = (await tx`DELETE FROM jobs WHERE coalesce_key = ${job.coalesceKey} AND state = 'pending' AND (locked_until IS NULL OR locked_until < ${now})
                                   RETURNING ordering_key, head`) as { ordering_key: string; head: boolean }[];
            for (const row of gone) if (row.head) await promoteHead(tx, row.ordering_key, locked);
          }
          await insertJob(tx, job, now, true);
        }
        if (result.record) await readModel.writer.recordReconciler(tx, staged, instance, commit, result.record, now);
        return result.jobs;
      }, true);
    },

    async enqueueOnce(onceKey, job, now) {
      return transaction(async (tx) => {
        const inserted = await tx`INSERT INTO once_keys (key, created_at) VALUES (${onceKey}, ${now}) ON CONFLICT (key) DO NOTHING RETURNING key`;
        if (inserted.length === 0) return false;
        await insertJob(tx, job, now);
        return true;
      }, true);
    },

    async pendingDepth() {
      const [row] = (await sql`SELECT COUNT(*) AS count FROM jobs WHERE state = 'pending'`) as { count: string }[];
      return Number(row?.count ?? 0);
    },

    async claimDue({ now, limit, excludeTargets, roomOf }) {
      if (limit <= 0) return [];
      const rooms = new Map<string, number>();
      for (const target of await pendingTargets()) {
        if (excludeTargets.includes(target)) continue;
        const room = Math.min(limit, roomOf?.(target) ?? limit);
        if (room > 0) rooms.set(target, room);
      }
      return claimRows(now, limit, rooms);
    },

    // Two statements as before: a claim here is a write (the lease), and the next look a read after it.
    async claimDueAndNext(options) {
      const jobs = await store.claimDue(options);
      if (jobs.length >= options.limit) return { jobs, nextDueAt: undefined };
      return { jobs, nextDueAt: await store.nextDueAt([...options.excludeTargets, ...targetsFilledBy(options, jobs)]) };
    },

    async nextDueAt(excludeTargets = []) {
      const targets = (await pendingTargets()).filter((target) => !excludeTargets.includes(target));
      if (targets.length === 0) return undefined;
      // Per target, its first unleased head in due order (held back by a block); and any head leased by another
      // replica (or by this one, expired), due when its lease runs out, since that replica may be gone. Leased
      // heads are few (what is in flight), found through jobs_leased.
      const [row] = (await sql`
        SELECT LEAST(
          (SELECT MIN(GREATEST(x.next_attempt_at, COALESCE((SELECT b.blocked_until FROM target_blocks b WHERE b.target = t.target), 0)))
           FROM unnest(${sql.array(targets, "TEXT")}) AS t(target)
           CROSS JOIN LATERAL (
             SELECT j.next_attempt_at FROM jobs j
             WHERE j.target = t.target AND j.state = 'pending' AND j.head AND j.locked_by IS NULL
             ORDER BY j.next_attempt_at, j.id LIMIT 1) AS x),
          (SELECT MIN(GREATEST(j.next_attempt_at, COALESCE(b.blocked_until, 0), j.locked_until))
           FROM jobs j LEFT JOIN target_blocks b ON b.target = j.target
           WHERE j.state = 'pending' AND j.locked_by IS NOT NULL AND j.head AND j.target = ANY(${sql.array(targets, "TEXT")})
             AND (j.locked_by <> ${holder} OR j.locked_until < ${clock()}))) AS at`) as { at: string | null }[];
      return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
    },

    // One delivery is a batch of one: the same fencing, hand-over, notification and lock order.
    markDone: (id, now) => store.markDoneMany!([{ id, now }]),

    async markDoneMany(done) {
      if (done.length === 0) return;
      const nowOf = new Map(done.map((entry) => [entry.id, entry.now]));
      await transaction(async (tx, staged) => {
        // The keys' locks first, in the order submits take them (sorted here, not by the database's collation):
        // a submit holds its keys and then deletes rows, so a batch holding rows while waiting for keys could
        // close a circle with it. A job's ordering key never changes, so reading it unlocked is safe.
        const owned = (await tx`SELECT DISTINCT ordering_key FROM jobs WHERE id = ANY(${sql.array(done.map((entry) => entry.id), "INT8")}) AND state = 'pending' AND locked_by = ${holder}`) as { ordering_key: string }[];
        const keys = owned.map((row) => row.ordering_key).sort();
        await lockKeys(tx, keys);
        // One update for the batch (a transaction per delivery was five round trips), fenced like markDone: a job
        // whose lease this replica lost is left alone.
        const rows = (await tx`UPDATE jobs SET state = 'done', head = false, attempts = attempts + 1, updated_at = d.now, locked_by = NULL, locked_until = NULL
                               FROM unnest(${sql.array(done.map((entry) => entry.id), "INT8")}, ${sql.array(done.map((entry) => entry.now), "INT8")}) AS d(id, now)
                               WHERE jobs.id = d.id AND jobs.state = 'pending' AND jobs.locked_by = ${holder}
                               RETURNING jobs.id, jobs.kind, jobs.instance, jobs."commit", jobs.payload, jobs.ordering_key`) as { id: string; kind: string; instance: string; commit: string | null; payload: string; ordering_key: string }[];
        const settled = [...new Set(rows.map((row) => row.ordering_key))];
        if (settled.length > 0) {
          // Each settled key's next pending job made its head, under the key's lock taken above.
          await tx`UPDATE jobs SET head = true WHERE id IN (SELECT MIN(h.id) FROM jobs h WHERE h.ordering_key = ANY(${sql.array(settled, "TEXT")}) AND h.state = 'pending' GROUP BY h.ordering_key) AND NOT head`;
        }
        for (const row of rows) {
          if (row.kind !== "orchestrator" || row.commit === null) continue;
          const { payload } = JSON.parse(row.payload) as OrchestratorJob;
          await readModel.writer.recordNotification(tx, staged, row.instance, row.commit, payload.outcome, payload.supersededBy, nowOf.get(Number(row.id)) ?? clock());
        }
      });
    },

    async markRetry(id, now, nextAttemptAt, error, countAttempt = true) {
      await sql`UPDATE jobs SET attempts = attempts + ${countAttempt ? 1 : 0}, next_attempt_at = ${nextAttemptAt}, last_error = ${error}, updated_at = ${now},
                  locked_by = NULL, locked_until = NULL
                WHERE id = ${id} AND state = 'pending' AND locked_by = ${holder}`;
    },

    async markDead(id, now, error) {
      await transaction(async (tx, staged) => {
        const [row] = (await tx`UPDATE jobs SET state = 'dead', head = false, attempts = attempts + 1, last_error = ${error}, updated_at = ${now}, locked_by = NULL, locked_until = NULL
                                WHERE id = ${id} AND state = 'pending' AND locked_by = ${holder} RETURNING instance, "commit", ordering_key`) as { instance: string; commit: string | null; ordering_key: string }[];
        if (row) await promoteHead(tx, row.ordering_key);
        if (row?.commit) await readModel.writer.touchCommit(tx, staged, row.instance, row.commit, now);
      });
    },

    async blockTarget(target, until) {
      await sql`INSERT INTO target_blocks (target, blocked_until) VALUES (${target}, ${until})
                ON CONFLICT (target) DO UPDATE SET blocked_until = GREATEST(target_blocks.blocked_until, excluded.blocked_until)`;
    },

    async releaseClaim(id) {
      await sql`UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE id = ${id} AND locked_by = ${holder}`;
    },

    async releaseClaims() {
      const released = await sql`UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE locked_by = ${holder} RETURNING id`;
      return released.length;
    },

    async stats() {
      const rows = (await sql`SELECT kind, target, state, COUNT(*) AS count FROM jobs GROUP BY kind, target, state ORDER BY kind, target, state`) as { kind: Job["kind"]; target: string; state: JobState; count: string }[];
      return rows.map((row) => ({ ...row, count: Number(row.count) }));
    },

    async deadJobs() {
      const rows = (await sql`SELECT id, payload, state, attempts, next_attempt_at, created_at, updated_at, last_error FROM jobs WHERE state = 'dead' ORDER BY id`) as JobRow[];
      return rows.map(toStoredJob);
    },

    async rateLimitedTargets(now) {
      const rows = (await sql`SELECT b.target, b.blocked_until AS until,
                                (SELECT COUNT(*) FROM jobs j WHERE j.target = b.target AND j.state = 'pending') AS pending
                              FROM target_blocks b WHERE b.blocked_until > ${now} ORDER BY b.target`) as { target: string; until: string; pending: string }[];
      return rows.map((row) => ({ target: row.target, until: Number(row.until), pending: Number(row.pending) }));
    },

    async retryDead(which, now) {
      // A dead status superseded by a newer one for the same (target, commit, context) is not revived.
      return transaction(async (tx) => {
        const rows = (which === "all"
          ? await tx`UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = ${now}, updated_at = ${now}
                     WHERE state = 'dead' AND NOT EXISTS (SELECT 1 FROM jobs newer WHERE newer.coalesce_key = jobs.coalesce_key AND newer.id > jobs.id) RETURNING ordering_key`
          : await tx`UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = ${now}, updated_at = ${now}
                     WHERE id = ${which} AND state = 'dead' AND NOT EXISTS (SELECT 1 FROM jobs newer WHERE newer.coalesce_key = jobs.coalesce_key AND newer.id > jobs.id) RETURNING ordering_key`) as { ordering_key: string }[];
        for (const key of new Set(rows.map((row) => row.ordering_key))) await recomputeHeads(tx, key);
        return rows.length;
      });
    },

    async purgeDead() {
      return (await sql`DELETE FROM jobs WHERE state = 'dead' RETURNING id`).length;
    },

    async deadCount() {
      const [row] = (await sql`SELECT COUNT(*) AS count FROM jobs WHERE state = 'dead'`) as { count: string }[];
      return Number(row?.count ?? 0);
    },

    async oldestPendingAt() {
      const [row] = (await sql`SELECT MIN(created_at) AS at FROM jobs WHERE state = 'pending'`) as { at: string | null }[];
      return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
    },

    async probeWrite(now) {
      await sql`INSERT INTO storage_probe (id, at) VALUES (1, ${now}) ON CONFLICT (id) DO UPDATE SET at = excluded.at`;
    },

    async recordHolder(who) {
      await sql`INSERT INTO replicas (holder, pid, host, since) VALUES (${holder}, ${who.pid}, ${who.host}, ${who.since})
                ON CONFLICT (holder) DO UPDATE SET pid = excluded.pid, host = excluded.host, since = excluded.since`;
    },

    async prune(doneBefore, commitsBefore) {
      return transaction(async (tx) => {
        await tx`DELETE FROM target_blocks WHERE blocked_until < ${doneBefore}`;
        await tx`DELETE FROM reconciler_heads WHERE finished_at < ${commitsBefore}`;
        await readModel.writer.prune(tx, commitsBefore);
        const jobs = await tx`DELETE FROM jobs WHERE state = 'done' AND updated_at < ${doneBefore} RETURNING id`;
        const commits = await tx`DELETE FROM commits WHERE updated_at < ${commitsBefore} RETURNING instance`;
        return { jobs: jobs.length, commits: commits.length };
      });
    },

    async pruneOnceKeys(before) {
      return (await sql`DELETE FROM once_keys WHERE created_at < ${before} RETURNING key`).length;
    },

    async tryLease(name, who, ttlMs, now) {
      const rows = (await sql`
        INSERT INTO leases (name, holder, term, expires_at) VALUES (${name}, ${who}, 1, ${now + ttlMs})
        ON CONFLICT (name) DO UPDATE SET
          term = CASE WHEN leases.holder = excluded.holder THEN leases.term ELSE leases.term + 1 END,
          holder = excluded.holder, expires_at = excluded.expires_at
        WHERE leases.holder = excluded.holder OR leases.expires_at < ${now}
        RETURNING term`) as { term: string }[];
      if (rows.length > 0) return { held: true, term: Number(rows[0]!.term) };
      const [current] = (await sql`SELECT term FROM leases WHERE name = ${name}`) as { term: string }[];
      return { held: false, term: Number(current?.term ?? 0) };
    },

    reader: readModel.reader,

    async recordPromotion(record, now) {
      await transaction((tx, staged) => readModel.writer.recordPromotion(tx, staged, record, now));
    },

    subscribeWake(listener) {
      if (options.listen === false) return () => {};
      let subscription: { unlisten(): Promise<void> } | undefined;
      let stopped = false;
      void sql.listen(`${CHANNEL}_jobs`, (from: string) => {
        if (from !== holder) listener();
      }).then((listening) => {
        subscription = listening;
        if (stopped) void listening.unlisten();
      }).catch(() => undefined);
      return () => {
        stopped = true;
        void subscription?.unlisten();
      };
    },

    async close() {
      await unlistenChanges?.unlisten().catch(() => undefined);
      await sql`UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE locked_by = ${holder}`.catch(() => undefined);
      await sql.close();
    },
  };
  return store;
}
