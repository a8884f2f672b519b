/**
 * The tables of bench/webhook-throughput.ts: throughput next to the limit, latency, and the daemon's side
 * (CPU, delivery, refusals, memory), with notes on anything that makes a figure less than it seems.
 * Markdown-compatible, for pasting into bench/README.md.
 */
import { formatSummary, formatTable, mapSummary, mebibytes, summarize, type Summary } from "./stats.ts";
import type { WrkRun } from "./wrk.ts";

/** The two events the throughput section sends (bench/webhook-throughput.ts). */
export type EventKind = "success" | "progressing";

export interface DaemonRun {
  readonly wrk: WrkRun;
  /** Statuses one event planned (jobs_planned_total delta for the probe event). */
  readonly statusesPerEvent: number;
  /** Accepted webhooks of the measured run (webhooks_total{result="accepted"} delta, read after the drain). */
  readonly accepted: number;
  /** Webhooks the daemon answered 503 (webhooks_total{result="unavailable"} delta): the outbox was full. */
  readonly unavailable: number;
  /** accepted × statusesPerEvent. */
  readonly planned: number;
  /** What the daemon itself counted as planned (jobs_planned_total{kind="status"} delta); should equal `planned`. */
  readonly plannedByDaemon: number;
  /** Statuses of the measured run at the fake API when wrk exited. */
  readonly deliveredAtEnd: number;
  /** From wrk's exit until the outbox was empty and every planned status had arrived; undefined: not within DRAIN_TIMEOUT_MS. */
  readonly drainMs: number | undefined;
  readonly daemonCpuShare: number;
  /** This process (the fake API, essentially) over the same wall time. */
  readonly fakeApiCpuShare: number;
  readonly peakRssBytes: number;
}

export interface LimitRun {
  readonly wrk: WrkRun;
  readonly serverCpuShare: number;
}

/** One event type at one connection count; daemon[i] and limit[i] ran in the same round. */
export interface ThroughputCell {
  readonly event: EventKind;
  readonly label: string;
  readonly connections: number;
  readonly daemon: DaemonRun[];
  readonly limit: LimitRun[];
}

export type ThroughputResult =
  | { readonly kind: "skipped"; readonly reason: string }
  | {
      readonly kind: "measured";
      readonly seconds: number;
      readonly warmupSeconds: number;
      readonly drainTimeoutMs: number;
      readonly runs: number;
      readonly cells: readonly ThroughputCell[];
      readonly totalSeconds: number;
      /** 1-minute load averages at start and end: a figure well above what this bench runs means other work competed. */
      readonly load: { readonly start: number; readonly end: number; readonly cpus: number };
    };

export const percent = (share: number) => `${Math.round(share * 100)}%`;

/** daemon req/s ÷ limit req/s of the same round, over the rounds. */
export function shareOfLimit(cell: ThroughputCell): Summary {
  return summarize(cell.daemon.map((run, round) => run.wrk.okPerSecond / (cell.limit[round]?.wrk.okPerSecond ?? Number.NaN)));
}

