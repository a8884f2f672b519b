/**
 * One daemon per outbox file. Two daemons on one data dir (a second pod on the same volume, a second systemd
 * instance) would each deliver every job: every status and every `repository_dispatch` twice. So `serve` takes a
 * lock for its whole life before it opens the outbox: an open write transaction on a small SQLite file beside it
 * (`outbox.db.lock`), which SQLite guards with the file system's own locks. The kernel drops it when the process
 * dies, however it dies, so a lock is never stale. The holder records who it is in the outbox itself, so a second
 * daemon can say which process holds it. (Several replicas share work through PostgreSQL, not through one file.)
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";

export interface OutboxLock {
  readonly path: string;
  release(): void;
}

/** Another process holds the outbox; the message names it when it could be found out. */
export class OutboxLockedError extends Error {
  override readonly name = "OutboxLockedError";
}

export const lockPathOf = (outboxPath: string) => `${outboxPath}.lock`;

/** Who holds an outbox, as the holder wrote it: `pid 4711 on host web-1 since 2026-12-01T10:00:00.000Z`. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: number;
}

/** Takes the outbox's lock, or throws OutboxLockedError naming the holder that `describeHolder` finds. */
export function acquireOutboxLock(outboxPath: string, describeHolder: () => LockHolder | undefined): OutboxLock {
  const path = lockPathOf(outboxPath);
  // The lock comes before the outbox, so it is the first to need the data dir (a fresh --data-dir does not exist).
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, readwrite: true });
  try {
    db.run("PRAGMA busy_timeout = 0");
    // A rollback journal (not WAL), so the write lock of the open transaction excludes every other writer.
    db.run("PRAGMA journal_mode = DELETE");
    db.run("CREATE TABLE IF NOT EXISTS lock (id INTEGER PRIMARY KEY CHECK (id = 1), taken_at INTEGER NOT NULL)");
    db.run("BEGIN IMMEDIATE");
    db.query("INSERT INTO lock (id, taken_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET taken_at = excluded.taken_at").run(Date.now());
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code !== "SQLITE_BUSY") throw error;
    const holder = describeHolder();
    const who = holder ? `pid ${holder.pid} on host ${holder.host}, running since ${new Date(holder.since).toISOString()}` : "another process";
    throw new OutboxLockedError(
      `outbox ${outboxPath} is in use by another gitops-connector (${who}): one daemon per outbox; ` +
        "stop that one, or give this one another --data-dir (replicas share work through outbox.driver: postgres)",
    );
  }
  return {
    path,
    release() {
      try {
        db.run("ROLLBACK");
      } finally {
        db.close();
      }
    },
  };
}

/** What this process writes as the holder. */
export function thisHolder(now: number): LockHolder {
  return { pid: process.pid, host: hostname(), since: now };
}
