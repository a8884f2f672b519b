/**
 * The outbox on PostgreSQL, one replica and two sharing it: intake alone (the fake API holds every call; wrk at
 * 16 connections in all, split across the replicas), delivery alone (10,000 statuses accepted through the first
 * replica while held, then released; both replicas deliver), and what a `kill -9` of the replica that runs the
 * scheduler costs: the time until every status it had in flight has been delivered by the other (the claim's
 * lease: 3 × `outbox.timeoutMs`, 1 s here, so 3 s) and until the other holds the scheduler's lease (15 s to live).
 * The PostgreSQL is the tests' (test/support/postgres.ts: Debian's, fsync and synchronous_commit off, so these
 * are the figures of a server that does not wait for its disk); a schema of its own per run. Compiled binary.
 */
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshSchema, postgresUrl } from "../test/support/postgres.ts";
import { isStatusPost, startFakeApi, type FakeApi, type RecordedRequest } from "../test/support/fake-api.ts";
import { benchCommit, fluxProgressing, fluxSucceeded } from "./events.ts";
import { startBenchDaemon, writeBenchConfig, type BenchConfig, type BenchDaemon } from "./harness.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, summarize, type Summary } from "./stats.ts";
import { findWrk, runWrk, writeWrkTemplate } from "./wrk.ts";

const CONNECTIONS = 16;
const TIMEOUT_MS = 1_000;
const DELIVERY_TIMEOUT_MS = 120_000;
const TAKEOVER_TIMEOUT_MS = 60_000;

export interface PostgresResult {
  readonly intake: Record<1 | 2, Summary>;
  readonly delivery: Record<1 | 2, Summary>;
  readonly jobsTakenOverMs: Summary;
  readonly schedulerTakenOverMs: Summary;
}

/** `replicas` daemons on one fresh schema and one fake API; all stopped, the schema dropped, however `body` ends. */
async function withReplicas<T>(binary: string, replicas: number, config: Omit<BenchConfig, "orgUrl" | "outboxUrl">, body: (daemons: BenchDaemon[], api: FakeApi, sql: SQL) => Promise<T>): Promise<T> {
  const schema = await freshSchema("bench");
  const api = startFakeApi();
  const sql = new SQL(schema.url);
  const daemons: BenchDaemon[] = [];
  try {
    api.hang();
    for (let n = 0; n < replicas; n++) daemons.push(await startBenchDaemon({ binary, writeConfig: (dir) => writeBenchConfig(dir, { ...config, orgUrl: api.orgUrl("org"), outboxUrl: schema.url }) }));
    return await body(daemons, api, sql);
  } finally {
    for (const daemon of daemons) await daemon.stop("SIGKILL").catch(() => undefined);
    api.unhang();
    await api.stop();
    await sql.close();
    await schema.drop();
  }
}

async function intakeRate(binary: string, replicas: 1 | 2, template: string, prefix: () => string, seconds: number): Promise<number> {
  const wrk = findWrk()!;
  return withReplicas(binary, replicas, { maxDepth: 10_000_000, timeoutMs: TIMEOUT_MS }, async (daemons, _api, sql) => {
    const share = CONNECTIONS / replicas;
    await Promise.all(daemons.map((daemon) => runWrk({ wrk, url: daemon.url, templatePath: template, prefix: prefix(), connections: share, seconds: 1 })));
    await analyze(sql);
    const runs = await Promise.all(daemons.map((daemon) => runWrk({ wrk, url: daemon.url, templatePath: template, prefix: prefix(), connections: share, seconds })));
    return runs.reduce((sum, run) => sum + run.okPerSecond, 0);
  });
}

/**
 * A table created seconds ago has no statistics, and PostgreSQL plans the coalescing DELETE as a scan of every
 * job until autovacuum's ANALYZE runs (within a minute or so of the first thousands of rows, in production):
 * measured, 176 submits/s before and 780 after. The bench runs that ANALYZE itself, after the warm-up.
 */
async function analyze(sql: SQL): Promise<void> {
  await sql`ANALYZE`;
}

/** Posts the events through one replica, `senders` at a time; the jobs it planned. */
async function fill(url: string, bodies: readonly Record<string, unknown>[], senders = 16): Promise<number> {
  let next = 0;
  let jobs = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < bodies.length) {
        const response = await fetch(`${url}/gitopsphase`, { method: "POST", body: JSON.stringify(bodies[next++]), headers: { "content-type": "application/json" } });
        const body = (await response.json()) as { jobs?: number };
        if (response.status !== 202) throw new Error(`postgres bench: a webhook answered ${response.status}: ${JSON.stringify(body)}`);
        jobs += body.jobs ?? 0;
      }
    }),
  );
  return jobs;
}

const delivered = (request: RecordedRequest) => isStatusPost(request) && request.answeredWith === 201;

async function deliveryRate(binary: string, replicas: 1 | 2, run: number, events: number): Promise<number> {
  return withReplicas(binary, replicas, { maxDepth: 1_000_000, timeoutMs: 10_000 }, async (daemons, api, sql) => {
    const planned = await fill(daemons[0]!.url, Array.from({ length: events }, (_, n) => fluxProgressing(benchCommit(0x300 + run * 2 + replicas, n))));
    await analyze(sql);
    const started = performance.now();
    api.unhang();
    await api.waitForCount(planned, delivered, DELIVERY_TIMEOUT_MS);
    return (planned * 1000) / (performance.now() - started);
  });
}

