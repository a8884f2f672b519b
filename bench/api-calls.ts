/**
 * Outbound API calls per deployment, counted at the loopback fake GitHub API and cross-checked with the
 * daemon's own `gitops_connector_outbound_responses_total`. The instance has the GitHub Actions orchestrator,
 * so a finished deployment also reads the manifests commit and sends a repository_dispatch. Scenarios, each on
 * a fresh commit: (a) one ReconciliationSucceeded; (b) one Progressing (4-line change-set), then one
 * ReconciliationSucceeded, which also compares (a)'s commit with (b)'s to find commits it superseded (the fake
 * has no history, so none: one call); (c) the success of (a) sent 10 more times (Flux re-sends it every interval),
 * which should add no call. Each step waits until the daemon says it is done (see `settle`), never on a bare sleep.
 */
import type { FakeApi, RecordedRequest } from "../test/support/fake-api.ts";
import { postEvent, scrapeMetrics, sumMetric } from "./daemon-client.ts";
import { benchCommit, fluxProgressing, fluxSucceeded } from "./events.ts";
import { withBenchDaemon, type BenchDaemon } from "./harness.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, summarize } from "./stats.ts";

const RUNS = 3;
const REPEATS = 10;
const SETTLE_TIMEOUT_MS = 15_000;
const METRICS_POLL_MS = 5;
/**
 * After the outbox is empty and every planned job has finished, calls could still come from outside the outbox
 * (none should: DESIGN §1, "nothing leaves the process except through the outbox"). The job counters cannot see
 * those, so each step also watches the fake API and the daemon's outbound counter for this long.
 */
const QUIET_MS = 250;

export const SCENARIOS = [
  { id: "a", title: "(a) ReconciliationSucceeded" },
  { id: "b", title: "(b) Progressing + ReconciliationSucceeded" },
  { id: "c", title: `(c) the success of (a) ${REPEATS} more times` },
] as const;
export type ScenarioId = (typeof SCENARIOS)[number]["id"];

/** The figures of one scenario in one run. */
export interface ScenarioCount {
  /** Calls at the fake API by `METHOD /path` (owner and repository kept, commit and numbers generalised). */
  readonly byRoute: Readonly<Record<string, number>>;
  readonly total: number;
  /** Δ gitops_connector_outbound_responses_total, summed over its labels. */
  readonly daemonOutbound: number;
  /** Σ `jobs` of the 202 answers. */
  readonly jobsAcknowledged: number;
  /** Δ gitops_connector_jobs_planned_total. */
  readonly jobsPlanned: number;
  /** Δ delivery attempts that ended a job (delivered, dead) and that will be retried. */
  readonly attemptsFinished: number;
  readonly attemptsRetried: number;
  /** Webhook answers other than 202. */
  readonly unexpectedAnswers: readonly string[];
}

/** `METHOD /path` with 40-hex commits (benchCommit()'s, passed on as they are) and numeric ids generalised. */
export function routeOf(request: RecordedRequest): string {
  const path = request.path
    .replace(/\/[0-9a-f]{40}\.\.\.[0-9a-f]{40}$/, "/:base...:head")
    .replace(/\/[0-9a-f]{40}(?=\/|$)/g, "/:sha")
    .replace(/\/\d+(?=\/|$)/g, "/:number");
  return `${request.method} ${path}`;
}

interface Snapshot {
  readonly requests: number;
  readonly depth: number;
  readonly outbound: number;
  readonly planned: number;
  readonly finished: number;
  readonly retried: number;
}

async function snapshot(daemon: BenchDaemon, api: FakeApi): Promise<Snapshot> {
  const text = await scrapeMetrics(daemon.url);
  const requests = api.requests().length; // read after the scrape: every call the scrape counted is recorded
  const outcome = (names: string[]) => (labels: string) => names.some((name) => labels.includes(`outcome="${name}"`));
  return {
    requests,
    depth: sumMetric(text, "gitops_connector_outbox_depth"),
    outbound: sumMetric(text, "gitops_connector_outbound_responses_total"),
    planned: sumMetric(text, "gitops_connector_jobs_planned_total"),
    finished: sumMetric(text, "gitops_connector_jobs_total", outcome(["delivered", "dead"])),
    retried: sumMetric(text, "gitops_connector_jobs_total", outcome(["retried"])),
  };
}

const same = (one: Snapshot, other: Snapshot) =>
  one.requests === other.requests && one.outbound === other.outbound && one.planned === other.planned && one.finished === other.finished;

/**
 * Waits until the outbox is empty and every job planned since `before` has finished (delivered or dead: the
 * counter moves after the job's last call was answered, so every call is recorded at the fake API by then),
 * then until nothing moves for QUIET_MS. Throws after SETTLE_TIMEOUT_MS.
 */
async function settle(daemon: BenchDaemon, api: FakeApi, before: Snapshot): Promise<Snapshot> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    if (!daemon.isRunning()) throw new Error(`api-calls: the daemon exited mid-run:\n${daemon.output().slice(-2_000)}`);
    const now = await snapshot(daemon, api);
    if (now.depth === 0 && now.finished - before.finished >= now.planned - before.planned) {
      await Bun.sleep(QUIET_MS);
      const later = await snapshot(daemon, api);
      if (later.depth === 0 && same(now, later)) return later;
    } else {
      await Bun.sleep(METRICS_POLL_MS);
    }
    if (performance.now() > deadline) {
      throw new Error(`api-calls: not settled within ${SETTLE_TIMEOUT_MS} ms (outbox depth ${now.depth}, ${now.finished - before.finished} of ${now.planned - before.planned} jobs finished)`);
    }
  }
}

