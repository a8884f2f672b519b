/**
 * The daemon from exec to idle and under load, on the compiled binary at log level info: time from exec to
 * /readyz answering 200, resident memory idle, SIGTERM → exit of an idle daemon, and the peak resident set
 * under load and while its backlog drains. Fresh daemon and loopback fake GitHub API (in this process) per run;
 * memory is read from /proc (VmRSS, VmHWM). bench/lifecycle.ts runs these and prints the tables.
 */
import { isStatusPost } from "../test/support/fake-api.ts";
import { countAnswer, postEvent, readMetric, type AnswerCounts } from "./daemon-client.ts";
import { benchCommit, fluxProgressing, fluxSucceeded } from "./events.ts";
import { withBenchDaemon } from "./harness.ts";

export const LOAD_SENDERS = 16;
export const IDLE_AFTER_LOAD_MS = 2_000;
export const DRAIN_TIMEOUT_MS = 60_000;
const DRAIN_POLL_MS = 50;
export const RSS_SAMPLE_MS = 50;

export interface IdleRun {
  readonly readyMs: number;
  readonly rssAfter1s: number;
  /** Only when asked for (a full run). */
  readonly rssAfter5s: number | undefined;
  /** How long it had been idle when SIGTERM was sent. */
  readonly idleSeconds: number;
  readonly exitMs: number;
  readonly exitCode: number | null;
}

/** Start, stay idle 1 s (and 5 s with `fiveSeconds`) reading RSS, then SIGTERM and time the exit. */
export async function idleRun(binary: string, fiveSeconds: boolean): Promise<IdleRun> {
  return withBenchDaemon({ binary }, async (daemon) => {
    const readyAt = performance.now();
    const idleUntil = (seconds: number) => Bun.sleep(Math.max(0, readyAt + seconds * 1000 - performance.now()));
    await idleUntil(1);
    const rssAfter1s = daemon.memory().rss;
    let rssAfter5s: number | undefined;
    if (fiveSeconds) {
      await idleUntil(5);
      rssAfter5s = daemon.memory().rss;
    }
    const idleSeconds = (performance.now() - readyAt) / 1000;
    const { exitMs, code } = await daemon.stop("SIGTERM");
    return { readyMs: daemon.readyMs, rssAfter1s, rssAfter5s, idleSeconds, exitMs, exitCode: code };
  });
}

export interface LoadRun {
  readonly seconds: number;
  readonly answers: Readonly<AnswerCounts>;
  readonly acceptedPerSecond: number;
  readonly statusesArrived: number;
  /** VmHWM once the backlog had drained: the process's peak resident set since exec (load and drain included). */
  readonly peak: number;
  readonly rssAtEnd: number;
  /** Highest VmRSS sampled every RSS_SAMPLE_MS while the senders ran, and while the backlog drained. */
  readonly sampledMaxWhileSending: number;
  readonly sampledMaxWhileDraining: number;
  /** gitops_connector_outbox_depth when the senders stopped. */
  readonly depthAtEnd: number;
  /** From the senders stopping to an empty outbox (undefined when it did not drain within DRAIN_TIMEOUT_MS). */
  readonly drainSeconds: number | undefined;
  /** Resident set IDLE_AFTER_LOAD_MS after the backlog drained (or after DRAIN_TIMEOUT_MS). */
  readonly rssAfterIdle: number;
}

/** Even n: Progressing (5 statuses); odd n: ReconciliationSucceeded (1 status); every n its own commit. */
const mixedEvent = (run: number, n: number) => (n % 2 === 0 ? fluxProgressing(benchCommit(run, n)) : fluxSucceeded(benchCommit(run, n)));

const outboxDepth = (url: string) => readMetric(url, "gitops_connector_outbox_depth");

/** LOAD_SENDERS closed-loop senders for `seconds`, the fake API answering at once; then the backlog drains. */
export async function loadRun(binary: string, run: number, seconds: number): Promise<LoadRun> {
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    return await withBenchDaemon({ binary }, async (daemon, api) => {
      const { url } = daemon;
      const sampledMax = { sending: 0, draining: 0 };
      let phase: keyof typeof sampledMax = "sending";
      sampler = setInterval(() => {
        if (daemon.isRunning()) sampledMax[phase] = Math.max(sampledMax[phase], daemon.memory().rss);
      }, RSS_SAMPLE_MS);

      const answers: AnswerCounts = {};
      let next = 0;
      const started = performance.now();
      const until = started + seconds * 1000;
      await Promise.all(
        Array.from({ length: LOAD_SENDERS }, async () => {
          while (performance.now() < until) countAnswer(answers, (await postEvent(url, mixedEvent(run, next++))).status);
        }),
      );
      phase = "draining";
      const stoppedAt = performance.now();
      const elapsed = (stoppedAt - started) / 1000;
      const statusesArrived = api.requests(isStatusPost).length;
      const rssAtEnd = daemon.memory().rss;
      const depthAtEnd = await outboxDepth(url);
      // The backlog left by the load is still being delivered: memory is "idle" only once it has drained.
      let drainSeconds: number | undefined;
      while (drainSeconds === undefined && performance.now() - stoppedAt < DRAIN_TIMEOUT_MS) {
        if ((await outboxDepth(url)) === 0) drainSeconds = (performance.now() - stoppedAt) / 1000;
        else await Bun.sleep(DRAIN_POLL_MS);
      }
      clearInterval(sampler);
      const { peak } = daemon.memory();
      await Bun.sleep(IDLE_AFTER_LOAD_MS);
      return {
        seconds: elapsed,
        answers,
        acceptedPerSecond: (answers["202"] ?? 0) / elapsed,
        statusesArrived,
        peak,
        rssAtEnd,
        sampledMaxWhileSending: sampledMax.sending,
        sampledMaxWhileDraining: sampledMax.draining,
        depthAtEnd,
        drainSeconds,
        rssAfterIdle: daemon.memory().rss,
      };
    });
  } finally {
    clearInterval(sampler);
  }
}
