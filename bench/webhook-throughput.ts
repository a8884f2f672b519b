/**
 * Webhook throughput of the real daemon (compiled binary, durable outbox: SQLite file, synchronous normal, log
 * level info) against a fake GitHub API in this process that answers at once, next to the limit: a trivial
 * `Bun.serve` (bench/limit-server.ts) that parses the same JSON and answers 200. Load comes from wrk
 * (bench/wrk.ts), closed-loop at 1 and 16 connections, one thread. Every request carries a distinct commit,
 * since a repeated event for a commit would measure the daemon's dedup shortcut. Per daemon run: fresh fake API
 * and daemon, one probe event (how many statuses an event plans), 1 s unmeasured warm-up, the measured wrk run,
 * then the backlog is drained. Daemon and limit runs alternate, so noise hits both. The tables are in
 * bench/webhook-throughput-report.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { isStatusPost, type FakeApi } from "../test/support/fake-api.ts";
import { postEvent, scrapeMetrics, sumMetric } from "./daemon-client.ts";
import { fluxProgressing, fluxSucceeded } from "./events.ts";
import { processCpuMs, withBenchDaemon, type BenchDaemon } from "./harness.ts";
import { startLimitServer, type LimitServer } from "./limit-server.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { mebibytes } from "./stats.ts";
import { formatWebhookThroughput, percent, type DaemonRun, type EventKind, type LimitRun, type ThroughputCell, type ThroughputResult } from "./webhook-throughput-report.ts";
import { findWrk, runWrk, writeWrkTemplate, wrkStyleCommit, type WrkRun } from "./wrk.ts";

const RUNS = 3;
const CONNECTIONS = [1, 16] as const;
const WARMUP_SECONDS = 1;
const DRAIN_TIMEOUT_MS = 30_000;
const DRAIN_POLL_MS = 50;

const EVENTS = [
  { kind: "success", label: "Flux ReconciliationSucceeded", body: fluxSucceeded },
  { kind: "progressing", label: "Flux Progressing, 4-line change-set", body: fluxProgressing },
] as const satisfies readonly { readonly kind: EventKind; readonly label: string; readonly body: unknown }[];

/** The daemon's own counts, from GET /metrics. */
interface DaemonCounters {
  readonly accepted: number;
  readonly unavailable: number;
  readonly plannedStatuses: number;
  readonly depth: number;
}

async function readCounters(daemon: BenchDaemon): Promise<DaemonCounters> {
  const text = await scrapeMetrics(daemon.url);
  return {
    accepted: sumMetric(text, "gitops_connector_webhooks_total", 'result="accepted"'),
    unavailable: sumMetric(text, "gitops_connector_webhooks_total", 'result="unavailable"'),
    plannedStatuses: sumMetric(text, "gitops_connector_jobs_planned_total", 'kind="status"'),
    depth: sumMetric(text, "gitops_connector_outbox_depth"),
  };
}

/** Waits until the outbox is empty and `delivered()` has reached the statuses planned since `since`. */
async function drain(daemon: BenchDaemon, since: DaemonCounters, delivered: () => number, statusesPerEvent: number) {
  const started = performance.now();
  for (;;) {
    const now = await readCounters(daemon);
    const planned = (now.accepted - since.accepted) * statusesPerEvent;
    const elapsed = performance.now() - started;
    if (now.depth === 0 && delivered() >= planned) return { counters: now, drainMs: elapsed };
    if (elapsed > DRAIN_TIMEOUT_MS) return { counters: now, drainMs: undefined };
    await Bun.sleep(DRAIN_POLL_MS);
  }
}

/** State shared by the runs of one benchmark: the tools, the body templates and the phase counter. */
interface Context {
  readonly wrk: string;
  readonly binary: string;
  readonly seconds: number;
  readonly templates: Readonly<Record<EventKind, string>>;
  nextPrefix(): string;
}

