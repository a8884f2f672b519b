/**
 * CPU per deployment: the daemon's CPU time (user + system, every thread, from /proc) for one Flux
 * ReconciliationSucceeded from the webhook to its delivered commit status and its `repository_dispatch`, plus
 * the `supersede` read every finish of a reconciler plans (the fake holds a linear history, each commit the
 * parent of the next, so that read finds nothing in between, as for a repository deploying every merge). Events
 * of one Kustomization for successive commits, sent open loop at RATE per second after WARMUP uncounted ones;
 * CPU counted from just before the first counted send until the fake has every status, dispatch and compare read. Compiled binary, log level info.
 * The goal: ≤ 0.25 ms; the original connector spends about 5 ms (research notes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDispatch, isStatusPost, startFakeApi, type FakeApi, type FakeCommit } from "../test/support/fake-api.ts";
import { postEvent } from "./daemon-client.ts";
import { benchCommit, fluxSucceeded } from "./events.ts";
import { startFloorDeployment } from "./floor-deployment.ts";
import { processCpuMs, withBenchDaemon } from "./harness.ts";
import { formatDistance } from "./limits.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, summarize, type Summary } from "./stats.ts";

export const CPU_PER_DEPLOYMENT_GOAL_MS = 0.25;
const RATE = 200;
const DRAIN_TIMEOUT_MS = 60_000;
const isCompare = (request: { method: string; path: string }) => request.method === "GET" && request.path.includes("/compare/");

export interface CpuPerDeploymentResult {
  readonly deployments: number;
  readonly cpuMs: Summary;
  readonly deliveredMs: Summary;
  /** The same load on bench/floor-deployment.ts: the runtime's own cost of what a deployment needs. */
  readonly floorMs: Summary;
  readonly overFloor: Summary;
}

/** Deployments sent first and not counted: a fresh process spends its first seconds compiling (JIT threads). */
const WARMUP = 300;

function historyOf(run: number, deployments: number): { commits: string[]; history: FakeCommit[] } {
  const commits = Array.from({ length: WARMUP + deployments }, (_, n) => benchCommit(0x200 + run, n));
  const history = commits.map((sha, n) => ({ sha, parents: n === 0 ? [] : [commits[n - 1]!], message: `Merge pull request #${n + 1} from org/deploy/${4_183_900_000 + n}/${sha}/dev` }));
  return { commits, history };
}

/**
 * Sends WARMUP uncounted deployments, then `deployments` counted ones, open loop at RATE, to the receiver at
 * `url`, each waited for until the fake has its status, dispatch and compare read; the CPU of `pid` counted.
 */
async function measureReceiver(url: string, pid: number, api: FakeApi, commits: readonly string[], deployments: number): Promise<{ cpuMs: number; deliveredMs: number }> {
  const deploy = async (from: number, to: number) => {
    const started = performance.now();
    const answers: Promise<unknown>[] = [];
    for (let n = from; n < to; n++) {
      const wait = started + ((n - from) * 1000) / RATE - performance.now();
      if (wait > 0) await Bun.sleep(wait); // open loop: the schedule, not the answers, paces the sends
      answers.push(postEvent(url, fluxSucceeded(commits[n]!)));
    }
    await Promise.all(answers);
    await api.waitForCount(to, isStatusPost, DRAIN_TIMEOUT_MS);
    await api.waitForCount(to, isDispatch, DRAIN_TIMEOUT_MS);
    // Every finish after the first reads the commits since the last one.
    await api.waitForCount(to - 1, isCompare, DRAIN_TIMEOUT_MS);
    return performance.now() - started;
  };
  await deploy(0, WARMUP);
  const cpuBefore = processCpuMs(pid);
  const deliveredMs = await deploy(WARMUP, WARMUP + deployments);
  return { cpuMs: (processCpuMs(pid) - cpuBefore) / deployments, deliveredMs };
}

async function runOnce(binary: string, run: number, deployments: number): Promise<{ cpuMs: number; deliveredMs: number }> {
  const { commits, history } = historyOf(run, deployments);
  return withBenchDaemon({ binary, config: { orchestrator: "GITHUB", maxDepth: 1_000_000 }, prepareApi: (api) => api.setHistory(history) }, (daemon, api) =>
    measureReceiver(daemon.url, daemon.pid, api, commits, deployments),
  );
}

async function runFloorOnce(run: number, deployments: number): Promise<number> {
  const { commits, history } = historyOf(0x80 + run, deployments);
  const api = startFakeApi();
  api.setHistory(history);
  const dir = mkdtempSync(join(tmpdir(), "bench-floor-"));
  const floor = await startFloorDeployment({ api: api.orgUrl("org"), db: join(dir, "floor.db") }).catch(async (error: unknown) => {
    await api.stop();
    throw error;
  });
  try {
    return (await measureReceiver(floor.url, floor.pid, api, commits, deployments)).cpuMs;
  } finally {
    await floor.stop();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCpuPerDeployment(options: DaemonBenchOptions): Promise<CpuPerDeploymentResult> {
  const deployments = options.quick ? 600 : 1_500;
  const cpu: number[] = [];
  const delivered: number[] = [];
  const floors: number[] = [];
  const overFloor: number[] = [];
  // Daemon and floor alternate, so that a slow stretch of the VM falls on both.
  for (let run = 0; run < 3; run += 1) {
    const result = await runOnce(options.binary, run, deployments);
    const floor = await runFloorOnce(run, deployments);
    cpu.push(result.cpuMs);
    delivered.push(result.deliveredMs);
    floors.push(floor);
    overFloor.push(result.cpuMs / floor);
    options.log(
      `cpu per deployment run ${run + 1}/3: ${deployments} deployments at ${RATE}/s, ${result.cpuMs.toFixed(3)} ms CPU each, all delivered after ${(result.deliveredMs / 1000).toFixed(1)} s; ` +
        `floor ${floor.toFixed(3)} ms`,
    );
  }
  return { deployments, cpuMs: summarize(cpu), deliveredMs: summarize(delivered), floorMs: summarize(floors), overFloor: summarize(overFloor) };
}

export const cpuPerDeploymentSection: Section<CpuPerDeploymentResult> = {
  id: "cpu",
  title: `CPU per deployment: Flux success → status + repository_dispatch (+ the supersede read), ${RATE}/s, all threads`,
  needsBinary: true,
  run: measureCpuPerDeployment,
  format: (result) =>
    formatTable(
      ["figure", "measured", "goal", "distance (median)"],
      [
        [`daemon CPU per deployment (${result.deployments.toLocaleString("en-US")} per run)`, formatSummary(result.cpuMs, 3, " ms"), `≤ ${CPU_PER_DEPLOYMENT_GOAL_MS} ms`, formatDistance(result.cpuMs.median, { atMost: CPU_PER_DEPLOYMENT_GOAL_MS }, "ms", 3)],
        ["floor: the same load on bench/floor-deployment.ts", formatSummary(result.floorMs, 3, " ms"), "", ""],
        ["daemon / floor", formatSummary(result.overFloor, 2, "×"), "", ""],
        ["first send → last call at the fake", formatSummary(mapSeconds(result.deliveredMs), 1, " s"), "", ""],
      ],
    ),
};

function mapSeconds(summary: Summary): Summary {
  return { ...summary, median: summary.median / 1000, min: summary.min / 1000, max: summary.max / 1000 };
}

if (import.meta.main) await runAlone(cpuPerDeploymentSection);
