/**
 * Intake alone: webhooks per second to a durable 202 with delivery paused (the fake API holds every call, so the
 * worker keeps its 8 deliveries in flight and nothing else leaves the outbox), next to the limit measured in the
 * same round: a bare `Bun.serve` that parses the same JSON (bench/limit-server.ts), the better of its rounds on
 * either side. Compiled binary, SQLite file, synchronous normal, log level info, `outbox.maxDepth` raised so the
 * run never reaches it; wrk closed loop at 16 connections, distinct commits, Flux ReconciliationSucceeded. The
 * issue's goal: ≥ 20 % of the limit.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fluxSucceeded } from "./events.ts";
import { withBenchDaemon } from "./harness.ts";
import { formatDistance } from "./limits.ts";
import { startLimitServer } from "./limit-server.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, mapSummary, summarize, type Summary } from "./stats.ts";
import { findWrk, runWrk, writeWrkTemplate } from "./wrk.ts";

/** The share of the limit the issue asks intake for. */
export const INTAKE_SHARE_GOAL = 0.2;
const CONNECTIONS = 16;

export interface IntakeResult {
  readonly daemon: Summary;
  readonly limit: Summary;
  readonly share: Summary;
  /** The durable floor (bench/limit-server.ts --durable): a bare server that stores each body, group commit. */
  readonly durable: Summary;
  readonly shareOfDurable: Summary;
  readonly daemonP99: Summary;
  /** The daemon's CPU time (user + system, all threads) per accepted webhook, in µs. */
  readonly cpuUs: Summary;
}

/** Time the hypervisor gave this VM's CPUs to others (/proc/stat "steal", in clock ticks): noise worth printing. */
function stealTicks(): number {
  try {
    return Number(readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/)[8] ?? 0);
  } catch {
    return 0;
  }
}

export async function measureIntake(options: DaemonBenchOptions): Promise<IntakeResult | undefined> {
  const wrk = findWrk();
  if (wrk === undefined) {
    options.log("wrk not installed (apt-get install wrk): intake skipped");
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-intake-"));
  const template = writeWrkTemplate(dir, "success", fluxSucceeded);
  const runs = 3;
  const seconds = options.quick ? 2 : 4;
  const daemonRates: number[] = [];
  const limitRates: number[] = [];
  const shares: number[] = [];
  const durables: number[] = [];
  const sharesOfDurable: number[] = [];
  const p99s: number[] = [];
  const cpus: number[] = [];
  let prefix = 0x10000000;
  try {
    /** The bare server's best of two rounds, one either side of the daemon's: a round that another VM's load (steal) slowed is not taken for the limit. */
    let before = await measureOnce();
    async function measureOnce(server: { durable?: string } = {}) {
      const started = await startLimitServer(server);
      return runWrk({ wrk: wrk!, url: started.url, templatePath: template, prefix: (prefix++).toString(16), connections: CONNECTIONS, seconds }).finally(() => started.stop());
    }
    async function measureLimit() {
      const after = await measureOnce();
      const best = after.okPerSecond >= before.okPerSecond ? after : before;
      before = after;
      return best;
    }
    for (let run = 0; run < runs; run += 1) {
      const stealBefore = stealTicks();
      const daemon = await withBenchDaemon({ binary: options.binary, config: { maxDepth: 10_000_000 }, prepareApi: (api) => api.hang() }, async (running) => {
        await runWrk({ wrk, url: running.url, templatePath: template, prefix: (prefix++).toString(16), connections: CONNECTIONS, seconds: 1 });
        const cpuBefore = running.cpuMs();
        const measured = await runWrk({ wrk, url: running.url, templatePath: template, prefix: (prefix++).toString(16), connections: CONNECTIONS, seconds });
        return { ...measured, cpuUsPerWebhook: ((running.cpuMs() - cpuBefore) * 1000) / Math.max(1, measured.requests - measured.non2xx) };
      });
      const limit = await measureLimit();
      const durable = await measureOnce({ durable: join(dir, `durable-${run}.db`) });
      daemonRates.push(daemon.okPerSecond);
      durables.push(durable.okPerSecond);
      sharesOfDurable.push(daemon.okPerSecond / durable.okPerSecond);
      limitRates.push(limit.okPerSecond);
      shares.push(daemon.okPerSecond / limit.okPerSecond);
      p99s.push(daemon.p99Ms);
      cpus.push(daemon.cpuUsPerWebhook);
      options.log(
        `intake run ${run + 1}/${runs}: daemon ${Math.round(daemon.okPerSecond)} req/s (p99 ${daemon.p99Ms.toFixed(2)} ms, ${daemon.non2xx} non-2xx, ` +
          `${Math.round(daemon.cpuUsPerWebhook)} µs CPU each), limit ${Math.round(limit.okPerSecond)} req/s, durable floor ${Math.round(durable.okPerSecond)} req/s; CPU stolen by other VMs meanwhile ${stealTicks() - stealBefore} ticks`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { daemon: summarize(daemonRates), limit: summarize(limitRates), share: summarize(shares), durable: summarize(durables), shareOfDurable: summarize(sharesOfDurable), daemonP99: summarize(p99s), cpuUs: summarize(cpus) };
}

export const intakeSection: Section<IntakeResult | undefined> = {
  id: "intake",
  title: `intake alone: webhooks/s to a durable 202 with delivery paused, c=${CONNECTIONS}, against a bare Bun.serve (the limit)`,
  needsBinary: true,
  run: measureIntake,
  format: (result) =>
    result === undefined
      ? "intake: skipped (no wrk)"
      : formatTable(
          ["figure", "measured", "goal", "distance (median)"],
          [
            ["daemon req/s", formatSummary(result.daemon, 0), "", ""],
            ["daemon p99 ms", formatSummary(result.daemonP99, 2), "", ""],
            ["daemon CPU µs per webhook", formatSummary(result.cpuUs, 0), "", ""],
            ["limit req/s (bare Bun.serve, same JSON)", formatSummary(result.limit, 0), "", ""],
            ["durable floor req/s (the same, storing each body, group commit)", formatSummary(result.durable, 0), "", ""],
            ["daemon / durable floor", formatSummary(mapSummary(result.shareOfDurable, (share) => share * 100), 1, " %"), "", ""],
            ["daemon / limit", formatSummary(mapSummary(result.share, (share) => share * 100), 1, " %"), `≥ ${INTAKE_SHARE_GOAL * 100} %`, formatDistance(result.share.median * 100, { atLeast: INTAKE_SHARE_GOAL * 100 }, "pp", 1)],
          ],
        ),
};

if (import.meta.main) await runAlone(intakeSection);