/** Fresh fake API and daemon: probe event, warm-up, measured run, drain. A failure says in which phase, with the daemon's last output. */
async function runDaemon(context: Context, event: EventKind, connections: number): Promise<DaemonRun> {
  const deliveredByPrefix = new Map<string, number>();
  const countStatuses = (api: FakeApi) =>
    api.setHandler((request) => {
      if (isStatusPost(request)) {
        const prefix = request.path.slice(request.path.lastIndexOf("/") + 1).slice(0, 8);
        deliveredByPrefix.set(prefix, (deliveredByPrefix.get(prefix) ?? 0) + 1);
      }
      return undefined; // the default answer: 201 at once
    });
  return withBenchDaemon({ binary: context.binary, prepareApi: countStatuses }, async (running) => {
    let phase = "probe";
    try {
      const delivered = (prefix: string) => () => deliveredByPrefix.get(prefix) ?? 0;
      const wrkOptions = { wrk: context.wrk, url: running.url, templatePath: context.templates[event], connections };

      const start = await readCounters(running);
      const probePrefix = context.nextPrefix();
      const probe = await postEvent(running.url, EVENTS.find((candidate) => candidate.kind === event)!.body(wrkStyleCommit(probePrefix)));
      if (probe.status !== "202") throw new Error(`bench: the probe ${event} event got ${probe.status}`);
      const statusesPerEvent = (await readCounters(running)).plannedStatuses - start.plannedStatuses;

      phase = "warm-up";
      const warmupPrefix = context.nextPrefix();
      await runWrk({ ...wrkOptions, prefix: warmupPrefix, seconds: WARMUP_SECONDS });
      const warm = await drain(running, start, () => delivered(probePrefix)() + delivered(warmupPrefix)(), statusesPerEvent);
      if (warm.drainMs === undefined) throw new Error(`bench: the warm-up backlog did not drain within ${DRAIN_TIMEOUT_MS} ms`);

      phase = "measured run";
      const prefix = context.nextPrefix();
      const daemonCpuBefore = running.cpuMs();
      const ownCpuBefore = process.cpuUsage();
      const wrk = await runWrk({ ...wrkOptions, prefix, seconds: context.seconds });
      const deliveredAtEnd = delivered(prefix)();
      const daemonCpuMs = running.cpuMs() - daemonCpuBefore;
      const ownCpu = process.cpuUsage(ownCpuBefore);
      phase = "drain";
      const drained = await drain(running, warm.counters, delivered(prefix), statusesPerEvent);
      const accepted = drained.counters.accepted - warm.counters.accepted;
      return {
        wrk,
        statusesPerEvent,
        accepted,
        unavailable: drained.counters.unavailable - warm.counters.unavailable,
        planned: accepted * statusesPerEvent,
        plannedByDaemon: drained.counters.plannedStatuses - warm.counters.plannedStatuses,
        deliveredAtEnd,
        drainMs: drained.drainMs,
        daemonCpuShare: daemonCpuMs / wrk.wallMs,
        fakeApiCpuShare: (ownCpu.user + ownCpu.system) / 1000 / wrk.wallMs,
        peakRssBytes: running.memory().peak,
      };
    } catch (error) {
      const output = running.output();
      const stopped = await running.stop();
      throw new Error(
        `bench: ${event} c=${connections}, ${phase}: ${(error as Error).message} (daemon stopped with exit code ${stopped.code})\n` +
          `--- daemon output (end) ---\n${output.slice(-2_000)}`,
        { cause: error },
      );
    }
  });
}

async function runLimit(context: Context, limit: LimitServer, event: EventKind, connections: number): Promise<LimitRun> {
  const cpuBefore = processCpuMs(limit.pid);
  const wrk = await runWrk({ wrk: context.wrk, url: limit.url, templatePath: context.templates[event], prefix: context.nextPrefix(), connections, seconds: context.seconds });
  return { wrk, serverCpuShare: (processCpuMs(limit.pid) - cpuBefore) / wrk.wallMs };
}