/** Posts the events in order, each step settled before the next (as Flux sends Progressing well before success). */
async function measure(daemon: BenchDaemon, api: FakeApi, steps: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>): Promise<ScenarioCount> {
  const before = await settle(daemon, api, await snapshot(daemon, api));
  let after = before;
  let jobsAcknowledged = 0;
  const unexpectedAnswers: string[] = [];
  for (const events of steps) {
    for (const event of events) {
      const answer = await postEvent(daemon.url, event);
      jobsAcknowledged += answer.jobs;
      if (answer.status !== "202") unexpectedAnswers.push(answer.status);
    }
    after = await settle(daemon, api, after);
  }
  const byRoute: Record<string, number> = {};
  for (const request of api.requests().slice(before.requests, after.requests)) byRoute[routeOf(request)] = (byRoute[routeOf(request)] ?? 0) + 1;
  return {
    byRoute,
    total: after.requests - before.requests,
    daemonOutbound: after.outbound - before.outbound,
    jobsAcknowledged,
    jobsPlanned: after.planned - before.planned,
    attemptsFinished: after.finished - before.finished,
    attemptsRetried: after.retried - before.retried,
    unexpectedAnswers,
  };
}

export type ApiCallsRun = Readonly<Record<ScenarioId, ScenarioCount>> & { readonly atStartup: number };

async function runOnce(binary: string, run: number): Promise<ApiCallsRun> {
  return withBenchDaemon({ binary, config: { orchestrator: "GITHUB" } }, async (daemon, api) => {
    const atStartup = api.requests().length;
    const first = benchCommit(run, 1);
    const second = benchCommit(run, 2);
    const a = await measure(daemon, api, [[fluxSucceeded(first)]]);
    const b = await measure(daemon, api, [[fluxProgressing(second)], [fluxSucceeded(second)]]);
    const c = await measure(daemon, api, [Array.from({ length: REPEATS }, () => fluxSucceeded(first))]);
    return { a, b, c, atStartup };
  });
}

export interface ApiCallsResult {
  readonly runs: readonly ApiCallsRun[];
}

/** RUNS runs (quick or not: the figures are counts), each on a fresh daemon with fresh commits. */
export async function benchApiCalls(options: DaemonBenchOptions): Promise<ApiCallsResult> {
  const runs: ApiCallsRun[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    const result = await runOnce(options.binary, run);
    runs.push(result);
    const describe = (count: ScenarioCount) =>
      `${count.total} calls (${Object.entries(count.byRoute)
        .map(([route, n]) => `${n}× ${route}`)
        .join(", ") || "none"}), daemon counted ${count.daemonOutbound}, ${count.jobsAcknowledged} jobs`;
    options.log(`  api-calls run ${run}/${RUNS}: (a) ${describe(result.a)}; (b) ${describe(result.b)}; (c) ${describe(result.c)}`);
  }
  return { runs };
}

export function formatApiCalls(result: ApiCallsResult): string {
  const { runs } = result;
  const routes = [...new Set(runs.flatMap((run) => SCENARIOS.flatMap(({ id }) => Object.keys(run[id].byRoute))))].sort();
  const cell = (pick: (count: ScenarioCount) => number) => SCENARIOS.map(({ id }) => formatSummary(summarize(runs.map((run) => pick(run[id])))));
  const table = formatTable(
    ["calls per deployment", ...SCENARIOS.map(({ title }) => title)],
    [
      ...routes.map((route) => [route, ...cell((count) => count.byRoute[route] ?? 0)]),
      ["total at the fake API", ...cell((count) => count.total)],
      ["daemon's outbound_responses_total Δ", ...cell((count) => count.daemonOutbound)],
      ["jobs in the 202 answers", ...cell((count) => count.jobsAcknowledged)],
      ["jobs_planned_total Δ", ...cell((count) => count.jobsPlanned)],
      ["attempts retried", ...cell((count) => count.attemptsRetried)],
    ],
  );
  const unexpected = runs.flatMap((run) => SCENARIOS.flatMap(({ id }) => run[id].unexpectedAnswers));
  const mismatches = runs.flatMap((run) => SCENARIOS.filter(({ id }) => run[id].total !== run[id].daemonOutbound)).length;
  const notes = [
    `${runs.length} runs, each on a fresh daemon (orchestrator GITHUB, default outbox settings) with fresh commits; figures are median (min–max).`,
    `- each step waits until /metrics shows an empty outbox and every planned job finished, then ${QUIET_MS} ms without any new call or counter change ` +
      "(calls from outside the outbox would not show in the job counters).",
    "- (b) sends the success only after the Progressing statuses were delivered, as Flux does; sent back to back, the outbox could coalesce a still-pending main status.",
    `- the fake API's commit message names a run id and sha, so every finished deployment reads the commit and dispatches; ${runs.reduce((sum, run) => sum + run.atStartup, 0)} call(s) at start-up over all runs.`,
    mismatches === 0 ? "- the daemon's outbound counter agrees with the fake API in every scenario of every run." : `- ${mismatches} scenario run(s) where the daemon's outbound counter and the fake API disagree.`,
    unexpected.length === 0 ? "- every webhook was answered 202." : `- webhook answers other than 202: ${unexpected.join(", ")}.`,
  ];
  return `${table}\n\n${notes.join("\n")}`;
}

export const apiCallsSection: Section<ApiCallsResult> = {
  id: "api-calls",
  title: "outbound API calls per deployment (GitHub statuses + GitHub Actions dispatch)",
  needsBinary: true,
  run: benchApiCalls,
  format: formatApiCalls,
};

if (import.meta.main) await runAlone(apiCallsSection);
