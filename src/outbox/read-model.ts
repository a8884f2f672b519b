/**
 * The deployments read model (DESIGN §12), kept in the outbox database and written inside the store's own
 * transactions: a submit records its commit and reconciler with its jobs, a delivered orchestrator job records
 * the notification, a dead job marks its commit changed. So the page never shows what the outbox does not hold,
 * and a restart loses nothing of it. Every write appends to `changes`, whose sequence numbers are the
 * Server-Sent Events' ids (`Last-Event-ID` resumes from them). Pruned with the commits it belongs to.
 */
import type { Database } from "bun:sqlite";
import {
  deploymentStateOf,
  type Change,
  type DeploymentState,
  type DeploymentsReader,
  type PromotionRecord,
  type PromotionView,
  type ReconcilerRecord,
  type ReconcilerState,
  type StoredDeployment,
} from "../core/deployments.ts";

export type { Change, DeploymentsReader, PromotionRecord, StoredDeployment };
import type { Immediate } from "./types.ts";

interface DeploymentRow {
  instance: string;
  commit: string;
  state: DeploymentState;
  first_seen: number;
  last_seen: number;
  changed: number;
  superseded_by: string | null;
  notified_outcome: "succeeded" | "failed" | null;
  notified_at: number | null;
  notified_superseded_by: string | null;
}

const DEPLOYMENT_COLUMNS = 'instance, "commit" AS "commit", state, first_seen, last_seen, changed, superseded_by, notified_outcome, notified_at, notified_superseded_by';

