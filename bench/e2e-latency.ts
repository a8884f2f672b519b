/**
 * End-to-end latency of the real daemon: webhook POST → commit status arriving at a loopback fake GitHub API.
 * The daemon is the compiled binary started by the bench harness (network delivery, orchestrator NONE, no
 * subscribers, default outbox settings, log level info); the fake API and the sender share this process, so
 * send and arrival times are read from one clock (performance.now()). Events are Flux
 * `ReconciliationSucceeded` for distinct commits, one status each, sent open-loop at a fixed rate: a slow
 * answer never delays the next send, so queueing shows up in the figures instead of lowering the rate.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { isStatusPost, type FakeApi } from "../test/support/fake-api.ts";
import { postEvent } from "./daemon-client.ts";
import { benchCommit, fluxSucceeded } from "./events.ts";
import { withBenchDaemon } from "./harness.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, percentile, summarize, type Summary } from "./stats.ts";
import { TARGETS } from "./limits.ts";

const RUNS = 3;
const WARMUP_EVENTS = 50;
/** Keeps the warm-up's commits apart from every measured run's. */
const WARMUP_RUN_BASE = 0xff00;
/** How long a run waits for the last statuses after the last send before giving up on the stragglers. */
const DRAIN_TIMEOUT_MS = 20_000;

/**
 * The WAL header's checkpoint sequence number (https://www.sqlite.org/fileformat.html#the_write_ahead_log):
 * it goes up by one each time a checkpoint has emptied the WAL and a writer starts it over. 0 when absent.
 */
