/**
 * Sustained delivery rate when the git provider is slow: the loopback fake GitHub API holds every answer for
 * 50 ms (a timer, so the fake stays free to take other requests), and the daemon (the compiled binary, log level
 * info) runs with `outbox.concurrency` set to each value asked for. A backlog of Flux `ReconciliationSucceeded`
 * events for distinct commits (one status each) is posted as fast as the daemon takes them, then the rate is
 * read from when the statuses arrive at the fake API: (delivered − 1) / (last arrival − first arrival). With
 * every call taking 50 ms, `concurrency` calls in flight can deliver at most concurrency × 1000 / 50 per second;
 * the peak number of calls the fake API saw at once shows how much of that concurrency one target really gets.
 * The backlog is sized from that ceiling (BACKLOG_SECONDS of it, at most MAX_EVENTS), so a low concurrency does
 * not spend the run on a queue it cannot drain. Fresh daemon and fake API per run; each run is cut off after
 * WALL_CAP_MS and then reports what it delivered until then.
 */
import { parseArgs } from "node:util";
import { isStatusPost, type FakeApi } from "../test/support/fake-api.ts";
import { countAnswer, describeAnswers, postEvent, type AnswerCounts } from "./daemon-client.ts";
import { benchCommit, fluxSucceeded } from "./events.ts";
import { withBenchDaemon, type BenchDaemon } from "./harness.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, summarize, type Summary } from "./stats.ts";
import { TARGETS, formatDistance } from "./limits.ts";

export const API_DELAY_MS = 50;
/** 8 is the product's default `outbox.concurrency`. */
export const DEFAULT_CONCURRENCIES: readonly number[] = [8, 32, 64];
const SENDERS = 16;
const RUNS = 3;
/** The backlog per run: this many seconds of the concurrency's ceiling rate, at most MAX_EVENTS. */
const BACKLOG_SECONDS = { full: 4, quick: 3 } as const;
const MAX_EVENTS = { full: 3_000, quick: 1_000 } as const;
/** Per run, from the first POST; a run that hits it reports what was delivered until then. */
const WALL_CAP_MS = 12_000;
/** Fewer arrivals than this after the backlog was posted give no "after backlog" rate (too short to mean much). */
const MIN_AFTER_BACKLOG_ARRIVALS = 50;

const ceilingOf = (concurrency: number) => (concurrency * 1000) / API_DELAY_MS;

export interface SlowApiRun {
  readonly concurrency: number;
  /** Events posted (fewer than asked when the cap cut the posting short). */
  readonly posted: number;
  readonly accepted: number;
  /** Answers other than 202, by status (or "error" when no answer came). */
  readonly rejected: Readonly<Record<string, number>>;
  readonly postSeconds: number;
  /** Distinct commits whose status reached the fake API. */
  readonly delivered: number;
  /** Status POSTs in all; more than `delivered` means some status was posted twice (a retry). */
  readonly statusPosts: number;
  /** (delivered − 1) / (last arrival − first arrival). */
  readonly eventsPerSecond: number;
  /** The same, counting only arrivals after the last webhook was answered; undefined when too few. */
  readonly afterBacklogPerSecond: number | undefined;
  /** Most calls the fake API was holding at once. */
  readonly peakInFlight: number;
  /** Daemon CPU time over the run's wall time, in % of one core. */
  readonly daemonCpuPercent: number;
  readonly capped: boolean;
}

/** Posts `count` events from SENDERS concurrent loops; starts no new post after `deadline`. */
async function postBacklog(url: string, count: number, eventOf: (n: number) => Record<string, unknown>, deadline: number) {
  let next = 0;
  const answers: AnswerCounts = {};
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (next < count && performance.now() < deadline) countAnswer(answers, (await postEvent(url, eventOf(next++))).status);
    }),
  );
  return { posted: next, answers };
}

/** A daemon that stops on its own mid-run yields no figure: fail with what it logged last (delivery lines left out). */
function assertAlive(daemon: BenchDaemon): void {
  if (daemon.isRunning()) return;
  const last = daemon
    .output()
    .split("\n")
    .filter((line) => line !== "" && !line.includes('"msg":"delivered"'))
    .slice(-5);
  throw new Error(`slow-api: the daemon (pid ${daemon.pid}) exited during the run; its last log lines:\n${last.join("\n")}`);
}

