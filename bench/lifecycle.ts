/**
 * The daemon's lifecycle as an operator sees it, on the compiled binary at log level info: time from exec to
 * /readyz answering 200; resident memory idle, and its peak under load; time from SIGTERM to exit, idle and
 * while deliveries are in flight, with what the loaded shutdown left in the outbox for the next start. The runs
 * are in bench/lifecycle-startup.ts and bench/lifecycle-shutdown.ts; this file sequences them and prints the
 * tables. Exit is timed from the signal until the process is gone from /proc (a zombie counts as gone).
 */
import * as v from "valibot";
import { ServerSettings } from "../src/config/schema.ts";
import { describeAnswers, mergeAnswers } from "./daemon-client.ts";
import { describeExitCodes, formatShutdown, shutdownRun, type ShutdownRun } from "./lifecycle-shutdown.ts";
import { DRAIN_TIMEOUT_MS, IDLE_AFTER_LOAD_MS, idleRun, LOAD_SENDERS, loadRun, RSS_SAMPLE_MS, type IdleRun, type LoadRun } from "./lifecycle-startup.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, mapSummary, mebibytes, summarize, type Summary } from "./stats.ts";
import { formatDistance, TARGETS } from "./limits.ts";

const LOAD_RUNS = 3;
const SHUTDOWN_RUNS = 3;

export interface LifecycleResult {
  readonly idle: readonly IdleRun[];
  readonly load: readonly LoadRun[];
  readonly loadSeconds: number;
  readonly shutdown: readonly ShutdownRun[];
  readonly shutdownGraceMs: number;
}

const mib = (value: number) => mebibytes(value).toFixed(1);

/** Idle runs (5, or 3 with `quick`), then 3 load runs (5 s, or 2 s), then 3 loaded shutdowns. */
export async function benchLifecycle(options: DaemonBenchOptions): Promise<LifecycleResult> {
  const { binary, log } = options;
  const idleRuns = options.quick ? 3 : 5;
  const idle: IdleRun[] = [];
  for (let run = 1; run <= idleRuns; run += 1) {
    const result = await idleRun(binary, !options.quick);
    idle.push(result);
    log(
      `  lifecycle idle run ${run}/${idleRuns}: ready ${result.readyMs.toFixed(1)} ms, RSS ${mib(result.rssAfter1s)} MiB after 1 s` +
        `${result.rssAfter5s === undefined ? "" : `, ${mib(result.rssAfter5s)} MiB after 5 s`}; ` +
        `SIGTERM after ${result.idleSeconds.toFixed(1)} s idle → exit ${result.exitCode} in ${result.exitMs.toFixed(1)} ms`,
    );
  }
  const loadSeconds = options.quick ? 2 : 5;
  const load: LoadRun[] = [];
  for (let run = 1; run <= LOAD_RUNS; run += 1) {
    const result = await loadRun(binary, run, loadSeconds);
    load.push(result);
    log(
      `  lifecycle load run ${run}/${LOAD_RUNS}: ${result.seconds.toFixed(1)} s, answers ${describeAnswers(result.answers)} (${result.acceptedPerSecond.toFixed(0)} accepted/s), ` +
        `${result.statusesArrived} statuses arrived, depth ${result.depthAtEnd} at end, drained in ${result.drainSeconds?.toFixed(1) ?? "(not within the timeout)"} s; ` +
        `RSS ${mib(result.rssAtEnd)} MiB at end of load, max sampled ${mib(result.sampledMaxWhileSending)} MiB sending / ${mib(result.sampledMaxWhileDraining)} MiB draining, ` +
        `peak ${mib(result.peak)} MiB, ${mib(result.rssAfterIdle)} MiB after drain + ${IDLE_AFTER_LOAD_MS / 1000} s idle`,
    );
  }
  const shutdown: ShutdownRun[] = [];
  for (let run = 1; run <= SHUTDOWN_RUNS; run += 1) {
    const result = await shutdownRun(binary, 100 + run);
    shutdown.push(result);
    log(
      `  lifecycle loaded SIGTERM run ${run}/${SHUTDOWN_RUNS}: ${result.sent} sent, answers ${describeAnswers(result.answers)}, ${result.acknowledgedJobs} jobs acknowledged, ` +
        `${result.statusesArrived} statuses arrived; exit ${result.exitCode} in ${result.exitMs.toFixed(1)} ms ` +
        `(finished ${result.stopped.finished ?? "?"}, interrupted ${result.stopped.interrupted ?? "?"}); outbox: ${result.outbox.pending} pending, ${result.outbox.done} done, ${result.outbox.dead} dead`,
    );
  }
  return { idle, load, loadSeconds, shutdown, shutdownGraceMs: v.parse(ServerSettings, {}).shutdownGraceMs };
}

