/**
 * The deployments read model on PostgreSQL: the same records as src/outbox/read-model.ts, written with the
 * transaction handle of the store's own transactions, read through the pool. Changes are told to this
 * process's listeners after commit and, through NOTIFY, to every other replica's.
 */
import type { SQL } from "bun";
import {
  deploymentStateOf,
  type Change,
  type DeploymentsReader,
  type DeploymentState,
  type PromotionRecord,
  type PromotionView,
  type ReconcilerRecord,
  type ReconcilerState,
  type StoredDeployment,
} from "../core/deployments.ts";

type Tx = SQL;

interface DeploymentRow {
  instance: string;
  commit: string;
  state: DeploymentState;
  first_seen: string;
  last_seen: string;
  changed: string;
  superseded_by: string | null;
  notified_outcome: "succeeded" | "failed" | null;
  notified_at: string | null;
  notified_superseded_by: string | null;
}

export function createPostgresReadModel(sql: SQL) {
  const listeners = new Set<(change: Change) => void>();

  async function change(tx: Tx, kind: Change["kind"], instance: string, commit: string | undefined, now: number, staged: Change[]): Promise<number> {
    const [row] = (await tx`INSERT INTO changes (at, kind, instance, "commit") VALUES (${now}, ${kind}, ${instance}, ${commit ?? null}) RETURNING seq`) as { seq: string }[];
    const seq = Number(row!.seq);
    staged.push({ seq, at: now, kind, instance, ...(commit ? { commit } : {}) });
    return seq;
  }

  async function toStored(row: DeploymentRow): Promise<StoredDeployment> {
    const [reconcilers, jobs] = await Promise.all([
      sql`SELECT reconciler, context, state, reason, message, superseded_by, at FROM deployment_reconcilers WHERE instance = ${row.instance} AND "commit" = ${row.commit} ORDER BY reconciler` as Promise<
        { reconciler: string; context: string; state: ReconcilerState; reason: string; message: string; superseded_by: string | null; at: string }[]
      >,
      sql`SELECT id, kind, target, state, attempts, last_error FROM jobs WHERE instance = ${row.instance} AND "commit" = ${row.commit} AND state <> 'done' ORDER BY id` as Promise<
        { id: string; kind: string; target: string; state: "pending" | "dead"; attempts: number; last_error: string | null }[]
      >,
    ]);
    return {
      instance: row.instance,
      commit: row.commit,
      state: row.state,
      firstSeen: Number(row.first_seen),
      lastSeen: Number(row.last_seen),
      changed: Number(row.changed),
      ...(row.superseded_by ? { supersededBy: row.superseded_by } : {}),
      ...(row.notified_outcome && row.notified_at !== null
        ? { notification: { outcome: row.notified_outcome, at: Number(row.notified_at), ...(row.notified_superseded_by ? { supersededBy: row.notified_superseded_by } : {}) } }
        : {}),
      reconcilers: reconcilers.map((r) => ({
        reconciler: r.reconciler,
        context: r.context,
        state: r.state,
        reason: r.reason,
        message: r.message,
        ...(r.superseded_by ? { supersededBy: r.superseded_by } : {}),
        at: new Date(Number(r.at)).toISOString(),
      })),
      pendingJobs: jobs.filter((job) => job.state === "pending").length,
      deadJobs: jobs
        .filter((job) => job.state === "dead")
        .map((job) => ({ id: Number(job.id), kind: job.kind, target: job.target, state: "dead" as const, attempts: job.attempts, ...(job.last_error ? { error: job.last_error } : {}), retry: `gitops-connector outbox retry ${job.id}` })),
    };
  }

  const writer = {
    // Three round trips, not five (the change row with the deployment's, the reconciler's row with the states
    // the deployment's state is made of): a webhook's record is most of what intake writes on PostgreSQL.
    async recordReconciler(tx: Tx, staged: Change[], instance: string, commit: string, record: ReconcilerRecord, now: number): Promise<void> {
      const [row] = (await tx`
        WITH ch AS (INSERT INTO changes (at, kind, instance, "commit") VALUES (${now}, 'deployment', ${instance}, ${commit}) RETURNING seq),
        d AS (INSERT INTO deployments (instance, "commit", first_seen, last_seen, state, changed) SELECT ${instance}, ${commit}, ${now}, ${now}, 'pending', seq FROM ch
              ON CONFLICT (instance, "commit") DO UPDATE SET last_seen = excluded.last_seen, changed = excluded.changed)
        SELECT seq FROM ch`) as { seq: string }[];
      staged.push({ seq: Number(row!.seq), at: now, kind: "deployment", instance, commit });
      // A finished reconciler is never overwritten by "superseded"; the states read back are the rows as they are
      // after this upsert (a data-modifying CTE's own rows are seen only through its RETURNING).
      const rows = (await tx`
        WITH up AS (
          INSERT INTO deployment_reconcilers (instance, "commit", reconciler, context, state, reason, message, superseded_by, at)
          VALUES (${instance}, ${commit}, ${record.reconciler}, ${record.context}, ${record.state}, ${record.reason}, ${record.message}, ${record.supersededBy ?? null}, ${now})
          ON CONFLICT (instance, "commit", reconciler) DO UPDATE SET context = excluded.context, state = excluded.state, reason = excluded.reason,
            message = excluded.message, superseded_by = excluded.superseded_by, at = excluded.at
          WHERE (deployment_reconcilers.state <> 'succeeded' AND deployment_reconcilers.state <> 'failed') OR excluded.state <> 'superseded'
          RETURNING reconciler, state, superseded_by)
        SELECT state, superseded_by FROM up
        UNION ALL
        SELECT r.state, r.superseded_by FROM deployment_reconcilers r
        WHERE r.instance = ${instance} AND r."commit" = ${commit} AND r.reconciler NOT IN (SELECT reconciler FROM up)`) as { state: ReconcilerState; superseded_by: string | null }[];
      const state = deploymentStateOf(rows.map((reconciler) => reconciler.state));
      const supersededBy = state === "superseded" ? (rows.find((reconciler) => reconciler.superseded_by !== null)?.superseded_by ?? null) : null;
      await tx`UPDATE deployments SET state = ${state}, superseded_by = ${supersededBy} WHERE instance = ${instance} AND "commit" = ${commit}`;
    },
    async recordNotification(tx: Tx, staged: Change[], instance: string, commit: string, outcome: "succeeded" | "failed", supersededBy: string | undefined, now: number): Promise<void> {
      const [exists] = await tx`SELECT 1 FROM deployments WHERE instance = ${instance} AND "commit" = ${commit}`;
      if (exists === undefined) return;
      const seq = await change(tx, "deployment", instance, commit, now, staged);
      await tx`UPDATE deployments SET notified_outcome = ${outcome}, notified_at = ${now}, notified_superseded_by = ${supersededBy ?? null}, changed = ${seq} WHERE instance = ${instance} AND "commit" = ${commit}`;
    },
    async touchCommit(tx: Tx, staged: Change[], instance: string, commit: string, now: number): Promise<void> {
      const [exists] = await tx`SELECT 1 FROM deployments WHERE instance = ${instance} AND "commit" = ${commit}`;
      if (exists === undefined) return;
      const seq = await change(tx, "deployment", instance, commit, now, staged);
      await tx`UPDATE deployments SET changed = ${seq} WHERE instance = ${instance} AND "commit" = ${commit}`;
    },
    async recordPromotion(tx: Tx, staged: Change[], record: PromotionRecord, now: number): Promise<void> {
      await tx`INSERT INTO promotions (instance, grp, app, env, tag, state, pr, url, "commit", chain, at)
               VALUES (${record.instance}, ${record.group}, ${record.app}, ${record.env}, ${record.tag}, ${record.state}, ${record.pullRequest?.number ?? null},
                       ${record.pullRequest?.url ?? null}, ${record.commit ?? null}, ${record.chain ? JSON.stringify(record.chain) : null}, ${now})
               ON CONFLICT (instance, grp, app, env) DO UPDATE SET tag = excluded.tag, state = excluded.state, pr = excluded.pr, url = excluded.url,
                 "commit" = excluded."commit", chain = COALESCE(excluded.chain, promotions.chain), at = excluded.at`;
      await change(tx, "promotion", record.instance, record.commit, now, staged);
    },
    async prune(tx: Tx, before: number): Promise<number> {
      const deleted = await tx`DELETE FROM deployments WHERE last_seen < ${before} RETURNING 1`;
      await tx`DELETE FROM deployment_reconcilers r WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.instance = r.instance AND d."commit" = r."commit")`;
      await tx`DELETE FROM changes WHERE at < ${before}`;
      await tx`DELETE FROM promotions WHERE at < ${before}`;
      return deleted.length;
    },
    /** After a transaction committed: tell this process's listeners. */
    tell(changes: readonly Change[]): void {
      for (const item of changes) for (const listener of listeners) listener(item);
    },
  };

  const reader: DeploymentsReader = {
    async deployments(query) {
      const rows = (await sql`SELECT instance, "commit", state, first_seen, last_seen, changed, superseded_by, notified_outcome, notified_at, notified_superseded_by
        FROM deployments
        WHERE first_seen < ${query.before ?? Number.MAX_SAFE_INTEGER}
          AND (${query.instances ? JSON.stringify(query.instances) : null}::jsonb IS NULL OR instance IN (SELECT jsonb_array_elements_text(${query.instances ? JSON.stringify(query.instances) : null}::jsonb)))
          AND (${query.states ? JSON.stringify(query.states) : null}::jsonb IS NULL OR state IN (SELECT jsonb_array_elements_text(${query.states ? JSON.stringify(query.states) : null}::jsonb)))
        ORDER BY first_seen DESC, instance, "commit" LIMIT ${query.limit}`) as DeploymentRow[];
      return Promise.all(rows.map(toStored));
    },
    async deployment(instance, commit) {
      const [row] = (await sql`SELECT instance, "commit", state, first_seen, last_seen, changed, superseded_by, notified_outcome, notified_at, notified_superseded_by
        FROM deployments WHERE instance = ${instance} AND "commit" = ${commit}`) as DeploymentRow[];
      return row === undefined ? undefined : toStored(row);
    },
    async promotions(): Promise<PromotionView[]> {
      const rows = (await sql`SELECT instance, grp, app, env, tag, state, pr, url, "commit", chain, at FROM promotions ORDER BY instance, grp, app, env`) as {
        instance: string; grp: string; app: string; env: string; tag: string; state: PromotionView["state"]; pr: number | null; url: string | null; commit: string | null; chain: string | null; at: string;
      }[];
      return rows.map((row) => ({
        instance: row.instance,
        group: row.grp,
        app: row.app,
        tag: row.tag,
        env: row.env,
        state: row.state,
        ...(row.pr !== null ? { pullRequest: { number: row.pr, url: row.url ?? "" } } : {}),
        ...(row.commit ? { commit: row.commit } : {}),
        ...(row.chain ? { chain: JSON.parse(row.chain) as string[] } : {}),
        at: new Date(Number(row.at)).toISOString(),
      }));
    },
    async changesSince(seq, limit) {
      const rows = (await sql`SELECT seq, at, kind, instance, "commit" FROM changes WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`) as { seq: string; at: string; kind: Change["kind"]; instance: string; commit: string | null }[];
      return rows.map((row) => ({ seq: Number(row.seq), at: Number(row.at), kind: row.kind, instance: row.instance, ...(row.commit ? { commit: row.commit } : {}) }));
    },
    async lastChange() {
      const [row] = (await sql`SELECT MAX(seq) AS seq FROM changes`) as { seq: string | null }[];
      return Number(row?.seq ?? 0);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  return { writer, reader };
}
