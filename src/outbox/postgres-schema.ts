/**
 * The outbox's schema on PostgreSQL (DESIGN §13): the same tables as SQLite's (src/outbox/schema.ts), with
 * claims kept in the rows (`locked_by`, `locked_until`: a lease), so replicas share one queue. Migrations run in
 * one transaction under an advisory lock, so replicas starting together migrate once; a database written by a
 * newer gitops-connector is refused. Times are epoch milliseconds, as on SQLite.
 */
import type { SQL } from "bun";

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    instance        TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    ordering_key    TEXT    NOT NULL,
    coalesce_key    TEXT,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    last_error      TEXT,
    "commit"        TEXT,
    locked_by       TEXT,
    locked_until    BIGINT,
    -- The pending job that heads its ordering key (the only claimable one), kept on the row as on SQLite.
    head            BOOLEAN NOT NULL DEFAULT false
  );
  CREATE INDEX jobs_target_heads ON jobs (target, next_attempt_at) WHERE state = 'pending' AND head;
  CREATE INDEX jobs_ordering_head ON jobs (ordering_key, id) WHERE state = 'pending';
  CREATE INDEX jobs_coalesce ON jobs (coalesce_key) WHERE state = 'pending';
  CREATE INDEX jobs_pending_created ON jobs (created_at) WHERE state = 'pending';
  CREATE INDEX jobs_done_updated ON jobs (updated_at) WHERE state = 'done';
  CREATE INDEX jobs_target_ready ON jobs (target, next_attempt_at) WHERE state = 'pending';
  CREATE INDEX jobs_commit ON jobs (instance, "commit") WHERE state <> 'done';
  CREATE INDEX jobs_dead ON jobs (id) WHERE state = 'dead';
  ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01);

  CREATE TABLE commits (
    instance   TEXT   NOT NULL,
    "commit"   TEXT   NOT NULL,
    known      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (instance, "commit")
  );
  CREATE INDEX commits_updated ON commits (updated_at);

  CREATE TABLE target_blocks (target TEXT PRIMARY KEY, blocked_until BIGINT NOT NULL);
  CREATE TABLE once_keys (key TEXT PRIMARY KEY, created_at BIGINT NOT NULL);
  CREATE INDEX once_keys_created ON once_keys (created_at);
  CREATE TABLE reconciler_heads (
    instance    TEXT   NOT NULL,
    reconciler  TEXT   NOT NULL,
    "commit"    TEXT   NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (instance, reconciler)
  );
  CREATE INDEX reconciler_heads_finished ON reconciler_heads (finished_at);
  CREATE TABLE storage_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at BIGINT NOT NULL);
  CREATE TABLE replicas (holder TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, since BIGINT NOT NULL);
  -- Who runs the scheduler: a lease with a term (a fencing token), renewed by its holder, taken over once expired.
  CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, term BIGINT NOT NULL, expires_at BIGINT NOT NULL);

  CREATE TABLE deployments (
    instance               TEXT    NOT NULL,
    "commit"               TEXT    NOT NULL,
    first_seen             BIGINT  NOT NULL,
    last_seen              BIGINT  NOT NULL,
    state                  TEXT    NOT NULL,
    changed                BIGINT  NOT NULL,
    superseded_by          TEXT,
    notified_outcome       TEXT,
    notified_at            BIGINT,
    notified_superseded_by TEXT,
    PRIMARY KEY (instance, "commit")
  );
  CREATE INDEX deployments_newest ON deployments (first_seen DESC, instance, "commit");
  CREATE INDEX deployments_last_seen ON deployments (last_seen);
  CREATE TABLE deployment_reconcilers (
    instance      TEXT   NOT NULL,
    "commit"      TEXT   NOT NULL,
    reconciler    TEXT   NOT NULL,
    context       TEXT   NOT NULL,
    state         TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    message       TEXT   NOT NULL,
    superseded_by TEXT,
    at            BIGINT NOT NULL,
    PRIMARY KEY (instance, "commit", reconciler)
  );
  CREATE TABLE promotions (
    instance TEXT   NOT NULL,
    grp      TEXT   NOT NULL,
    app      TEXT   NOT NULL,
    env      TEXT   NOT NULL,
    tag      TEXT   NOT NULL,
    state    TEXT   NOT NULL,
    pr       INTEGER,
    url      TEXT,
    "commit" TEXT,
    chain    TEXT,
    at       BIGINT NOT NULL,
    PRIMARY KEY (instance, grp, app, env)
  );
  CREATE TABLE changes (
    seq      BIGSERIAL PRIMARY KEY,
    at       BIGINT NOT NULL,
    kind     TEXT   NOT NULL,
    instance TEXT   NOT NULL,
    "commit" TEXT
  );
  CREATE INDEX changes_at ON changes (at);
  `,
  // 2: claims and the next-due look go target by target, each through its heads in due order (id breaking
  // ties), and find leased heads through an index of their own; before, each claim sorted every pending head
  // (6 ms at 10,000, so one replica delivered ~250 statuses/s). And the jobs table churns (each job inserted,
  // updated, pruned): its statistics are refreshed after 2 % of it changed rather than autovacuum's default 10 %,
  // since stale ones made the coalescing DELETE a scan of every job (vacuum already runs at 1 %, migration 1).
  // The builds index only pending heads but read the whole table, done rows included, and writes to `jobs` wait
  // meanwhile (0.24 s for a million rows, 1 % pending, on the tests' server): an upgrade's first replica holds the
  // others' writes that long.
  `
  DROP INDEX jobs_target_heads;
  CREATE INDEX jobs_target_heads ON jobs (target, next_attempt_at, id) WHERE state = 'pending' AND head;
  CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'pending' AND locked_by IS NOT NULL;
  ALTER TABLE jobs SET (autovacuum_analyze_scale_factor = 0.02);
  `,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Any constant: the advisory lock replicas take while migrating. */
const MIGRATION_LOCK = 7_340_021;

export class PostgresVersionError extends Error {
  override readonly name = "PostgresVersionError";
}

export async function migratePostgres(sql: SQL, where: string, now: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS outbox_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`;
    const [row] = (await tx`SELECT MAX(version) AS version FROM outbox_schema`) as { version: number | null }[];
    const current = Number(row?.version ?? 0);
    if (current > PG_SCHEMA_VERSION) {
      throw new PostgresVersionError(`outbox ${where} has schema version ${current}, this gitops-connector knows up to ${PG_SCHEMA_VERSION}: upgrade gitops-connector or use another database`);
    }
    for (let version = current; version < PG_SCHEMA_VERSION; version++) {
      await tx.unsafe(MIGRATIONS[version]!);
      await tx`INSERT INTO outbox_schema (version, applied_at) VALUES (${version + 1}, ${now})`;
    }
  });
}