export function formatLifecycle(result: LifecycleResult): string {
  const { idle, load } = result;
  const inMiB = (summary: Summary) => formatSummary(mapSummary(summary, mebibytes), 1, " MiB");
  const ms = (summary: Summary) => formatSummary(summary, 1, " ms");
  const ready = summarize(idle.map((run) => run.readyMs));
  const peak = summarize(load.map((run) => run.peak));
  const idleExit = summarize(idle.map((run) => run.exitMs));
  const after5s = idle.flatMap((run) => (run.rssAfter5s === undefined ? [] : [run.rssAfter5s]));
  const idleSeconds = summarize(idle.map((run) => run.idleSeconds)).median;
  const rows: string[][] = [
    ["exec → /readyz 200", ms(ready), `≤ ${TARGETS.readyMs} ms`, formatDistance(ready.median, { atMost: TARGETS.readyMs }, "ms", 1)],
    ["RSS idle, ready + 1 s", inMiB(summarize(idle.map((run) => run.rssAfter1s))), "", ""],
    ...(after5s.length > 0 ? [["RSS idle, ready + 5 s", inMiB(summarize(after5s)), "", ""]] : []),
    [
      `RSS peak (VmHWM), ${result.loadSeconds} s of load and its drain`,
      inMiB(peak),
      `≤ ${TARGETS.rssUnderLoadMiB} MiB`,
      formatDistance(mebibytes(peak.median), { atMost: TARGETS.rssUnderLoadMiB }, "MiB", 1),
    ],
    [`RSS sampled every ${RSS_SAMPLE_MS} ms: max while sending`, inMiB(summarize(load.map((run) => run.sampledMaxWhileSending))), "", ""],
    [`RSS sampled every ${RSS_SAMPLE_MS} ms: max while draining`, inMiB(summarize(load.map((run) => run.sampledMaxWhileDraining))), "", ""],
    [`RSS after the backlog drained + ${IDLE_AFTER_LOAD_MS / 1000} s idle`, inMiB(summarize(load.map((run) => run.rssAfterIdle))), "", ""],
    [`SIGTERM → exit, idle (after ${idleSeconds.toFixed(1)} s idle)`, ms(idleExit), `≤ ${TARGETS.idleExitMs} ms`, formatDistance(idleExit.median, { atMost: TARGETS.idleExitMs }, "ms", 1)],
  ];
  const table = formatTable(["measure", "value", "target", "distance (median)"], rows);

  const drained = load.flatMap((run) => (run.drainSeconds === undefined ? [] : [run.drainSeconds]));
  const loadAnswers = mergeAnswers(load.map((run) => run.answers));
  const notes = [
    `- ready and idle figures: ${idle.length} runs; load figures: ${load.length} runs; a fresh daemon, data dir and fake API per run.`,
    `- ready: from spawn to the first 200 from /readyz, polled every 1 ms (so it includes up to ~1 ms of polling and the bench process's fetch).`,
    `- load: ${LOAD_SENDERS} closed-loop senders, alternating Flux Progressing (4-line change-set, 5 statuses) and ReconciliationSucceeded (1 status) for distinct commits, ` +
      `fake API answering at once; ${formatSummary(summarize(load.map((run) => run.acceptedPerSecond)))} accepted events/s, answers over all runs: ${describeAnswers(loadAnswers)}; ` +
      `outbox depth when the senders stopped ${formatSummary(summarize(load.map((run) => run.depthAtEnd)))} jobs, drained in ${drained.length > 0 ? `${formatSummary(summarize(drained), 1)} s` : "—"}` +
      `${drained.length < load.length ? ` (${load.length - drained.length} run(s) not drained within ${DRAIN_TIMEOUT_MS / 1000} s)` : ""}. VmHWM is the peak since exec, read once the backlog had drained.`,
    `- idle SIGTERM exit: ${describeExitCodes(idle.map((run) => run.exitCode))} exit code(s). Sent after the idle RSS readings rather than at ready + 0.5 s, so the same daemons serve both.`,
  ];
  return `${table}\n\n${notes.join("\n")}\n\n${formatShutdown(result.shutdown, result.shutdownGraceMs)}`;
}

export const lifecycleSection: Section<LifecycleResult> = {
  id: "lifecycle",
  title: "lifecycle: readiness, memory idle and under load, SIGTERM → exit",
  needsBinary: true,
  run: benchLifecycle,
  format: formatLifecycle,
};

if (import.meta.main) await runAlone(lifecycleSection);