function walCheckpointSequence(outboxPath: string): number {
  try {
    const fd = openSync(`${outboxPath}-wal`, "r");
    try {
      const header = Buffer.alloc(16);
      return readSync(fd, header, 0, 16, 0) === 16 ? header.readUInt32BE(12) : 0;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

interface Sent {
  at: number;
  answeredAt?: number;
  status?: string;
}

export interface LatencyRun {
  readonly events: number;
  /** Events per second actually achieved by the sender. */
  readonly rate: number;
  readonly accepted: number;
  readonly delivered: number;
  readonly deliveryMs: Float64Array;
  readonly responseMs: Float64Array;
  /** WAL checkpoints the daemon ran during the measured part (each one fsyncs and stalls its event loop). */
  readonly checkpoints: number;
}

/** One daemon, `WARMUP_EVENTS` unmeasured events, then `events` paced at `ratePerSecond`. */
async function runOnce(binary: string, run: number, events: number, ratePerSecond: number): Promise<LatencyRun> {
  const arrivals = new Map<string, number>();
  const recordArrivals = (api: FakeApi) =>
    api.setHandler((request) => {
      if (isStatusPost(request)) arrivals.set(request.path.split("/").pop()!, performance.now());
      return undefined; // the default 201 answer
    });
  return withBenchDaemon({ binary, prepareApi: recordArrivals }, async (daemon, api) => {
    const outbox = join(daemon.dir, "outbox.db");
    const warmup = Array.from({ length: WARMUP_EVENTS }, (_, n) => benchCommit(WARMUP_RUN_BASE + run, n));
    for (const commit of warmup) await postEvent(daemon.url, fluxSucceeded(commit));
    await api.waitForCount(warmup.length, isStatusPost, DRAIN_TIMEOUT_MS);

    const checkpointsBefore = walCheckpointSequence(outbox);
    const sent = new Map<string, Sent>();
    const answers: Promise<void>[] = [];
    const intervalMs = 1000 / ratePerSecond;
    const started = performance.now();
    for (let n = 0; n < events; n += 1) {
      const due = started + n * intervalMs;
      const wait = due - performance.now();
      // No busy-wait for the sub-millisecond rest: it would stall the fake API, which shares this event loop.
      if (wait > 0) await Bun.sleep(wait);
      const commit = benchCommit(run, n);
      const record: Sent = { at: performance.now() };
      sent.set(commit, record);
      answers.push(
        postEvent(daemon.url, fluxSucceeded(commit)).then(({ status }) => {
          record.status = status;
          if (status !== "error") record.answeredAt = performance.now();
        }),
      );
    }
    const sendSeconds = (performance.now() - started) / 1000;
    await Promise.all(answers);
    const accepted = [...sent.values()].filter((record) => record.status === "202").length;
    const mine = (path: string) => sent.has(path.split("/").pop()!);
    await api.waitForCount(accepted, (request) => isStatusPost(request) && mine(request.path), DRAIN_TIMEOUT_MS).catch(() => undefined);

    const checkpoints = walCheckpointSequence(outbox) - checkpointsBefore;
    const deliveryMs: number[] = [];
    const responseMs: number[] = [];
    for (const [commit, record] of sent) {
      if (record.answeredAt !== undefined) responseMs.push(record.answeredAt - record.at);
      const arrived = arrivals.get(commit);
      if (arrived !== undefined) deliveryMs.push(arrived - record.at);
    }
    return {
      events,
      rate: (events - 1) / sendSeconds,
      accepted,
      delivered: deliveryMs.length,
      deliveryMs: Float64Array.from(deliveryMs),
      responseMs: Float64Array.from(responseMs),
      checkpoints,
    };
  });
}

export interface LatencyResult {
  readonly runs: readonly LatencyRun[];
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly delivery: { p50: Summary; p99: Summary; max: Summary };
  readonly response: { p50: Summary; p99: Summary };
  readonly achievedRate: Summary;
}

/** RUNS runs, each on a fresh daemon and data dir: 200 events/s (the target's rate) for 5 s (2 s with `quick`). */
export async function benchE2eLatency(options: DaemonBenchOptions): Promise<LatencyResult> {
  const ratePerSecond = TARGETS.e2eRatePerSecond;
  const seconds = options.quick ? 2 : 5;
  const runs: LatencyRun[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    const result = await runOnce(options.binary, run, ratePerSecond * seconds, ratePerSecond);
    runs.push(result);
    options.log(
      `  e2e run ${run}/${RUNS}: ${result.events} sent at ${result.rate.toFixed(1)}/s, ${result.accepted} accepted, ${result.delivered} delivered; ` +
        `delivery p50 ${percentile(result.deliveryMs, 50).toFixed(2)} ms, p99 ${percentile(result.deliveryMs, 99).toFixed(2)} ms, max ${percentile(result.deliveryMs, 100).toFixed(2)} ms; ` +
        `${result.checkpoints} WAL checkpoints`,
    );
  }
  const of = (pick: (run: LatencyRun) => Float64Array, p: number) => summarize(runs.map((run) => percentile(pick(run), p)));
  return {
    runs,
    ratePerSecond,
    seconds,
    delivery: { p50: of((r) => r.deliveryMs, 50), p99: of((r) => r.deliveryMs, 99), max: of((r) => r.deliveryMs, 100) },
    response: { p50: of((r) => r.responseMs, 50), p99: of((r) => r.responseMs, 99) },
    achievedRate: summarize(runs.map((run) => run.rate)),
  };
}

export function formatE2eLatency(result: LatencyResult): string {
  const ms = (summary: Summary) => formatSummary(summary, 2);
  const table = formatTable(
    ["measure", "p50 ms", "p99 ms", "max ms"],
    [
      ["webhook → status arrives", ms(result.delivery.p50), ms(result.delivery.p99), ms(result.delivery.max)],
      ["webhook → 202 answer", ms(result.response.p50), ms(result.response.p99), "—"],
    ],
  );
  const lost = result.runs.reduce((sum, run) => sum + (run.events - run.delivered), 0);
  const checkpoints = summarize(result.runs.map((run) => run.checkpoints));
  const notes = [
    `${result.runs.length} runs of ${result.ratePerSecond}/s for ${result.seconds} s, each on a fresh daemon after ${WARMUP_EVENTS} unmeasured events; ` +
      `achieved ${formatSummary(result.achievedRate, 1)} events/s; the daemon ran ${formatSummary(checkpoints)} WAL checkpoints per run.`,
    ...(lost > 0 ? [`note: ${lost} event(s) not delivered within the drain timeout (or not accepted); left out of the figures.`] : []),
  ];
  return `${table}\n\n${notes.join("\n")}`;
}

export const e2eLatencySection: Section<LatencyResult> = {
  id: "e2e",
  title: "end to end: POST /gitopsphase → status at the fake GitHub API (compiled daemon, default outbox settings)",
  needsBinary: true,
  run: benchE2eLatency,
  format: formatE2eLatency,
};

if (import.meta.main) await runAlone(e2eLatencySection);
