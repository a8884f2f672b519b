/**
 * SIGTERM while deliveries are in flight, on the compiled binary: Flux Progressing events open-loop at
 * SHUTDOWN_EVENTS_PER_SECOND against a fake API that holds every answer SHUTDOWN_API_DELAY_MS, so a backlog
 * builds; the signal after SHUTDOWN_SIGNAL_AFTER_MS. Measures the time to exit and what the daemon kept: the
 * data dir is read after the exit with the product's own `outbox stats --json`, and its "stopped" log line says
 * how many deliveries in flight finished or were interrupted.
 */
import { isStatusPost, type FakeApi } from "../test/support/fake-api.ts";
import { countAnswer, describeAnswers, mergeAnswers, postEvent, type AnswerCounts } from "./daemon-client.ts";
import { benchCommit, fluxProgressing } from "./events.ts";
import { PAT, withBenchDaemon, type BenchDaemon } from "./harness.ts";
import { formatSummary, formatTable, summarize } from "./stats.ts";

const SHUTDOWN_API_DELAY_MS = 50;
const SHUTDOWN_EVENTS_PER_SECOND = 200;
const SHUTDOWN_SIGNAL_AFTER_MS = 1_000;

export interface ShutdownRun {
  readonly sent: number;
  readonly answers: Readonly<AnswerCounts>;
  /** Jobs the 202 answers said were written (their `jobs` field summed). */
  readonly acknowledgedJobs: number;
  readonly statusesArrived: number;
  readonly exitMs: number;
  readonly exitCode: number | null;
  /** From `outbox stats --json` after the exit. */
  readonly outbox: { readonly pending: number; readonly done: number; readonly dead: number };
  /** The daemon's own "stopped" log line: deliveries finished and interrupted in the grace period. */
  readonly stopped: { readonly finished?: number; readonly interrupted?: number; readonly pending?: number };
}

/** `<binary> outbox stats --json` on the data dir the daemon used: the product's own account of what it kept. */
async function outboxStats(binary: string, daemon: BenchDaemon): Promise<ShutdownRun["outbox"]> {
  const proc = Bun.spawn([binary, "outbox", "stats", "--json", "--data-dir", daemon.dir, "--config", daemon.configPath], {
    cwd: daemon.dir,
    env: { PATH: process.env.PATH ?? "", HOME: daemon.dir, PAT },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`lifecycle: outbox stats exited ${code}:\n${stderr}${stdout}`);
  const { jobs } = JSON.parse(stdout) as { jobs: Array<{ pending: number; done: number; dead: number }> };
  const sum = (pick: (line: { pending: number; done: number; dead: number }) => number) => jobs.reduce((total, line) => total + pick(line), 0);
  return { pending: sum((line) => line.pending), done: sum((line) => line.done), dead: sum((line) => line.dead) };
}

function stoppedLine(output: string): ShutdownRun["stopped"] {
  for (const line of output.split("\n").reverse()) {
    if (!line.includes('"component":"daemon"') || !line.includes("stopped")) continue;
    try {
      const { finished, interrupted, pending } = JSON.parse(line) as ShutdownRun["stopped"];
      return { finished, interrupted, pending };
    } catch {
      // not JSON after all
    }
  }
  return {};
}

/** One loaded shutdown; the senders stop right after the signal (their later failures are expected). */
export async function shutdownRun(binary: string, run: number): Promise<ShutdownRun> {
  const holdAnswers = (api: FakeApi) =>
    api.setHandler(async () => {
      await Bun.sleep(SHUTDOWN_API_DELAY_MS);
      return undefined; // the default answer
    });
  return withBenchDaemon({ binary, prepareApi: holdAnswers }, async (daemon, api) => {
    const answers: AnswerCounts = {};
    let acknowledgedJobs = 0;
    const inFlight: Promise<void>[] = [];
    let stopSending = false;
    const intervalMs = 1000 / SHUTDOWN_EVENTS_PER_SECOND;
    const started = performance.now();
    const sender = (async () => {
      for (let n = 0; !stopSending; n += 1) {
        const wait = started + n * intervalMs - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        if (stopSending) break;
        inFlight.push(
          postEvent(daemon.url, fluxProgressing(benchCommit(run, n))).then(({ status, jobs }) => {
            countAnswer(answers, status);
            acknowledgedJobs += jobs;
          }),
        );
      }
    })();
    await Bun.sleep(Math.max(0, started + SHUTDOWN_SIGNAL_AFTER_MS - performance.now()));
    const exiting = daemon.stop("SIGTERM", { keepDir: true });
    stopSending = true;
    await sender;
    const { exitMs, code } = await exiting;
    await Promise.all(inFlight);
    const outbox = await outboxStats(binary, daemon);
    const stopped = stoppedLine(daemon.output());
    daemon.cleanup();
    return { sent: inFlight.length, answers, acknowledgedJobs, statusesArrived: api.requests(isStatusPost).length, exitMs, exitCode: code, outbox, stopped };
  });
}

/** The distinct exit codes, "0" or "0, null" (null: ended by a signal). */
export const describeExitCodes = (values: ReadonlyArray<number | null>) => [...new Set(values.map(String))].join(", ");

/** The loaded-shutdown table and its note. */
export function formatShutdown(shutdown: readonly ShutdownRun[], shutdownGraceMs: number): string {
  const of = (pick: (run: ShutdownRun) => number) => formatSummary(summarize(shutdown.map(pick)));
  const lost = (run: ShutdownRun) => run.acknowledgedJobs - (run.outbox.pending + run.outbox.done + run.outbox.dead);
  const answers = mergeAnswers(shutdown.map((run) => run.answers));
  const table = formatTable(
    ["loaded shutdown", "value"],
    [
      ["SIGTERM → exit", formatSummary(summarize(shutdown.map((run) => run.exitMs)), 1, " ms")],
      ["events sent before the signal", of((run) => run.sent)],
      ["jobs acknowledged (sum of `jobs` in the 202 answers)", of((run) => run.acknowledgedJobs)],
      ["statuses that reached the fake API", of((run) => run.statusesArrived)],
      ["deliveries in flight at the signal that finished / were interrupted", `${of((run) => run.stopped.finished ?? Number.NaN)} / ${of((run) => run.stopped.interrupted ?? Number.NaN)}`],
      ["outbox after exit: done", of((run) => run.outbox.done)],
      ["outbox after exit: pending, kept for the next start", of((run) => run.outbox.pending)],
      ["outbox after exit: dead", of((run) => run.outbox.dead)],
      ["acknowledged jobs missing from the outbox", of(lost)],
      ["exit code(s)", describeExitCodes(shutdown.map((run) => run.exitCode))],
    ],
  );
  const note =
    `- loaded SIGTERM: ${shutdown.length} runs; Flux Progressing events open-loop at ${SHUTDOWN_EVENTS_PER_SECOND}/s (${SHUTDOWN_EVENTS_PER_SECOND * 5} statuses/s asked for) ` +
    `against a fake API holding every answer ${SHUTDOWN_API_DELAY_MS} ms; the signal after ${SHUTDOWN_SIGNAL_AFTER_MS / 1000} s, the senders stopped right after it ` +
    `(answers over all runs: ${describeAnswers(answers)}; "error" and 503 come after the signal, as expected). The outbox was read with ` +
    `\`gitops-connector outbox stats --json\` after the exit. Exit is bounded by server.shutdownGraceMs (default ${shutdownGraceMs.toLocaleString("en-US")} ms) for deliveries in flight.`;
  return `${table}\n\n${note}`;
}