export function formatWebhookThroughput(result: ThroughputResult): string {
  if (result.kind === "skipped") return `webhook throughput: skipped (${result.reason})`;
  const of = <T>(runs: readonly T[], pick: (run: T) => number) => summarize(runs.map(pick));
  const share = (summary: Summary, digits = 0) => formatSummary(mapSummary(summary, (ratio) => ratio * 100), digits, "%");
  const name = (cell: ThroughputCell) => [cell.label, String(cell.connections)];
  const throughput = result.cells.map((cell) => [
    ...name(cell),
    formatSummary(of(cell.daemon, (run) => run.wrk.okPerSecond)),
    formatSummary(of(cell.limit, (run) => run.wrk.okPerSecond)),
    share(shareOfLimit(cell), 1),
    share(of(cell.daemon, (run) => run.wrk.generatorCpuShare)),
    share(of(cell.limit, (run) => run.wrk.generatorCpuShare)),
    share(of(cell.limit, (run) => run.serverCpuShare)),
  ]);
  const latency = result.cells.map((cell) => [
    ...name(cell),
    formatSummary(of(cell.daemon, (run) => run.wrk.p50Ms), 2),
    formatSummary(of(cell.daemon, (run) => run.wrk.p99Ms), 2),
    formatSummary(of(cell.limit, (run) => run.wrk.p50Ms), 3),
    formatSummary(of(cell.limit, (run) => run.wrk.p99Ms), 3),
  ]);
  const daemonSide = result.cells.map((cell) => [
    ...name(cell),
    formatSummary(of(cell.daemon, (run) => run.statusesPerEvent)),
    share(of(cell.daemon, (run) => run.daemonCpuShare)),
    share(of(cell.daemon, (run) => run.fakeApiCpuShare)),
    share(of(cell.daemon, (run) => (run.planned === 0 ? Number.NaN : run.deliveredAtEnd / run.planned))),
    formatSummary(of(cell.daemon, (run) => (run.drainMs ?? result.drainTimeoutMs) / 1000), 2),
    formatSummary(of(cell.daemon, (run) => run.wrk.non2xx)),
    formatSummary(of(cell.daemon, (run) => run.unavailable)),
    formatSummary(of(cell.daemon, (run) => run.wrk.socketErrors)),
    formatSummary(of(cell.daemon, (run) => mebibytes(run.peakRssBytes)), 1),
  ]);
  return [
    formatTable(["event", "c", "daemon req/s", "limit req/s", "daemon/limit", "wrk CPU (daemon runs)", "wrk CPU (limit runs)", "limit server CPU"], throughput),
    "",
    formatTable(["event", "c", "daemon p50 ms", "daemon p99 ms", "limit p50 ms", "limit p99 ms"], latency),
    "",
    formatTable(["event", "c", "statuses/event", "daemon CPU", "fake API CPU", "delivered at end of run", "drain s", "non-2xx (wrk)", "503 (daemon)", "socket errors", "peak RSS MiB"], daemonSide),
    "",
    `${result.runs} runs per cell of ${result.seconds} s each (wrk -t1, closed loop, distinct commit per request), daemon and limit alternating; ` +
      `each daemon run on a fresh daemon (durable outbox, log level info) and fake API, after a ${result.warmupSeconds} s warm-up. ${result.totalSeconds.toFixed(0)} s in total.`,
    `- load average (1 min) ${result.load.start.toFixed(2)} at start, ${result.load.end.toFixed(2)} at end, on ${result.load.cpus} CPUs; ` +
      "this bench alone keeps about 2 busy (wrk and one server), so more means other processes competed for the CPUs.",
    "- req/s: 2xx answers per second of wrk's measured duration. daemon/limit: the daemon's req/s over the limit's in the same round.",
    `- CPU: user + system time over the run's wall time, 100% = one core (of ${result.load.cpus}, shared by wrk, the server under load and this process).`,
    "- delivered at end of run: statuses at the fake API when wrk stopped, of those planned (accepted webhooks × statuses/event); " +
      "below 100% means delivery fell behind intake. drain s: from then until the outbox was empty and all had arrived.",
    ...notes(result).map((note) => `- note: ${note}`),
  ].join("\n");
}

function notes(result: Extract<ThroughputResult, { kind: "measured" }>): string[] {
  const found: string[] = [];
  for (const cell of result.cells) {
    const where = `${cell.label}, c=${cell.connections}`;
    const refused = cell.daemon.reduce((sum, run) => sum + run.wrk.non2xx, 0);
    const unavailable = cell.daemon.reduce((sum, run) => sum + run.unavailable, 0);
    if (refused > 0 || unavailable > 0) {
      found.push(
        `${where}: the outbox filled (maxDepth) in ${cell.daemon.filter((run) => run.unavailable > 0).length} of ${cell.daemon.length} runs: ` +
          `${unavailable} answers 503 by the daemon's webhooks_total{result="unavailable"}, ${refused} non-2xx counted by wrk ` +
          "(the daemon's count also has the requests in flight when wrk stopped). Intake was being refused, so that req/s is not a sustained rate.",
      );
    }
    const broken = [...cell.daemon, ...cell.limit].reduce((sum, run) => sum + run.wrk.socketErrors, 0);
    if (broken > 0) found.push(`${where}: ${broken} socket errors (connect, read, write or timeout) reported by wrk.`);
    const stuck = cell.daemon.filter((run) => run.drainMs === undefined).length;
    const timeout = result.drainTimeoutMs / 1000;
    if (stuck > 0) found.push(`${where}: ${stuck} run(s) did not drain within ${timeout} s (counted as ${timeout} s above).`);
    const mismatched = cell.daemon.filter((run) => run.plannedByDaemon !== run.planned).length;
    if (mismatched > 0) found.push(`${where}: in ${mismatched} run(s) the daemon's jobs_planned_total differs from accepted × statuses per event.`);
    const busiest = Math.max(...[...cell.daemon, ...cell.limit].map((run) => run.wrk.generatorCpuShare));
    if (busiest > 0.9) found.push(`${where}: wrk used ${percent(busiest)} of a core in one run: the generator may be the bottleneck there.`);
  }
  return found;
}