export function createReadModel(db: Database) {
  const insertChange = db.query<{ seq: number }, [number, string, string, string | null]>(
    'INSERT INTO changes (at, kind, instance, "commit") VALUES (?, ?, ?, ?) RETURNING seq',
  );
  const upsertDeployment = db.query<unknown, [string, string, number, number, number]>(
    `INSERT INTO deployments (instance, "commit", first_seen, last_seen, state, changed) VALUES (?, ?, ?, ?, 'pending', ?)
     ON CONFLICT (instance, "commit") DO UPDATE SET last_seen = excluded.last_seen, changed = excluded.changed`,
  );
  const upsertReconciler = db.query<unknown, [string, string, string, string, string, string, string, string | null, number]>(
    `INSERT INTO deployment_reconcilers (instance, "commit", reconciler, context, state, reason, message, superseded_by, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (instance, "commit", reconciler) DO UPDATE SET context = excluded.context, state = excluded.state, reason = excluded.reason,
       message = excluded.message, superseded_by = excluded.superseded_by, at = excluded.at
     WHERE deployment_reconcilers.state <> 'succeeded' AND deployment_reconcilers.state <> 'failed' OR excluded.state <> 'superseded'`,
  );
  const selectReconcilerStates = db.query<{ state: ReconcilerState; superseded_by: string | null }, [string, string]>(
    'SELECT state, superseded_by FROM deployment_reconcilers WHERE instance = ? AND "commit" = ?',
  );
  const setDeploymentState = db.query<unknown, [string, string | null, string, string]>(
    'UPDATE deployments SET state = ?, superseded_by = ? WHERE instance = ? AND "commit" = ?',
  );
  const setNotification = db.query<unknown, [string, number, string | null, number, string, string]>(
    'UPDATE deployments SET notified_outcome = ?, notified_at = ?, notified_superseded_by = ?, changed = ? WHERE instance = ? AND "commit" = ?',
  );
  const touch = db.query<unknown, [number, string, string]>('UPDATE deployments SET changed = ? WHERE instance = ? AND "commit" = ?');
  const selectDeployment = db.query<DeploymentRow, [string, string]>(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE instance = ? AND "commit" = ?`);
  const selectPage = db.query<DeploymentRow, { instances: string | null; states: string | null; before: number; limit: number }>(
    `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments INDEXED BY deployments_newest
     WHERE first_seen < $before
       AND ($instances IS NULL OR instance IN (SELECT value FROM json_each($instances)))
       AND ($states IS NULL OR state IN (SELECT value FROM json_each($states)))
     ORDER BY first_seen DESC, instance, "commit" LIMIT $limit`,
  );
  const selectReconcilers = db.query<{ reconciler: string; context: string; state: ReconcilerState; reason: string; message: string; superseded_by: string | null; at: number }, [string, string]>(
    'SELECT reconciler, context, state, reason, message, superseded_by, at FROM deployment_reconcilers WHERE instance = ? AND "commit" = ? ORDER BY reconciler',
  );
  const selectOpenJobs = db.query<{ id: number; kind: string; target: string; state: "pending" | "dead"; attempts: number; last_error: string | null }, [string, string]>(
    `SELECT id, kind, target, state, attempts, last_error FROM jobs INDEXED BY jobs_commit WHERE instance = ? AND "commit" = ? AND state <> 'done' ORDER BY id`,
  );
  const upsertPromotion = db.query<unknown, [string, string, string, string, string, string, number | null, string | null, string | null, string | null, number]>(
    `INSERT INTO promotions (instance, grp, app, env, tag, state, pr, url, "commit", chain, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (instance, grp, app, env) DO UPDATE SET tag = excluded.tag, state = excluded.state, pr = excluded.pr, url = excluded.url, "commit" = excluded."commit",
       chain = COALESCE(excluded.chain, promotions.chain), at = excluded.at`,
  );
  const selectPromotions = db.query<{ instance: string; grp: string; app: string; env: string; tag: string; state: PromotionView["state"]; pr: number | null; url: string | null; commit: string | null; chain: string | null; at: number }, []>(
    'SELECT instance, grp, app, env, tag, state, pr, url, "commit" AS "commit", chain, at FROM promotions ORDER BY instance, grp, app, env',
  );
  const selectChanges = db.query<{ seq: number; at: number; kind: Change["kind"]; instance: string; commit: string | null }, [number, number]>(
    'SELECT seq, at, kind, instance, "commit" AS "commit" FROM changes WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  const selectLastChange = db.query<{ seq: number | null }, []>("SELECT MAX(seq) AS seq FROM changes");
  const pruneDeployments = db.query<unknown, [number]>("DELETE FROM deployments WHERE last_seen < ?");
  const pruneReconcilers = db.query<unknown, []>(
    'DELETE FROM deployment_reconcilers WHERE NOT EXISTS (SELECT 1 FROM deployments AS d WHERE d.instance = deployment_reconcilers.instance AND d."commit" = deployment_reconcilers."commit")',
  );
  const pruneChanges = db.query<unknown, [number]>("DELETE FROM changes WHERE at < ?");
  const prunePromotions = db.query<unknown, [number]>("DELETE FROM promotions WHERE at < ?");

  const listeners = new Set<(change: Change) => void>();
  /** Changes made inside the transaction running now, told to listeners once it commits. */
  let staged: Change[] = [];

  function change(kind: Change["kind"], instance: string, commit: string | undefined, now: number): number {
    const seq = insertChange.get(now, kind, instance, commit ?? null)!.seq;
    staged.push({ seq, at: now, kind, instance, ...(commit ? { commit } : {}) });
    return seq;
  }

  function restate(instance: string, commit: string): void {
    const rows = selectReconcilerStates.all(instance, commit);
    const state = deploymentStateOf(rows.map((row) => row.state));
    const supersededBy = state === "superseded" ? (rows.find((row) => row.superseded_by !== null)?.superseded_by ?? null) : null;
    setDeploymentState.run(state, supersededBy, instance, commit);
  }

  function toStored(row: DeploymentRow): StoredDeployment {
    const jobs = selectOpenJobs.all(row.instance, row.commit);
    return {
      instance: row.instance,
      commit: row.commit,
      state: row.state,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      changed: row.changed,
      ...(row.superseded_by ? { supersededBy: row.superseded_by } : {}),
      ...(row.notified_outcome && row.notified_at !== null
        ? { notification: { outcome: row.notified_outcome, at: row.notified_at, ...(row.notified_superseded_by ? { supersededBy: row.notified_superseded_by } : {}) } }
        : {}),
      reconcilers: selectReconcilers.all(row.instance, row.commit).map((r) => ({
        reconciler: r.reconciler,
        context: r.context,
        state: r.state,
        reason: r.reason,
        message: r.message,
        ...(r.superseded_by ? { supersededBy: r.superseded_by } : {}),
        at: new Date(r.at).toISOString(),
      })),
      pendingJobs: jobs.filter((job) => job.state === "pending").length,
      deadJobs: jobs
        .filter((job) => job.state === "dead")
        .map((job) => ({ id: job.id, kind: job.kind, target: job.target, state: "dead" as const, attempts: job.attempts, ...(job.last_error ? { error: job.last_error } : {}), retry: `gitops-connector outbox retry ${job.id}` })),
    };
  }

  const writer = {
    /** In a store transaction: a reconciler's word on a commit. */
    recordReconciler(instance: string, commit: string, record: ReconcilerRecord, now: number): void {
      const seq = change("deployment", instance, commit, now);
      upsertDeployment.run(instance, commit, now, now, seq);
      upsertReconciler.run(instance, commit, record.reconciler, record.context, record.state, record.reason, record.message, record.supersededBy ?? null, now);
      restate(instance, commit);
    },
    /** In a store transaction: the orchestrator was told of the commit. */
    recordNotification(instance: string, commit: string, outcome: "succeeded" | "failed", supersededBy: string | undefined, now: number): void {
      if (selectDeployment.get(instance, commit) === null) return;
      setNotification.run(outcome, now, supersededBy ?? null, change("deployment", instance, commit, now), instance, commit);
    },
    /** In a store transaction: a job of the commit went dead (or came back): its row changed. */
    touchCommit(instance: string, commit: string, now: number): void {
      if (selectDeployment.get(instance, commit) === null) return;
      touch.run(change("deployment", instance, commit, now), instance, commit);
    },
    recordPromotion(record: PromotionRecord, now: number): void {
      upsertPromotion.run(record.instance, record.group, record.app, record.env, record.tag, record.state, record.pullRequest?.number ?? null, record.pullRequest?.url ?? null, record.commit ?? null, record.chain ? JSON.stringify(record.chain) : null, now);
      change("promotion", record.instance, record.commit, now);
    },
    prune(before: number): number {
      const deployments = pruneDeployments.run(before).changes;
      pruneReconcilers.run();
      pruneChanges.run(before);
      prunePromotions.run(before);
      return deployments;
    },
    /** Where the changes staged so far end: a savepoint that rolls back returns there (`rollbackTo`). */
    mark: (): number => staged.length,
    rollbackTo(mark: number): void {
      staged = staged.slice(0, mark);
    },
    /** After a transaction committed: tell the listeners. After one rolled back: forget. */
    flush(committed: boolean): void {
      const told = staged;
      staged = [];
      if (!committed) return;
      for (const item of told) for (const listener of listeners) listener(item);
    },
  };

  const reader: Immediate<DeploymentsReader> = {
    deployments(query) {
      return selectPage
        .all({
          instances: query.instances ? JSON.stringify(query.instances) : null,
          states: query.states ? JSON.stringify(query.states) : null,
          before: query.before ?? Number.MAX_SAFE_INTEGER,
          limit: query.limit,
        })
        .map(toStored);
    },
    deployment(instance, commit) {
      const row = selectDeployment.get(instance, commit);
      return row === null ? undefined : toStored(row);
    },
    promotions() {
      return selectPromotions.all().map((row) => ({
        instance: row.instance,
        group: row.grp,
        app: row.app,
        tag: row.tag,
        env: row.env,
        state: row.state,
        ...(row.pr !== null ? { pullRequest: { number: row.pr, url: row.url ?? "" } } : {}),
        ...(row.commit ? { commit: row.commit } : {}),
        ...(row.chain ? { chain: JSON.parse(row.chain) as string[] } : {}),
        at: new Date(row.at).toISOString(),
      }));
    },
    changesSince(seq, limit) {
      return selectChanges.all(seq, limit).map((row) => ({ seq: row.seq, at: row.at, kind: row.kind, instance: row.instance, ...(row.commit ? { commit: row.commit } : {}) }));
    },
    lastChange: () => selectLastChange.get()?.seq ?? 0,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  return { writer, reader };
}

export type ReadModel = ReturnType<typeof createReadModel>;
