/**
 * One contract for the store port, run against every driver: SQLite in memory, SQLite on a file, and PostgreSQL
 * (a fresh schema per run; test/support/postgres.ts starts a server when none is given, and fails rather than
 * skip when it cannot). Atomic submit with notify-once knowledge, coalescing, per-key order, backoff, dead and
 * retry, whole-target blocks, depth, prune, once-keys, the read model, a newer schema refused; and on PostgreSQL,
 * what replicas add: leases that expire, fencing, and claims that never overlap.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { NOTHING_KNOWN, type KnownCommit } from "../../src/core/commit-knowledge.ts";
import type { Job, OrchestratorJob, StatusJob } from "../../src/core/model.ts";
import { createPostgresOutboxStore } from "../../src/outbox/postgres-store.ts";
import { PG_SCHEMA_VERSION } from "../../src/outbox/postgres-schema.ts";
import { promised } from "../../src/outbox/promised.ts";
import { createSqliteOutboxStore } from "../../src/outbox/store.ts";
import type { OutboxStore, PlanResult } from "../../src/outbox/types.ts";
import { freshSchema, startPgBouncer } from "../support/postgres.ts";

const T0 = 1_700_000_000_000;
const GITHUB = "github:org/manifests";

function statusJob(commit: string, context = "kustomization/apps-dev", state = "Progressing", orderingKey?: string): StatusJob {
  return {
    kind: "status",
    instance: "apps-dev",
    target: GITHUB,
    orderingKey: orderingKey ?? `${GITHUB}|${commit}|${context}`,
    coalesceKey: `${GITHUB}|${commit}|${context}`,
    payload: { commit, operator: "FLUX", genre: "Kustomization", reconciler: "Kustomization/flux-system/apps-dev", status: { context, name: "Status", state, description: state }, callbackUrl: "https://example.com", statusContext: "default" },
  };
}

function orchestratorJob(commit: string): OrchestratorJob {
  return { kind: "orchestrator", instance: "apps-dev", target: "github-actions:org/app", orderingKey: `actions|${commit}`, payload: { commit, outcome: "succeeded", reconciler: "Kustomization/flux-system/apps-dev" } };
}

const plan = (jobs: Job[], known: KnownCommit = { statuses: {}, notified: ["succeeded"] }, extra: Partial<PlanResult> = {}) => (): PlanResult => ({ jobs, known, ...extra });

interface Driver {
  readonly name: string;
  open(): Promise<OutboxStore & { reopen?: () => Promise<OutboxStore> }>;
}

const schemas: { drop(): Promise<void> }[] = [];
let bouncer: { url: string; stop(): Promise<void> } | undefined;
afterAll(async () => {
  for (const schema of schemas) await schema.drop();
  await bouncer?.stop();
});

const DRIVERS: Driver[] = [
  { name: "SQLite :memory:", open: async () => promised(createSqliteOutboxStore({ path: ":memory:", now: () => T0 })) },
  {
    name: "SQLite file",
    open: async () => {
      const path = join(mkdtempSync(join(tmpdir(), "contract-")), "outbox.db");
      const store = promised(createSqliteOutboxStore({ path, now: () => T0 }));
      return Object.assign(store, { reopen: async () => { await store.close(); return promised(createSqliteOutboxStore({ path, now: () => T0 })); } });
    },
  },
  {
    name: "PostgreSQL behind PgBouncer (transaction mode, no LISTEN)",
    open: async () => {
      bouncer ??= await startPgBouncer(56432);
      const url = bouncer.url;
      // One database behind the pooler: each test starts from empty tables.
      const reset = new SQL({ url, prepare: false, max: 1 });
      await reset.unsafe("DROP TABLE IF EXISTS jobs, commits, target_blocks, once_keys, reconciler_heads, storage_probe, replicas, leases, deployments, deployment_reconcilers, promotions, changes, outbox_schema CASCADE");
      await reset.close();
      const store = await createPostgresOutboxStore({ url, now: () => T0, max: 4, listen: false });
      return Object.assign(store, { reopen: async () => { await store.close(); return createPostgresOutboxStore({ url, now: () => T0, max: 4, listen: false }); } });
    },
  },
  {
    name: "PostgreSQL",
    open: async () => {
      const schema = await freshSchema("contract");
      schemas.push(schema);
      const store = await createPostgresOutboxStore({ url: schema.url, now: () => T0, max: 4 });
      return Object.assign(store, { reopen: async () => { await store.close(); return createPostgresOutboxStore({ url: schema.url, now: () => T0, max: 4 }); } });
    },
  },
];

for (const driver of DRIVERS) {
  describe(`the store contract on ${driver.name}`, () => {
    test("a submit is atomic: a plan that throws stores nothing; knowledge is read back by the next submit, after a reopen too", async () => {
      let store = await driver.open();
      await expect(store.submit("apps-dev", "c1", () => { throw new Error("plan failed"); }, T0)).rejects.toThrow("plan failed");
      expect(await store.pendingDepth()).toBe(0);
      await store.submit("apps-dev", "c1", plan([statusJob("c1")]), T0);
      if (store.reopen) store = await store.reopen();
      const seen: KnownCommit[] = [];
      await store.submit("apps-dev", "c1", (known) => (seen.push(known), { jobs: [], known }), T0);
      expect(seen).toEqual([{ statuses: {}, notified: ["succeeded"] }]);
      expect(await store.pendingDepth()).toBe(1);
      await store.close();
    });

    test("the reporting reconciler's last finished commit is kept and moved", async () => {
      const store = await driver.open();
      const lasts: (string | undefined)[] = [];
      const finishing = (known: KnownCommit, context: { lastFinished?: string }) => (lasts.push(context.lastFinished), { jobs: [], known, finished: true });
      await store.submit("apps-dev", "a", finishing, T0, "Kustomization/flux-system/apps-dev");
      await store.submit("apps-dev", "b", finishing, T0, "Kustomization/flux-system/apps-dev");
      expect(lasts).toEqual([undefined, "a"]);
      await store.close();
    });

    test("coalescing replaces a pending job with the same key, never one being delivered", async () => {
      const store = await driver.open();
      await store.submit("apps-dev", "c1", plan([statusJob("c1", "kustomization/apps-dev", "Progressing")]), T0);
      await store.submit("apps-dev", "c1", plan([statusJob("c1", "kustomization/apps-dev", "ReconciliationSucceeded")]), T0);
      expect(await store.pendingDepth()).toBe(1);
      const [claimed] = await store.claimDue({ now: T0, limit: 10, excludeTargets: [] });
      expect((claimed!.job as StatusJob).payload.status.state).toBe("ReconciliationSucceeded");
      await store.submit("apps-dev", "c1", plan([statusJob("c1", "kustomization/apps-dev", "HealthCheckFailed")]), T0);
      expect(await store.pendingDepth()).toBe(2); // the one in flight stays; the new one waits behind it
      await store.close();
    });

    test("a claim takes no more of a target's jobs than the room it is given, and fills the rest from others", async () => {
      const store = await driver.open();
      const statuses = ["a", "b", "c", "d"].map((context) => statusJob("c1", context));
      await store.submit("apps-dev", "c1", plan([...statuses, orchestratorJob("c1"), orchestratorJob("c2")]), T0);
      const room: Record<string, number> = { [GITHUB]: 2, "github-actions:org/app": 0 };
      const first = await store.claimDue({ now: T0, limit: 10, excludeTargets: [], roomOf: (target) => room[target] ?? 10 });
      expect(first.map((job) => job.job.target)).toEqual([GITHUB, GITHUB]);
      room["github-actions:org/app"] = 1;
      const second = await store.claimDue({ now: T0, limit: 10, excludeTargets: [], roomOf: (target) => room[target] ?? 10 });
      expect(second.map((job) => job.job.target).sort()).toEqual(["github-actions:org/app", GITHUB, GITHUB]);
      // What was handed back or never taken is still there for the next claim.
      expect((await store.claimDue({ now: T0, limit: 10, excludeTargets: [] })).map((job) => job.job.target)).toEqual(["github-actions:org/app"]);
      await store.close();
    });

    test("per ordering key only the head is claimable, one at a time; other keys go on", async () => {
      const store = await driver.open();
      await store.submit("apps-dev", "c1", plan([statusJob("c1", "a", "1", "key"), statusJob("c1", "b", "2", "key"), statusJob("c1", "c", "3", "other")]), T0);
      const first = await store.claimDue({ now: T0, limit: 10, excludeTargets: [] });
      expect(first.map((job) => (job.job as StatusJob).payload.status.context).sort()).toEqual(["a", "c"]);
      expect(await store.claimDue({ now: T0, limit: 10, excludeTargets: [] })).toEqual([]);
      await store.markDone(first.find((job) => (job.job as StatusJob).payload.status.context === "a")!.id, T0);
      const next = await store.claimDue({ now: T0, limit: 10, excludeTargets: [] });
      expect(next.map((job) => (job.job as StatusJob).payload.status.context)).toEqual(["b"]);
      await store.close();
    });

    test("the read model: a deployment's state is its reconcilers' together; a finished reconciler is never marked superseded", async () => {
      const store = await driver.open();
      const record = (reconciler: string, state: "progressing" | "succeeded" | "failed" | "superseded", supersededBy?: string) =>
        ({ reconciler, context: reconciler.toLowerCase(), state, reason: state, message: state, ...(supersededBy ? { supersededBy } : {}) });
      const submit = (reconciler: string, state: "progressing" | "succeeded" | "failed" | "superseded", supersededBy?: string) =>
        store.submit("apps-dev", "c1", (known) => ({ jobs: [], known, record: record(reconciler, state, supersededBy) }), T0);
      const stateNow = async () => {
        const deployment = await store.reader.deployment("apps-dev", "c1");
        return [deployment?.state, deployment?.reconcilers.map((r) => `${r.reconciler}=${r.state}`).join(",")];
      };
      await submit("A", "progressing");
      await submit("B", "succeeded");
      expect(await stateNow()).toEqual(["progressing", "A=progressing,B=succeeded"]);
      await submit("A", "succeeded");
      expect(await stateNow()).toEqual(["succeeded", "A=succeeded,B=succeeded"]);
      await submit("B", "superseded", "c2"); // finished: stays succeeded
      await submit("C", "superseded", "c2");
      expect(await stateNow()).toEqual(["succeeded", "A=succeeded,B=succeeded,C=superseded"]);
      await submit("A", "failed");
      expect(await stateNow()).toEqual(["failed", "A=failed,B=succeeded,C=superseded"]);
      await store.close();
    });

    test("several deliveries recorded at once: each done, each key's next job its head, an orchestrator's notification read back", async () => {
      const store = await driver.open();
      const record = { reconciler: "Kustomization/flux-system/apps-dev", context: "kustomization/apps-dev", state: "succeeded" as const, reason: "ReconciliationSucceeded", message: "ok" };
      await store.submit("apps-dev", "c1", plan([statusJob("c1", "a", "1", "k1"), statusJob("c1", "b", "2", "k1"), statusJob("c1", "c", "3", "k2"), statusJob("c1", "d", "4", "k2"), orchestratorJob("c1")], NOTHING_KNOWN, { record }), T0);
      const first = await store.claimDue({ now: T0, limit: 10, excludeTargets: [] });
      expect(first.map((job) => (job.job.kind === "status" ? job.job.payload.status.context : job.job.kind)).sort()).toEqual(["a", "c", "orchestrator"]);
      await store.markDoneMany!(first.map((job) => ({ id: job.id, now: T0 + 5 })));
      expect(await store.pendingDepth()).toBe(2);
      const next = await store.claimDue({ now: T0, limit: 10, excludeTargets: [] });
      expect(next.map((job) => (job.job as StatusJob).payload.status.context).sort()).toEqual(["b", "d"]);
      expect(await store.reader.deployment("apps-dev", "c1")).toMatchObject({ notification: { outcome: "succeeded", at: T0 + 5 } });
      await store.markDoneMany!([]);
      await store.close();
    });

    test("a retry waits its backoff; a dead job is listed with its error and revived by retryDead", async () => {
      const store = await driver.open();
      await store.submit("apps-dev", "c1", plan([statusJob("c1")]), T0);
      const [job] = await store.claimDue({ now: T0, limit: 1, excludeTargets: [] });
      await store.markRetry(job!.id, T0, T0 + 5_000, "502 from GitHub");
      expect(await store.claimDue({ now: T0 + 4_999, limit: 1, excludeTargets: [] })).toEqual([]);
      expect(await store.nextDueAt()).toBe(T0 + 5_000);
      const [again] = await store.claimDue({ now: T0 + 5_000, limit: 1, excludeTargets: [] });
      expect(again).toMatchObject({ id: job!.id, attempts: 1, lastError: "502 from GitHub" });
      await store.markDead(again!.id, T0 + 5_000, "404 for good");
      expect((await store.deadJobs()).map((dead) => [dead.id, dead.lastError, dead.attempts])).toEqual([[job!.id, "404 for good", 2]]);
      expect(await store.deadCount()).toBe(1);
      expect(await store.retryDead(job!.id, T0 + 6_000)).toBe(1);
      expect((await store.claimDue({ now: T0 + 6_000, limit: 1, excludeTargets: [] })).map((j) => j.attempts)).toEqual([0]);
      await store.close();
    });

    test("a blocked target is claimed from by nobody until the block ends, and is listed meanwhile; excluded targets wait", async () => {
      const store = await driver.open();
      await store.submit("apps-dev", "c1", plan([statusJob("c1"), orchestratorJob("c1")]), T0);
      await store.blockTarget(GITHUB, T0 + 1_000);
      expect(await store.rateLimitedTargets(T0)).toEqual([{ target: GITHUB, until: T0 + 1_000, pending: 1 }]);
      expect((await store.claimDue({ now: T0, limit: 10, excludeTargets: [] })).map((job) => job.job.kind)).toEqual(["orchestrator"]);
      expect(await store.claimDue({ now: T0 + 1_000, limit: 10, excludeTargets: [GITHUB] })).toEqual([]);
      expect((await store.claimDue({ now: T0 + 1_000, limit: 10, excludeTargets: [] })).map((job) => job.job.kind)).toEqual(["status"]);
      await store.close();
    });

    test("a claim with its next look: the next due among the targets left with room; none when every slot was filled", async () => {
      const store = await driver.open();
      await store.submit("apps-dev", "c1", plan([statusJob("c1", "a"), statusJob("c1", "b"), orchestratorJob("c1")]), T0);
      const [retried] = await store.claimDue({ now: T0, limit: 1, excludeTargets: [], roomOf: (target) => (target === GITHUB ? 0 : 1) });
      await store.markRetry(retried!.id, T0, T0 + 5_000, "502 from GitHub Actions");
      // Room for one of GitHub's two statuses. What is left due of GitHub does not count (it has no room left),
      // the orchestrator's retry does.
      const first = await store.claimDueAndNext({ now: T0, limit: 4, excludeTargets: [], roomOf: () => 1 });
      expect(first.jobs.map((job) => job.job.target)).toEqual([GITHUB]);
      expect(first.nextDueAt).toBe(T0 + 5_000);
      // Every slot filled: no look is needed, none is read.
      expect(await store.claimDueAndNext({ now: T0, limit: 1, excludeTargets: [] })).toMatchObject({ nextDueAt: undefined });
      // The same answer as the two calls it stands for.
      expect((await store.claimDueAndNext({ now: T0, limit: 4, excludeTargets: [GITHUB] })).nextDueAt).toBe(await store.nextDueAt([GITHUB]));
      await store.close();
    });

    test("enqueueOnce enqueues a key once; stats and prune", async () => {
      const store = await driver.open();
      expect(await store.enqueueOnce("abandoned-pr|7", orchestratorJob("c9"), T0)).toBe(true);
      expect(await store.enqueueOnce("abandoned-pr|7", orchestratorJob("c9"), T0)).toBe(false);
      const [job] = await store.claimDue({ now: T0, limit: 1, excludeTargets: [] });
      await store.markDone(job!.id, T0);
      expect(await store.stats()).toEqual([{ kind: "orchestrator", target: "github-actions:org/app", state: "done", count: 1 }]);
      expect(await store.prune(T0 + 1, T0 + 1)).toEqual({ jobs: 1, commits: 0 });
      expect(await store.pruneOnceKeys(T0 + 1)).toBe(1);
      expect(await store.enqueueOnce("abandoned-pr|7", orchestratorJob("c9"), T0)).toBe(true);
      await store.close();
    });

    test("the read model: a submit's record, the delivered notification, listeners after commit", async () => {
      const store = await driver.open();
      const heard: number[] = [];
      store.reader.onChange((change) => heard.push(change.seq));
      const record = { reconciler: "Kustomization/flux-system/apps-dev", context: "kustomization/apps-dev", state: "succeeded" as const, reason: "ReconciliationSucceeded", message: "ok" };
      await store.submit("apps-dev", "c1", plan([orchestratorJob("c1")], NOTHING_KNOWN, { record }), T0);
      expect(heard).toEqual([1]);
      const [job] = await store.claimDue({ now: T0, limit: 1, excludeTargets: [] });
      await store.markDone(job!.id, T0 + 10);
      const deployment = await store.reader.deployment("apps-dev", "c1");
      expect(deployment).toMatchObject({ state: "succeeded", notification: { outcome: "succeeded", at: T0 + 10 }, pendingJobs: 0 });
      expect((await store.reader.deployments({ limit: 10 })).map((d) => d.commit)).toEqual(["c1"]);
      expect((await store.reader.changesSince(0, 10)).map((change) => change.seq)).toEqual([1, 2]);
      expect(await store.reader.lastChange()).toBe(2);
      await store.close();
    });
  });
}

describe("PostgreSQL replicas", () => {
  async function two(leaseMs: number) {
    const schema = await freshSchema("replicas");
    schemas.push(schema);
    let now = T0;
    const a = await createPostgresOutboxStore({ url: schema.url, holder: "a", leaseMs, now: () => now, max: 4 });
    const b = await createPostgresOutboxStore({ url: schema.url, holder: "b", leaseMs, now: () => now, max: 4 });
    return { a, b, schema, tick: (ms: number) => (now += ms), at: () => now };
  }

  test("a lease that expires lets another replica take the job; the replica that lost it cannot record a result (fencing)", async () => {
    const { a, b, at } = await two(1_000);
    await a.submit("apps-dev", "c1", plan([statusJob("c1")]), at());
    const [claimed] = await a.claimDue({ now: at(), limit: 1, excludeTargets: [] });
    expect(await b.claimDue({ now: at() + 999, limit: 1, excludeTargets: [] })).toEqual([]);
    expect(await b.nextDueAt()).toBe(at() + 1_000); // b looks again when a's lease runs out
    const [taken] = await b.claimDue({ now: at() + 1_001, limit: 1, excludeTargets: [] });
    expect(taken?.id).toBe(claimed!.id);
    expect(taken?.takenOverFrom).toBe("a"); // b's worker says so when it delivers it
    expect(claimed?.takenOverFrom).toBeUndefined();
    await a.markDone(claimed!.id, at() + 1_002); // fenced: a no longer holds it
    expect(await a.pendingDepth()).toBe(1);
    await b.markDone(taken!.id, at() + 1_003);
    expect(await a.pendingDepth()).toBe(0);
    await a.close();
    await b.close();
  });

  test("a batch of results from a replica that lost one of its leases records only the others (fencing)", async () => {
    const { a, b, at } = await two(1_000);
    await a.submit("apps-dev", "c1", plan([statusJob("c1", "x"), statusJob("c1", "y")]), at());
    const claimed = await a.claimDue({ now: at(), limit: 2, excludeTargets: [] });
    expect(claimed).toHaveLength(2);
    const [taken] = await b.claimDue({ now: at() + 1_001, limit: 1, excludeTargets: [] });
    expect(taken?.id).toBe(claimed[0]!.id);
    await a.markDoneMany!(claimed.map((job) => ({ id: job.id, now: at() + 1_002 })));
    expect(await a.pendingDepth()).toBe(1);
    await b.markDoneMany!([{ id: taken!.id, now: at() + 1_003 }]);
    expect(await a.pendingDepth()).toBe(0);
    await a.close();
    await b.close();
  });

  test("two replicas claiming at once never get the same job, and keep each key's order", async () => {
    const { a, b, at } = await two(60_000);
    const jobs = Array.from({ length: 200 }, (_, n) => statusJob(`c${n % 20}`, `ctx${n}`, "x", `key${n % 20}`));
    await a.submit("apps-dev", "bulk", plan(jobs), at());
    const delivered: { id: number; key: string; by: string }[] = [];
    const drain = async (store: typeof a, name: string) => {
      for (;;) {
        const claimed = await store.claimDue({ now: at(), limit: 5, excludeTargets: [] });
        if (claimed.length === 0) {
          if ((await store.pendingDepth()) === 0) return;
          await Bun.sleep(1);
          continue;
        }
        for (const job of claimed) {
          delivered.push({ id: job.id, key: job.job.orderingKey, by: name });
          await store.markDone(job.id, at());
        }
      }
    };
    await Promise.all([drain(a, "a"), drain(b, "b")]);
    expect(delivered.length).toBe(200);
    expect(new Set(delivered.map((entry) => entry.id)).size).toBe(200);
    expect(new Set(delivered.map((entry) => entry.by))).toEqual(new Set(["a", "b"]));
    for (const key of new Set(delivered.map((entry) => entry.key))) {
      const ids = delivered.filter((entry) => entry.key === key).map((entry) => entry.id);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    }
    await a.close();
    await b.close();
  });

  test("the scheduler's lease: one holder at a time, taken over once it expires, with a growing term; the old holder steps down", async () => {
    const { a, b, at, tick } = await two(60_000);
    const leaderOf = async (store: typeof a, holder: string, now: number) => store.tryLease("scheduler", holder, 10_000, now);
    expect(await leaderOf(a, "a", at())).toEqual({ held: true, term: 1 });
    expect(await leaderOf(b, "b", at() + 5_000)).toEqual({ held: false, term: 1 });
    expect(await leaderOf(a, "a", at() + 5_000)).toEqual({ held: true, term: 1 }); // renewed until +15 s
    tick(15_001);
    expect(await leaderOf(b, "b", at())).toEqual({ held: true, term: 2 });
    expect(await leaderOf(a, "a", at())).toEqual({ held: false, term: 2 });

    const { createLeadership } = await import("../../src/scheduler/leadership.ts");
    const { createLogger } = await import("../../src/observability/logger.ts");
    let clock = at() + 60_000;
    const first = createLeadership({ store: a, holder: "a", ttlMs: 10_000, logger: createLogger({ level: "silent" }), now: () => clock });
    const second = createLeadership({ store: b, holder: "b", ttlMs: 10_000, logger: createLogger({ level: "silent" }), now: () => clock });
    await first.renew();
    await second.renew();
    expect([first.isLeader(), second.isLeader()]).toEqual([true, false]);
    clock += 10_001; // the first stops renewing (killed, paused): its leadership ends on its own clock, and the second takes over
    expect(first.isLeader()).toBe(false);
    await second.renew();
    expect(second.isLeader()).toBe(true);
    await a.close();
    await b.close();
  });

  test("jobs another replica enqueued wake this one (NOTIFY after commit), and its read-model changes reach this one's listeners", async () => {
    const { a, b, at } = await two(60_000);
    const woken = new Promise<void>((resolve) => b.subscribeWake!(resolve));
    const heard = new Promise<number>((resolve) => b.reader.onChange((change) => resolve(change.seq)));
    await Bun.sleep(100); // LISTEN is registered asynchronously
    const record = { reconciler: "Kustomization/flux-system/apps-dev", context: "kustomization/apps-dev", state: "progressing" as const, reason: "Progressing", message: "…" };
    await a.submit("apps-dev", "c1", plan([statusJob("c1")], NOTHING_KNOWN, { record }), at());
    const timeout = (what: string) => Bun.sleep(2_000).then(() => { throw new Error(`${what} not within 2 s`); });
    await Promise.race([woken, timeout("the wake-up")]);
    expect(await Promise.race([heard, timeout("the change")])).toBe(1);
    await a.close();
    await b.close();
  });

  test("two replicas enqueueing on one ordering key at once: one head, and the key drains in id order", async () => {
    const { a, b, at } = await two(60_000);
    await Promise.all(Array.from({ length: 40 }, (_, n) => (n % 2 === 0 ? a : b).submit("apps-dev", `commit${n}`, plan([statusJob(`commit${n}`, `ctx${n}`, "x", "shared"), statusJob(`commit${n}`, `other${n}`, "x", `own${n}`)]), at())));
    const [heads] = (await a.sql`SELECT COUNT(*) AS n FROM jobs WHERE ordering_key = 'shared' AND state = 'pending' AND head`) as { n: string }[];
    expect(Number(heads!.n)).toBe(1);
    const order: number[] = [];
    for (;;) {
      const claimed = (await a.claimDue({ now: at(), limit: 50, excludeTargets: [] })).filter((job) => job.job.orderingKey === "shared");
      if (claimed.length === 0) break;
      expect(claimed.length).toBe(1);
      order.push(claimed[0]!.id);
      await a.markDone(claimed[0]!.id, at());
    }
    expect(order.length).toBe(40);
    expect(order).toEqual([...order].sort((x, y) => x - y));
    await a.close();
    await b.close();
  });

  test("a database of schema 1 (the first release with PostgreSQL) is brought up to date, its jobs kept", async () => {
    const schema = await freshSchema("upgrade");
    schemas.push(schema);
    const first = await createPostgresOutboxStore({ url: schema.url, max: 1, now: () => T0 });
    await first.submit("apps-dev", "c1", plan([statusJob("c1")]), T0);
    await first.close();
    // Back to schema 1 as it shipped: the heads index without id, no index of leased heads, default autovacuum.
    const sql = new SQL(schema.url);
    await sql.unsafe(`DROP INDEX jobs_target_heads; DROP INDEX jobs_leased;
      CREATE INDEX jobs_target_heads ON jobs (target, next_attempt_at) WHERE state = 'pending' AND head;
      ALTER TABLE jobs RESET (autovacuum_analyze_scale_factor);
      DELETE FROM outbox_schema WHERE version > 1`);
    const upgraded = await createPostgresOutboxStore({ url: schema.url, max: 1, now: () => T0 });
    const indexes = (await sql`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'jobs' AND indexname IN ('jobs_target_heads', 'jobs_leased') ORDER BY indexname`) as { indexname: string; indexdef: string }[];
    expect(indexes.map((index) => index.indexname)).toEqual(["jobs_leased", "jobs_target_heads"]);
    expect(indexes[1]!.indexdef).toContain("(target, next_attempt_at, id)");
    expect(((await sql`SELECT MAX(version) AS version FROM outbox_schema`) as { version: number }[])[0]!.version).toBe(PG_SCHEMA_VERSION);
    expect((await upgraded.claimDue({ now: T0, limit: 10, excludeTargets: [] })).map((job) => job.job.orderingKey)).toEqual([statusJob("c1").orderingKey]);
    await upgraded.close();
    await sql.close();
  });

  test("a database written by a newer gitops-connector is refused", async () => {
    const schema = await freshSchema("newer");
    schemas.push(schema);
    const store = await createPostgresOutboxStore({ url: schema.url, max: 1 });
    await store.close();
    const sql = new SQL(schema.url);
    await sql`INSERT INTO outbox_schema (version, applied_at) VALUES (${PG_SCHEMA_VERSION + 1}, ${T0})`;
    await sql.close();
    await expect(createPostgresOutboxStore({ url: schema.url, max: 1 })).rejects.toThrow(`schema version ${PG_SCHEMA_VERSION + 1}, this gitops-connector knows up to ${PG_SCHEMA_VERSION}`);
  });
});
