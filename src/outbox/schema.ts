/**
 * The outbox database's schema, as an ordered list of migrations. Opening a file applies the ones it lacks in
 * one transaction and records each in `schema_version`; a file written by a newer gitops-connector is refused
 * rather than misread. Append a migration to change the schema; never edit one that has shipped.
 */
import type { Database } from "bun:sqlite";

/** Index n holds the statements that take a database from version n to version n + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    instance        TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    ordering_key    TEXT    NOT NULL,
    coalesce_key    TEXT,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    claimed         INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_error      TEXT
  );
  -- Due lookup, depth, dead listing, releasing claims.
  CREATE INDEX jobs_due ON jobs (state, claimed, next_attempt_at);
  -- The head (lowest id) of each ordering key among pending jobs.
  CREATE INDEX jobs_ordering_head ON jobs (ordering_key, id) WHERE state = 'pending';
  -- The pending job a new one with the same coalescing key supersedes.
  CREATE INDEX jobs_coalesce ON jobs (coalesce_key) WHERE state = 'pending';
  -- Age of the oldest pending job (a metric), and pruning of done jobs.
  CREATE INDEX jobs_pending_created ON jobs (created_at) WHERE state = 'pending';
  CREATE INDEX jobs_done_updated ON jobs (updated_at) WHERE state = 'done';

  CREATE TABLE commits (
    instance   TEXT    NOT NULL,
    "commit"   TEXT    NOT NULL,
    known      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (instance, "commit")
  ) WITHOUT ROWID;
  CREATE INDEX commits_updated ON commits (updated_at);

  CREATE TABLE target_blocks (
    target        TEXT    PRIMARY KEY,
    blocked_until INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: jobs that must be enqueued at most once ever (the abandoned-PR sweep finds the same PR every 30 s).
  `
  CREATE TABLE once_keys (
    key        TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX once_keys_created ON once_keys (created_at);
  `,
  // 3: pending jobs by target, so a claim seeks each target's earliest due job instead of walking every
  // pending one (which, with one busy target holding the backlog, made each claim cost O(pending)). Claims
  // moved to memory, so jobs_due (state, claimed, next_attempt_at) lost its use; dropping it saves a page
  // write on every insert and state change.
  `
  CREATE INDEX jobs_target_ready ON jobs (target, next_attempt_at) WHERE state = 'pending';
  DROP INDEX jobs_due;
  `,
  // 4: the last commit each reconciler of an instance finished, so finishing a newer one can tell the commits in
  // between (superseded: Flux applies only the newest commit).
  `
  CREATE TABLE reconciler_heads (
    instance    TEXT    NOT NULL,
    reconciler  TEXT    NOT NULL,
    "commit"    TEXT    NOT NULL,
    finished_at INTEGER NOT NULL,
    PRIMARY KEY (instance, reconciler)
  ) WITHOUT ROWID;
  CREATE INDEX reconciler_heads_finished ON reconciler_heads (finished_at);
  `,
  // 5: one row the daemon rewrites to find out whether storage takes writes again after a failure (disk full).
  `
  CREATE TABLE storage_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
  );
  -- The daemon holding the outbox's lock (src/outbox/lock.ts), so a second one can name it.
  CREATE TABLE lock_holder (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    pid   INTEGER NOT NULL,
    host  TEXT    NOT NULL,
    since INTEGER NOT NULL
  );
  `,
  // 6: the deployments read model (src/outbox/read-model.ts, DESIGN §12): per (instance, commit) and per reconciler
  // what was last heard, the notification, promotions, and a change log whose sequence numbers are the SSE ids.
  // Jobs name their commit so a deployment's pending and dead jobs are one index seek.
  `
  CREATE TABLE deployments (
    instance               TEXT    NOT NULL,
    "commit"               TEXT    NOT NULL,
    first_seen             INTEGER NOT NULL,
    last_seen              INTEGER NOT NULL,
    state                  TEXT    NOT NULL,
    changed                INTEGER NOT NULL,
    superseded_by          TEXT,
    notified_outcome       TEXT,
    notified_at            INTEGER,
    notified_superseded_by TEXT,
    PRIMARY KEY (instance, "commit")
  ) WITHOUT ROWID;
  CREATE INDEX deployments_newest ON deployments (first_seen DESC, instance, "commit");
  CREATE INDEX deployments_last_seen ON deployments (last_seen);
  CREATE TABLE deployment_reconcilers (
    instance      TEXT    NOT NULL,
    "commit"      TEXT    NOT NULL,
    reconciler    TEXT    NOT NULL,
    context       TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    superseded_by TEXT,
    at            INTEGER NOT NULL,
    PRIMARY KEY (instance, "commit", reconciler)
  ) WITHOUT ROWID;
  CREATE TABLE promotions (
    instance TEXT    NOT NULL,
    grp      TEXT    NOT NULL,
    app      TEXT    NOT NULL,
    env      TEXT    NOT NULL,
    tag      TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    pr       INTEGER,
    url      TEXT,
    "commit" TEXT,
    chain    TEXT,
    at       INTEGER NOT NULL,
    PRIMARY KEY (instance, grp, app, env)
  ) WITHOUT ROWID;
  CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    instance TEXT    NOT NULL,
    "commit" TEXT
  );
  CREATE INDEX changes_at ON changes (at);
  ALTER TABLE jobs ADD COLUMN "commit" TEXT;
  UPDATE jobs SET "commit" = COALESCE(json_extract(payload, '$.payload.commit'), json_extract(payload, '$.payload.body.commit_id')) WHERE state <> 'done';
  CREATE INDEX jobs_commit ON jobs (instance, "commit") WHERE state <> 'done';
  `,
  // 7: which pending job heads its ordering key, kept on the row. A claim then seeks a target's due heads by one
  // index instead of walking every job queued behind a head (3,000 supersede jobs of one reconciler made each
  // claim walk all 3,000: measured 55 % of the daemon's CPU under a backlog).
  `
  ALTER TABLE jobs ADD COLUMN head INTEGER NOT NULL DEFAULT 0;
  UPDATE jobs SET head = 1 WHERE state = 'pending'
    AND id = (SELECT MIN(h.id) FROM jobs AS h WHERE h.ordering_key = jobs.ordering_key AND h.state = 'pending');
  CREATE INDEX jobs_target_heads ON jobs (target, next_attempt_at) WHERE state = 'pending' AND head = 1;
  `,
  // 8: the number of jobs in each state, kept by triggers in the same transaction as the change. The intake reads
  // the pending depth once per group commit; COUNT(*) walked the pending index, 0.25 ms at 40,000 pending (a
  // quarter of the intake's time with delivery paused). Triggers also count what the CLI changes from another
  // process.
  `
  CREATE TABLE job_counts (
    state TEXT    PRIMARY KEY,
    count INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO job_counts (state, count) VALUES ('pending', 0), ('done', 0), ('dead', 0);
  UPDATE job_counts SET count = (SELECT COUNT(*) FROM jobs WHERE jobs.state = job_counts.state);
  CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs BEGIN
    UPDATE job_counts SET count = count + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET count = count - 1 WHERE state = OLD.state;
  END;
  CREATE TRIGGER jobs_counted_update AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
    UPDATE job_counts SET count = count - 1 WHERE state = OLD.state;
    UPDATE job_counts SET count = count + 1 WHERE state = NEW.state;
  END;
  `,
  // 9: the coalescing and per-commit lookups by indexes that a job's settling does not touch. Keyed by commit,
  // their entries land on a random page each; partial on the state, every job done or dead rewrote two such
  // pages (about 5 µs each at the commit, measured) besides its own. A lookup now also passes the done jobs of
  // its key, a handful until they are pruned.
  `
  DROP INDEX jobs_coalesce;
  CREATE INDEX jobs_coalesce ON jobs (coalesce_key) WHERE coalesce_key IS NOT NULL;
  DROP INDEX jobs_commit;
  CREATE INDEX jobs_commit ON jobs (instance, "commit") WHERE "commit" IS NOT NULL;
  `,
];

/** A file written by a newer gitops-connector; its message says what to do. */
export class OutboxVersionError extends Error {
  override readonly name = "OutboxVersionError";
}

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to SCHEMA_VERSION inside one IMMEDIATE transaction (so two processes opening a new
 * file at once do not both migrate it). Throws when the file is newer than this build.
 */
export function migrate(db: Database, path: string, now: number): void {
  db.transaction(() => {
    db.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const row = db.query<{ version: number | null }, []>("SELECT MAX(version) AS version FROM schema_version").get();
    const current = row?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new OutboxVersionError(
        `outbox ${path} has schema version ${current}, this gitops-connector knows up to ${SCHEMA_VERSION}: ` +
          "upgrade gitops-connector or use another --data-dir",
      );
    }
    const record = db.query<unknown, [number, number]>("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)");
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.run(MIGRATIONS[version] as string);
      record.run(version + 1, now);
    }
  }).immediate();
}
