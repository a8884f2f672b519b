/**
 * CPU per deployment: the daemon's CPU time (user + system, every thread, from /proc) for one Flux
 * ReconciliationSucceeded from the webhook to its delivered commit status and its `repository_dispatch`, plus
 * the `supersede` read every finish of a reconciler plans (the fake holds a linear history, each commit the
 * parent of the next, so that read finds nothing in between, as for a repository deploying every merge). Events
 * of one Kustomization for successive commits, sent open loop at RATE per second after WARMUP uncounted ones;
 * CPU counted from just before the first counted send until the fake has every status, dispatch and compare read. Compiled binary, log level info.
 * The goal: ≤ 0.25 ms; the original connector spends about 5 ms (research notes).
 */
import { isDispatch, isStatusPost, type FakeCommit } from "../test/support/fake-api.ts";
import { postEvent } from "./daemon-client.ts";
import { benchCommit, fluxSucceeded } from "./events.ts";
import { withBenchDaemon } from "./harness.ts";
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
}

/** Deployments sent first and not counted: a fresh process spends its first seconds compiling (JIT threads). */
const WARMUP = 300;

async function runOnce(binary: string, run: number, deployments: number): Promise<{ cpuMs: number; deliveredMs: number }> {
  const commits = Array.from({ length: WARMUP + deployments }, (_, n) => benchCommit(0x200 + run, n));
  const history: FakeCommit[] = commits.map((sha, n) => ({ sha, parents: n === 0 ? [] : [commits[n - 1]!], message: `Merge pull request #${n + 1} from org/deploy/${4_183_900_000 + n}/${sha}/dev` }));
  return withBenchDaemon({ binary, config: { orchestrator: "GITHUB", maxDepth: 1_000_000 }, prepareApi: (api) => api.setHistory(history) }, async (daemon, api) => {
    /** Sends commits[from, to) open loop at RATE and waits until the fake has every call they make. */
    const deploy = async (from: number, to: number) => {
      const started = performance.now();
      const answers: Promise<unknown>[] = [];
      for (let n = from; n < to; n++) {
        const wait = started + ((n - from) * 1000) / RATE - performance.now();
        if (wait > 0) await Bun.sleep(wait); // open loop: the schedule, not the answers, paces the sends
        answers.push(postEvent(daemon.url, fluxSucceeded(commits[n]!)));
      }
      await Promise.all(answers);
      await api.waitForCount(to, isStatusPost, DRAIN_TIMEOUT_MS);
      await api.waitForCount(to, isDispatch, DRAIN_TIMEOUT_MS);
      // Every finish after the first reads the commits since the last one.
      await api.waitForCount(to - 1, isCompare, DRAIN_TIMEOUT_MS);
      return performance.now() - started;
    };
    await deploy(0, WARMUP);
    const cpuBefore = daemon.cpuMs();
    const deliveredMs = await deploy(WARMUP, WARMUP + deployments);
    return { cpuMs: (daemon.cpuMs() - cpuBefore) / deployments, deliveredMs };
  });
}

export async function measureCpuPerDeployment(options: DaemonBenchOptions): Promise<CpuPerDeploymentResult> {
  const deployments = options.quick ? 600 : 1_500;
  const cpu: number[] = [];
  const delivered: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    const result = await runOnce(options.binary, run, deployments);
    cpu.push(result.cpuMs);
    delivered.push(result.deliveredMs);
    options.log(`cpu per deployment run ${run + 1}/3: ${deployments} deployments at ${RATE}/s, ${result.cpuMs.toFixed(3)} ms CPU each, all delivered after ${(result.deliveredMs / 1000).toFixed(1)} s`);
  }
  return { deployments, cpuMs: summarize(cpu), deliveredMs: summarize(delivered) };
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
        ["first send → last call at the fake", formatSummary(mapSeconds(result.deliveredMs), 1, " s"), "", ""],
      ],
    ),
};

function mapSeconds(summary: Summary): Summary {
  return { ...summary, median: summary.median / 1000, min: summary.min / 1000, max: summary.max / 1000 };
}

if (import.meta.main) await runAlone(cpuPerDeploymentSection);
