/**
 * Outbox enqueue throughput, alone: `store.submit()` of the plan one realistic webhook yields (the Flux
 * `Progressing` fixture through the real adapter and planner), on a fresh temp-file store in WAL mode with
 * synchronous NORMAL and FULL, and on `:memory:` as the ceiling without any file I/O. Each run submits enough
 * webhooks to fill the outbox to its default `maxDepth` (10,000 jobs), each for a distinct commit so nothing
 * is deduplicated away. A second part fills one store to 100k pending jobs and reports the files' size.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Observation } from "../src/core/model.ts";
import { translate } from "../src/operators/index.ts";
import { createSqliteOutboxStore, type SqliteOutboxStore } from "../src/outbox/store.ts";
import { planJobs, type PlanningInstance } from "../src/core/planner.ts";
import progressing from "../test/fixtures/flux/kustomization-progressing.json";
import { runAlone, type BenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, mapSummary, mebibytes, percentile, summarize, type Summary } from "./stats.ts";

export type StoreMode = "memory" | "normal" | "full";

/** One GitHub instance with one subscriber, as a typical config has it (what the planner sees of it). */
const INSTANCE: PlanningInstance = {
  name: "apps-dev",
  gitOpsAppURL: "https://github.com/contoso/gitops-manifests/commit",
  subscribers: ["spektate"],
  statusContext: "default",
  completionReconcilers: ["*"],
  gitTarget: "github:api.github.com/repos/contoso/gitops-manifests",
  orchestrator: { target: "github-actions:api.github.com/repos/contoso/app-src", policy: { once: "outcome", failures: false } },
};

/** The default outbox.maxDepth: the most jobs a running daemon lets the outbox hold. */
const DEFAULT_MAX_DEPTH = 10_000;
const GROWTH_JOBS = 100_000;
/** A run that takes longer than this stops early and reports what it did (a slow disk under FULL). */
const RUN_DEADLINE_MS = 15_000;

function fixtureObservation(): Observation {
  const translation = translate("FLUX", progressing, { statusContext: INSTANCE.statusContext, instanceName: INSTANCE.name });
  if (translation.kind !== "observation") throw new Error(`bench: the Progressing fixture did not translate: ${JSON.stringify(translation)}`);
  return translation.observation;
}

const OBSERVATION = fixtureObservation();
/** Distinct, well-formed 40-hex commits. */
const commitFor = (n: number) => `${n.toString(16).padStart(10, "0")}${OBSERVATION.commit.slice(10)}`;

export const JOBS_PER_WEBHOOK = planJobs(OBSERVATION, INSTANCE, { statuses: {}, notified: [] }).jobs.length;
export const WEBHOOK_SHAPE = `${OBSERVATION.statuses.length} status + ${Object.keys(INSTANCE.subscribers).length * OBSERVATION.statuses.length} subscriber jobs`;

interface TempStore {
  store: SqliteOutboxStore;
  dir?: string;
  /** db, -wal and -shm sizes in bytes (0 for a missing file). */
  sizes(): { db: number; wal: number; shm: number };
  dispose(): void;
}