async function takeover(binary: string, run: number): Promise<{ jobsMs: number; schedulerMs: number }> {
  return withReplicas(binary, 2, { maxDepth: 100_000, timeoutMs: TIMEOUT_MS }, async (daemons, api, sql) => {
    const holderOf = async () => ((await sql`SELECT holder FROM leases WHERE name = 'scheduler'`) as { holder: string }[])[0]?.holder ?? "";
    const pidOf = (holder: string) => Number(holder.split(":")[1]);
    // The scheduler's first lease is taken at start-up: the replica that holds it is the one killed.
    const waitingSince = Date.now();
    for (;;) {
      const holder = pidOf(await holderOf());
      if (daemons.some((daemon) => daemon.pid === holder)) break;
      if (Date.now() - waitingSince > TAKEOVER_TIMEOUT_MS) throw new Error("postgres bench: no replica took the scheduler's lease");
      await Bun.sleep(20); // a lease row has no event to wait for: polled every 20 ms
    }
    const leaderPid = pidOf(await holderOf());
    const victim = daemons.find((daemon) => daemon.pid === leaderPid)!;
    const survivor = daemons.find((daemon) => daemon !== victim)!;
    // Progressing events: statuses only (a finish would add the reconciler's serial supersede read).
    const planned = await fill(survivor.url, Array.from({ length: 40 }, (_, n) => fluxProgressing(benchCommit(0x400 + run, n))));
    // Both replicas have their share in flight (held at the fake): 4 each for the one repository.
    await api.waitForCount(8, isStatusPost, TAKEOVER_TIMEOUT_MS);
    await victim.stop("SIGKILL", { keepDir: true });
    const killedAt = performance.now();
    api.unhang();
    const jobsDone = api.waitForCount(planned, delivered, TAKEOVER_TIMEOUT_MS).then(() => performance.now() - killedAt);
    let schedulerMs = Number.NaN;
    while (performance.now() - killedAt < TAKEOVER_TIMEOUT_MS) {
      if (pidOf(await holderOf()) === survivor.pid) {
        schedulerMs = performance.now() - killedAt;
        break;
      }
      await Bun.sleep(20); // a lease row has no event to wait for: polled every 20 ms
    }
    victim.cleanup();
    return { jobsMs: await jobsDone, schedulerMs };
  });
}

export async function measurePostgres(options: DaemonBenchOptions): Promise<PostgresResult | undefined> {
  if (findWrk() === undefined) {
    options.log("wrk not installed (apt-get install wrk): PostgreSQL figures skipped");
    return undefined;
  }
  try {
    postgresUrl();
  } catch (error) {
    options.log(`PostgreSQL figures skipped: ${(error as Error).message}`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-postgres-"));
  const template = writeWrkTemplate(dir, "success", fluxSucceeded);
  let prefix = 0x30000000;
  const nextPrefix = () => (prefix++).toString(16);
  const runs = 3;
  const seconds = options.quick ? 2 : 4;
  const events = options.quick ? 1_000 : 2_000;
  const intake: Record<1 | 2, number[]> = { 1: [], 2: [] };
  const delivery: Record<1 | 2, number[]> = { 1: [], 2: [] };
  const jobs: number[] = [];
  const scheduler: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      for (const replicas of [1, 2] as const) {
        intake[replicas].push(await intakeRate(options.binary, replicas, template, nextPrefix, seconds));
        delivery[replicas].push(await deliveryRate(options.binary, replicas, run, events));
        options.log(`postgres run ${run + 1}/${runs}, ${replicas} replica(s): intake ${Math.round(intake[replicas].at(-1)!)} req/s, delivery ${Math.round(delivery[replicas].at(-1)!)} statuses/s`);
      }
      const taken = await takeover(options.binary, run);
      jobs.push(taken.jobsMs);
      scheduler.push(taken.schedulerMs);
      options.log(`postgres run ${run + 1}/${runs}, kill -9 of the scheduler's replica: its jobs delivered by the other after ${(taken.jobsMs / 1000).toFixed(2)} s, scheduler taken over after ${(taken.schedulerMs / 1000).toFixed(2)} s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    intake: { 1: summarize(intake[1]), 2: summarize(intake[2]) },
    delivery: { 1: summarize(delivery[1]), 2: summarize(delivery[2]) },
    jobsTakenOverMs: summarize(jobs),
    schedulerTakenOverMs: summarize(scheduler),
  };
}

const seconds = (summary: Summary): Summary => ({ ...summary, median: summary.median / 1000, min: summary.min / 1000, max: summary.max / 1000 });

export const postgresSection: Section<PostgresResult | undefined> = {
  id: "postgres",
  title: "the outbox on PostgreSQL: intake and delivery with 1 and 2 replicas, kill -9 of one",
  needsBinary: true,
  run: measurePostgres,
  format: (result) =>
    result === undefined
      ? "postgres: skipped (no wrk or no PostgreSQL; see above)"
      : formatTable(
          ["figure", "1 replica", "2 replicas"],
          [
            [`intake, delivery paused: webhooks/s at c=${CONNECTIONS} in all`, formatSummary(result.intake[1], 0), formatSummary(result.intake[2], 0)],
            ["delivery from a full outbox: statuses/s", formatSummary(result.delivery[1], 0), formatSummary(result.delivery[2], 0)],
            [`kill -9: its in-flight jobs delivered by the other (lease 3 × ${TIMEOUT_MS} ms)`, "", formatSummary(seconds(result.jobsTakenOverMs), 2, " s")],
            ["kill -9: the other runs the scheduler (lease 15 s)", "", formatSummary(seconds(result.schedulerTakenOverMs), 2, " s")],
          ],
        ),
};

if (import.meta.main) await runAlone(postgresSection);