async function runOnce(binary: string, concurrency: number, run: number, events: number): Promise<SlowApiRun> {
  const firstArrival = new Map<string, number>();
  let statusPosts = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const slowApi = (api: FakeApi) =>
    api.setHandler(async (request) => {
      inFlight += 1;
      peakInFlight = Math.max(peakInFlight, inFlight);
      if (isStatusPost(request)) {
        statusPosts += 1;
        const sha = request.path.split("/").pop()!;
        if (!firstArrival.has(sha)) firstArrival.set(sha, performance.now());
      }
      try {
        await Bun.sleep(API_DELAY_MS);
      } finally {
        inFlight -= 1;
      }
      return undefined; // the default answer (201 for a status)
    });
  return withBenchDaemon({ binary, config: { concurrency }, prepareApi: slowApi }, async (daemon) => {
    const cpuBefore = daemon.cpuMs();
    const started = performance.now();
    const deadline = started + WALL_CAP_MS;
    const { posted, answers } = await postBacklog(daemon.url, events, (n) => fluxSucceeded(benchCommit(run, n)), deadline);
    const postedAt = performance.now();
    const accepted = answers["202"] ?? 0;
    while (firstArrival.size < accepted && performance.now() < deadline) {
      assertAlive(daemon);
      await Bun.sleep(20);
    }
    assertAlive(daemon);
    const wallMs = performance.now() - started;
    const cpuMs = daemon.cpuMs() - cpuBefore;

    const arrivals = [...firstArrival.values()]; // insertion order is arrival order
    const rateOf = (times: readonly number[]) => (times.length < 2 ? Number.NaN : (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000));
    const afterBacklog = arrivals.filter((at) => at > postedAt);
    const rejected = Object.fromEntries(Object.entries(answers).filter(([status]) => status !== "202"));
    return {
      concurrency,
      posted,
      accepted,
      rejected,
      postSeconds: (postedAt - started) / 1000,
      delivered: firstArrival.size,
      statusPosts,
      eventsPerSecond: rateOf(arrivals),
      afterBacklogPerSecond: afterBacklog.length >= MIN_AFTER_BACKLOG_ARRIVALS ? rateOf(afterBacklog) : undefined,
      peakInFlight,
      daemonCpuPercent: (cpuMs / wallMs) * 100,
      capped: firstArrival.size < accepted || posted < events,
    };
  });
}

export interface SlowApiRow {
  readonly concurrency: number;
  /** concurrency × 1000 / API_DELAY_MS. */
  readonly ceiling: number;
  /** The backlog each run posted (asked for). */
  readonly events: number;
  readonly eventsPerSecond: Summary;
  /** Undefined when no run had enough arrivals after its backlog was posted. */
  readonly afterBacklogPerSecond: Summary | undefined;
  readonly ratioToCeiling: Summary;
  readonly peakInFlight: Summary;
  readonly daemonCpuPercent: Summary;
  readonly postSeconds: Summary;
  readonly runs: readonly SlowApiRun[];
}

export interface SlowApiResult {
  readonly apiDelayMs: number;
  readonly backlogSeconds: number;
  readonly maxEvents: number;
  readonly senders: number;
  readonly wallCapMs: number;
  readonly rows: readonly SlowApiRow[];
}

/** RUNS runs per concurrency, interleaved across concurrencies; each backlog sized from its ceiling. */
export async function benchSlowApi(options: DaemonBenchOptions & { concurrencies?: readonly number[] }): Promise<SlowApiResult> {
  const concurrencies = options.concurrencies ?? DEFAULT_CONCURRENCIES;
  const mode = options.quick ? "quick" : "full";
  const eventsFor = (concurrency: number) => Math.min(MAX_EVENTS[mode], Math.round(ceilingOf(concurrency) * BACKLOG_SECONDS[mode]));
  const runs: SlowApiRun[] = [];
  let runNumber = 0;
  for (let round = 1; round <= RUNS; round += 1) {
    for (const concurrency of concurrencies) {
      runNumber += 1;
      const result = await runOnce(options.binary, concurrency, runNumber, eventsFor(concurrency));
      runs.push(result);
      options.log(
        `  slow-api concurrency ${concurrency} run ${round}/${RUNS}: ${result.posted} posted in ${result.postSeconds.toFixed(2)} s, ${result.accepted} accepted ` +
          `(non-202: ${describeAnswers(result.rejected)}), ${result.delivered} delivered (${result.statusPosts} status POSTs)${result.capped ? `, CUT OFF at ${WALL_CAP_MS / 1000} s` : ""}; ` +
          `${result.eventsPerSecond.toFixed(1)} events/s, after backlog ${result.afterBacklogPerSecond?.toFixed(1) ?? "—"}/s, ` +
          `peak ${result.peakInFlight} calls in flight, daemon CPU ${result.daemonCpuPercent.toFixed(0)}%`,
      );
    }
  }
  const rows = concurrencies.map((concurrency): SlowApiRow => {
    const mine = runs.filter((run) => run.concurrency === concurrency);
    const ceiling = ceilingOf(concurrency);
    const after = mine.flatMap((run) => (run.afterBacklogPerSecond === undefined ? [] : [run.afterBacklogPerSecond]));
    return {
      concurrency,
      ceiling,
      events: eventsFor(concurrency),
      eventsPerSecond: summarize(mine.map((run) => run.eventsPerSecond)),
      afterBacklogPerSecond: after.length > 0 ? summarize(after) : undefined,
      ratioToCeiling: summarize(mine.map((run) => run.eventsPerSecond / ceiling)),
      peakInFlight: summarize(mine.map((run) => run.peakInFlight)),
      daemonCpuPercent: summarize(mine.map((run) => run.daemonCpuPercent)),
      postSeconds: summarize(mine.map((run) => run.postSeconds)),
      runs: mine,
    };
  });
  return { apiDelayMs: API_DELAY_MS, backlogSeconds: BACKLOG_SECONDS[mode], maxEvents: MAX_EVENTS[mode], senders: SENDERS, wallCapMs: WALL_CAP_MS, rows };
}

