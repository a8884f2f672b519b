/**
 * End-to-end latency of the real daemon: webhook POST → commit status arriving at a loopback fake GitHub API.
 * The daemon runs as a child process (`serve --port 0`, network delivery, orchestrator NONE, no subscribers,
 * default outbox settings), exactly as test/e2e starts it; the fake API and the sender share this process, so
 * send and arrival times are read from one clock (performance.now()). Events are Flux
 * `ReconciliationSucceeded` for distinct commits, one status each, sent open-loop at a fixed rate: a slow
 * answer never delays the next send, so queueing shows up in the figures instead of lowering the rate.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../test/support/daemon.ts";
import { isStatusPost, startFakeApi, type FakeApi } from "../test/support/fake-api.ts";
import { percentile, summarize, type Summary } from "./stats.ts";

const PAT = "ghp_benchTokenThatIsOnlyEverSentToLoopback01";
const WARMUP_EVENTS = 50;
/** How long a run waits for the last statuses after the last send before giving up on the stragglers. */
const DRAIN_TIMEOUT_MS = 20_000;

function writeConfig(dir: string, api: FakeApi): string {
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    `server: { host: 127.0.0.1 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    pat: "\${PAT}"
`,
  );
  return path;
}

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

/** Distinct 40-hex commits; `run` keeps runs apart so no status is deduplicated against an earlier one. */
const commitFor = (run: number, n: number) => `${run.toString(16).padStart(2, "0")}${n.toString(16).padStart(8, "0")}${"be4c0".repeat(6)}`;

function succeeded(commit: string): string {
  return JSON.stringify({
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev", uid: "d3c4b5a6-1111-4222-8333-944455556666", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-11-21T10:15:00Z",
    message: "Reconciliation finished in 2.1s, next run in 10m0s",
    reason: "ReconciliationSucceeded",
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
  });
}

interface Sent {
  at: number;
  answeredAt?: number;
  status?: number;
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
async function runOnce(run: number, events: number, ratePerSecond: number): Promise<LatencyRun> {
  const api = startFakeApi();
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-bench-e2e-"));
  const arrivals = new Map<string, number>();
  api.setHandler((request) => {
    if (isStatusPost(request)) arrivals.set(request.path.split("/").pop()!, performance.now());
    return undefined; // the default 201 answer
  });
  const daemon = await startDaemon({ configPath: writeConfig(dir, api), env: { PAT }, dryRun: false, dataDir: dir });
  try {
    const post = (commit: string) =>
      fetch(`${daemon.url}/gitopsphase`, { method: "POST", body: succeeded(commit), headers: { "content-type": "application/json" } });

    const warmup = Array.from({ length: WARMUP_EVENTS }, (_, n) => commitFor(0xff - run, n));
    for (const commit of warmup) await (await post(commit)).arrayBuffer();
    await api.waitForCount(warmup.length, isStatusPost, DRAIN_TIMEOUT_MS);

    const checkpointsBefore = walCheckpointSequence(join(dir, "outbox.db"));
    const sent = new Map<string, Sent>();
    const answers: Promise<void>[] = [];
    const intervalMs = 1000 / ratePerSecond;
    const started = performance.now();
    for (let n = 0; n < events; n += 1) {
      const due = started + n * intervalMs;
      const wait = due - performance.now();
      // No busy-wait for the sub-millisecond rest: it would stall the fake API, which shares this event loop.
      if (wait > 0) await Bun.sleep(wait);
      const commit = commitFor(run, n);
      const record: Sent = { at: performance.now() };
      sent.set(commit, record);
      answers.push(
        post(commit).then(
          async (response) => {
            await response.arrayBuffer();
            record.answeredAt = performance.now();
            record.status = response.status;
          },
          () => undefined,
        ),
      );
    }
    const sendSeconds = (performance.now() - started) / 1000;
    await Promise.all(answers);
    const accepted = [...sent.values()].filter((record) => record.status === 202).length;
    const mine = (path: string) => sent.has(path.split("/").pop()!);
    await api.waitForCount(accepted, (request) => isStatusPost(request) && mine(request.path), DRAIN_TIMEOUT_MS).catch(() => undefined);

    const checkpoints = walCheckpointSequence(join(dir, "outbox.db")) - checkpointsBefore;
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
  } finally {
    daemon.proc.kill("SIGTERM");
    await daemon.exited;
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LatencyResult {
  readonly runs: readonly LatencyRun[];
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly delivery: { p50: Summary; p99: Summary; max: Summary };
  readonly response: { p50: Summary; p99: Summary };
  readonly achievedRate: Summary;
}

/** Three runs, each on a fresh daemon and data dir: 200 events/s for 5 s (2 s with `quick`). */
export async function benchE2eLatency(options: { quick: boolean; log: (line: string) => void }): Promise<LatencyResult> {
  const ratePerSecond = 200;
  const seconds = options.quick ? 2 : 5;
  const runs: LatencyRun[] = [];
  for (let run = 1; run <= 3; run += 1) {
    const result = await runOnce(run, ratePerSecond * seconds, ratePerSecond);
    runs.push(result);
    options.log(
      `  e2e run ${run}/3: ${result.events} sent at ${result.rate.toFixed(1)}/s, ${result.accepted} accepted, ${result.delivered} delivered; ` +
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