/** `RUNS` rounds over events × connections, daemon and limit alternating first; wrk runs of 5 s (2 s quick). */
export async function benchWebhookThroughput(options: DaemonBenchOptions): Promise<ThroughputResult> {
  const wrk = findWrk();
  if (wrk === undefined) return { kind: "skipped", reason: "wrk not found on PATH; install Debian's wrk: apt-get install wrk" };
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-bench-throughput-"));
  try {
    const templates = Object.fromEntries(EVENTS.map((event) => [event.kind, writeWrkTemplate(dir, event.kind, event.body)])) as Record<EventKind, string>;
    let phase = 0;
    const context: Context = { wrk, binary: options.binary, seconds: options.quick ? 2 : 5, templates, nextPrefix: () => (++phase).toString(16).padStart(8, "0") };
    const cells: ThroughputCell[] = EVENTS.flatMap((event) => CONNECTIONS.map((connections) => ({ event: event.kind, label: event.label, connections, daemon: [], limit: [] })));

    for (let run = 1; run <= RUNS; run += 1) {
      const limit = await startLimitServer();
      try {
        await runWrk({ wrk, url: limit.url, templatePath: templates.success, prefix: context.nextPrefix(), connections: 16, seconds: WARMUP_SECONDS });
        for (const cell of cells) {
          const tag = `  throughput run ${run}/${RUNS} ${cell.event} c=${cell.connections}`;
          const measureDaemon = async () => {
            const result = await runDaemon(context, cell.event, cell.connections);
            cell.daemon.push(result);
            options.log(
              `${tag} daemon: ${Math.round(result.wrk.okPerSecond)} req/s, p99 ${result.wrk.p99Ms.toFixed(2)} ms, ${result.wrk.non2xx} non-2xx, ${result.unavailable} × 503 by the daemon's count, ` +
                `${result.wrk.socketErrors} socket errors, wrk CPU ${percent(result.wrk.generatorCpuShare)}, daemon CPU ${percent(result.daemonCpuShare)}, ` +
                `fake API CPU ${percent(result.fakeApiCpuShare)}, delivered ${result.deliveredAtEnd}/${result.planned} at end, ` +
                `drained ${result.drainMs === undefined ? `not within ${DRAIN_TIMEOUT_MS / 1000} s` : `in ${(result.drainMs / 1000).toFixed(2)} s`}, peak RSS ${mebibytes(result.peakRssBytes).toFixed(0)} MiB`,
            );
          };
          const measureLimit = async () => {
            const result = await runLimit(context, limit, cell.event, cell.connections);
            cell.limit.push(result);
            options.log(
              `${tag} limit:  ${Math.round(result.wrk.okPerSecond)} req/s, p99 ${result.wrk.p99Ms.toFixed(2)} ms, ${result.wrk.non2xx} non-2xx, ` +
                `wrk CPU ${percent(result.wrk.generatorCpuShare)}, server CPU ${percent(result.serverCpuShare)}`,
            );
          };
          // Alternate which goes first, so a drift during the round hits both equally.
          for (const measure of run % 2 === 1 ? [measureDaemon, measureLimit] : [measureLimit, measureDaemon]) await measure();
        }
      } finally {
        await limit.stop();
      }
    }
    const load = { start: loadAtStart, end: loadavg()[0]!, cpus: availableParallelism() };
    return { kind: "measured", seconds: context.seconds, warmupSeconds: WARMUP_SECONDS, drainTimeoutMs: DRAIN_TIMEOUT_MS, runs: RUNS, cells, totalSeconds: (performance.now() - started) / 1000, load };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const webhookThroughputSection: Section<ThroughputResult> = {
  id: "throughput",
  title: "webhook throughput: POST /gitopsphase req/s with wrk, next to a bare Bun.serve that parses the same JSON (the limit)",
  needsBinary: true,
  run: benchWebhookThroughput,
  format: formatWebhookThroughput,
};

if (import.meta.main) await runAlone(webhookThroughputSection);