export function formatSlowApi(result: SlowApiResult): string {
  const target = TARGETS.eventsPerSecondAt50ms;
  const table = formatTable(
    [
      "outbox.concurrency",
      "backlog",
      "events/s",
      "after backlog posted",
      `ceiling c×1000/${result.apiDelayMs}`,
      "share of ceiling",
      "peak calls in flight",
      "ceiling at that peak",
      `vs target ${target}/s`,
      "daemon CPU %",
    ],
    result.rows.map((row) => [
      String(row.concurrency),
      row.events.toLocaleString("en-US"),
      formatSummary(row.eventsPerSecond, 1),
      row.afterBacklogPerSecond ? formatSummary(row.afterBacklogPerSecond, 1) : "—",
      `${row.ceiling.toLocaleString("en-US")}/s`,
      formatSummary(row.ratioToCeiling, 2),
      formatSummary(row.peakInFlight),
      `${((row.peakInFlight.median * 1000) / result.apiDelayMs).toLocaleString("en-US")}/s`,
      formatDistance(row.eventsPerSecond.median, { atLeast: target }, "events/s", 0),
      formatSummary(row.daemonCpuPercent),
    ]),
  );
  const all = result.rows.flatMap((row) => row.runs);
  const capped = all.filter((run) => run.capped);
  const accepted = all.reduce((sum, run) => sum + run.accepted, 0);
  const posted = all.reduce((sum, run) => sum + run.posted, 0);
  const duplicates = all.reduce((sum, run) => sum + (run.statusPosts - run.delivered), 0);
  const notes = [
    `${result.rows[0]?.runs.length ?? 0} runs per concurrency, each on a fresh daemon and fake API; every fake API answer held ${result.apiDelayMs} ms. ` +
      `Backlog per run: ${result.backlogSeconds} s of the concurrency's ceiling, at most ${result.maxEvents.toLocaleString("en-US")}, of Flux ReconciliationSucceeded events ` +
      `for distinct commits (1 status each), posted by ${result.senders} concurrent senders in ${result.rows.map((row) => `${formatSummary(row.postSeconds, 2)} s`).join(" / ")} (per concurrency).`,
    "- events/s: (delivered − 1) / (last status arrival − first status arrival) at the fake API; the first statuses leave while the backlog is still being posted.",
    "- after backlog posted: the same over the statuses that arrived after the last webhook was answered (the worker alone, no intake competing for the CPU).",
    `- peak calls in flight: the most requests the fake API held at once. Every status here goes to one target, so this is what the worker lets one target have; ` +
      `ceiling at that peak = peak × 1000/${result.apiDelayMs}.`,
    ...result.rows
      .filter((row) => row.peakInFlight.max < row.concurrency)
      .map((row) => `- concurrency ${row.concurrency}: never more than ${row.peakInFlight.max} calls in flight to the one target (of ${row.concurrency} allowed in all).`),
    `- ${accepted.toLocaleString("en-US")} of ${posted.toLocaleString("en-US")} posted events answered 202; ${duplicates} status POST(s) repeated a commit (retries).`,
    capped.length > 0
      ? `- ${capped.length} run(s) cut off at ${result.wallCapMs / 1000} s with statuses still pending (${capped.map((run) => `c=${run.concurrency}: ${run.delivered}/${run.accepted}`).join(", ")}); their rate is over what arrived before the cut.`
      : `- no run hit the ${result.wallCapMs / 1000} s cap: every accepted event was delivered.`,
  ];
  return `${table}\n\n${notes.join("\n")}`;
}

export const slowApiSection: Section<SlowApiResult> = {
  id: "slow-api",
  title: `slow API: sustained events/s when every GitHub API call takes ${API_DELAY_MS} ms`,
  needsBinary: true,
  run: benchSlowApi,
  format: formatSlowApi,
};

if (import.meta.main) {
  const usage = "usage: bun bench/slow-api.ts [--quick] [--concurrency 8,32,64]";
  let values: { quick?: boolean; concurrency?: string };
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { quick: { type: "boolean" }, concurrency: { type: "string" } } }));
  } catch (error) {
    console.error(`${usage}   (${(error as Error).message})`);
    process.exit(2);
  }
  const concurrencies = values.concurrency?.split(",").map((value) => Number(value.trim()));
  if (concurrencies?.some((value) => !Number.isInteger(value) || value < 1 || value > 1024)) {
    console.error(`${usage}   (bad --concurrency "${values.concurrency}")`);
    process.exit(2);
  }
  await runAlone({ ...slowApiSection, run: (options: DaemonBenchOptions) => benchSlowApi({ ...options, concurrencies }) }, values.quick ? ["--quick"] : []);
}