function openStore(mode: StoreMode): TempStore {
  if (mode === "memory") {
    const store = createSqliteOutboxStore({ path: ":memory:" });
    return { store, sizes: () => ({ db: 0, wal: 0, shm: 0 }), dispose: () => store.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-bench-"));
  const path = join(dir, "outbox.db");
  const store = createSqliteOutboxStore({ path, synchronous: mode });
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  let closed = false;
  return {
    store,
    dir,
    sizes: () => ({ db: size(path), wal: size(`${path}-wal`), shm: size(`${path}-shm`) }),
    dispose() {
      if (!closed) store.close();
      closed = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface RunResult {
  webhooks: number;
  jobs: number;
  seconds: number;
  submitMs: Float64Array;
}

/** Submits up to `webhooks` webhooks (each a distinct commit) as the durable intake does, timing each. */
function submitWebhooks(store: SqliteOutboxStore, webhooks: number, firstCommit = 0): RunResult {
  const submitMs = new Float64Array(webhooks);
  let jobs = 0;
  let done = 0;
  const started = performance.now();
  const deadline = started + RUN_DEADLINE_MS;
  for (; done < webhooks; done += 1) {
    const observation = { ...OBSERVATION, commit: commitFor(firstCommit + done) };
    const before = performance.now();
    jobs += store.submit(INSTANCE.name, observation.commit, (known) => planJobs(observation, INSTANCE, known), Date.now()).length;
    const after = performance.now();
    submitMs[done] = after - before;
    if (after > deadline) {
      done += 1;
      break;
    }
  }
  return { webhooks: done, jobs, seconds: (performance.now() - started) / 1000, submitMs: submitMs.subarray(0, done) };
}

export interface EnqueueRow {
  readonly mode: StoreMode;
  readonly webhooksPerRun: number;
  readonly webhooksPerSecond: Summary;
  readonly jobsPerSecond: Summary;
  readonly submitP50Ms: Summary;
  readonly submitP99Ms: Summary;
}

export interface GrowthResult {
  readonly jobs: number;
  /** db + wal while the store is open (what a daemon with that many pending jobs has on disk). */
  readonly openBytes: Summary;
  readonly walBytes: Summary;
  /** The db alone after close (SQLite checkpoints and removes the WAL when the last connection closes). */
  readonly closedBytes: Summary;
  /** pendingDepth() (the intake's maxDepth check, run before every webhook) at that depth. */
  readonly depthCheckMs: Summary;
}

export interface EnqueueResult {
  readonly rows: readonly EnqueueRow[];
  readonly growth: GrowthResult;
  /** pendingDepth() at the default maxDepth, measured after each normal run. */
  readonly depthCheckAtMaxDepthMs: Summary;
}

function timeDepthCheck(store: SqliteOutboxStore): number {
  const samples = Array.from({ length: 20 }, () => {
    const before = performance.now();
    store.pendingDepth();
    return performance.now() - before;
  });
  return percentile(samples, 50);
}

/** Runs the throughput and growth parts; `quick` does three runs per mode instead of five. */
export function benchOutboxEnqueue(options: BenchOptions): EnqueueResult {
  const runs = options.quick ? 3 : 5;
  const fill = Math.ceil(DEFAULT_MAX_DEPTH / JOBS_PER_WEBHOOK);
  const modes: StoreMode[] = ["memory", "normal", "full"];

  // Warm-up: let the JIT compile the planner and the statement paths before anything is timed.
  const warm = openStore("memory");
  submitWebhooks(warm.store, 300);
  warm.dispose();

  const perMode = new Map<StoreMode, RunResult[]>(modes.map((mode) => [mode, []]));
  const depthChecks: number[] = [];
  // Interleaved, so a slow patch of the machine (or of the disk) spreads over every mode.
  for (let run = 1; run <= runs; run += 1) {
    for (const mode of modes) {
      const temp = openStore(mode);
      try {
        const result = submitWebhooks(temp.store, fill);
        perMode.get(mode)!.push(result);
        if (mode === "normal") depthChecks.push(timeDepthCheck(temp.store));
        options.log(`  enqueue ${mode.padEnd(6)} run ${run}/${runs}: ${result.webhooks} webhooks, ${result.jobs} jobs in ${result.seconds.toFixed(3)} s`);
      } finally {
        temp.dispose();
      }
    }
  }

  const rows = modes.map((mode): EnqueueRow => {
    const results = perMode.get(mode)!;
    return {
      mode,
      webhooksPerRun: results[0]?.webhooks ?? 0,
      webhooksPerSecond: summarize(results.map((r) => r.webhooks / r.seconds)),
      jobsPerSecond: summarize(results.map((r) => r.jobs / r.seconds)),
      submitP50Ms: summarize(results.map((r) => percentile(r.submitMs, 50))),
      submitP99Ms: summarize(results.map((r) => percentile(r.submitMs, 99))),
    };
  });

  return { rows, growth: benchGrowth(options.log), depthCheckAtMaxDepthMs: summarize(depthChecks) };
}

/** Fills a synchronous=NORMAL store to 100k pending jobs, three times; sizes do not depend on the mode. */
function benchGrowth(log: (line: string) => void): GrowthResult {
  const webhooks = Math.ceil(GROWTH_JOBS / JOBS_PER_WEBHOOK);
  const open: number[] = [];
  const wal: number[] = [];
  const closed: number[] = [];
  const depth: number[] = [];
  let jobs = 0;
  for (let run = 1; run <= 3; run += 1) {
    const temp = openStore("normal");
    try {
      const result = submitWebhooks(temp.store, webhooks);
      jobs = result.jobs;
      const sizes = temp.sizes();
      open.push(sizes.db + sizes.wal);
      wal.push(sizes.wal);
      depth.push(timeDepthCheck(temp.store));
      temp.store.close();
      closed.push(temp.sizes().db + temp.sizes().wal);
      log(`  growth run ${run}/3: ${result.jobs} jobs in ${result.seconds.toFixed(2)} s, db+wal ${sizes.db + sizes.wal} B (wal ${sizes.wal} B)`);
    } finally {
      rmSync(temp.dir!, { recursive: true, force: true });
    }
  }
  return { jobs, openBytes: summarize(open), walBytes: summarize(wal), closedBytes: summarize(closed), depthCheckMs: summarize(depth) };
}

export function formatOutboxEnqueue(result: EnqueueResult): string {
  const ms = (summary: Summary) => formatSummary(summary, 2, " ms");
  const mib = (summary: Summary) => formatSummary(mapSummary(summary, mebibytes), 1, " MiB");
  const throughput = formatTable(
    ["store", "webhooks/run", "webhooks/s", "jobs/s", "submit p50 ms", "submit p99 ms"],
    result.rows.map((row) => [
      row.mode === "memory" ? ":memory:" : `file, WAL, synchronous=${row.mode}`,
      String(row.webhooksPerRun),
      formatSummary(row.webhooksPerSecond),
      formatSummary(row.jobsPerSecond),
      formatSummary(row.submitP50Ms, 3),
      formatSummary(row.submitP99Ms, 3),
    ]),
  );
  const growth = formatTable(
    ["measure", "value"],
    [
      ["db + wal while open", mib(result.growth.openBytes)],
      ["of which wal", mib(result.growth.walBytes)],
      ["db after close (checkpointed)", mib(result.growth.closedBytes)],
      ["pendingDepth() at 100k pending", ms(result.growth.depthCheckMs)],
      ["pendingDepth() at 10k pending", ms(result.depthCheckAtMaxDepthMs)],
    ],
  );
  return (
    `${throughput}\n\n${result.rows[0]?.webhooksPerSecond.runs ?? 0} runs per store of ${result.rows[0]?.webhooksPerRun ?? 0} webhooks each, interleaved across stores.\n\n` +
    `outbox size with ${result.growth.jobs.toLocaleString("en-US")} pending jobs (${result.growth.openBytes.runs} runs):\n${growth}`
  );
}

export const outboxEnqueueSection: Section<EnqueueResult> = {
  id: "enqueue",
  title: `outbox enqueue: store.submit() of one Flux Progressing webhook = ${JOBS_PER_WEBHOOK} jobs (${WEBHOOK_SHAPE})`,
  needsBinary: false,
  run: async (options) => benchOutboxEnqueue(options),
  format: formatOutboxEnqueue,
};

if (import.meta.main) await runAlone(outboxEnqueueSection);
