/**
 * Delivery alone: statuses per second from a full outbox to an instant fake GitHub at the default
 * `outbox.concurrency` (8), next to the limit measured in the same round: a bare `fetch` loop
 * (bench/fetch-loop.ts, a process of its own as the daemon is) sending the very request the daemon sent, at 8
 * and at 4 in flight (the worker gives one target at most half of the concurrency, and every status here goes
 * to one repository). Per run: delivery held (the fake hangs every call), 2,000 Flux Progressing events of
 * distinct commits accepted (5 statuses each), then the fake released and timed until it has every status;
 * the daemon's CPU per delivered status over that window. The goal: ≥ 50 % of the loop. Beside it the
 * durable floor (fetch-loop.ts with `durable`): the same loop reading each job from a SQLite file and marking it
 * done there, batched per turn, at 4 in flight as the daemon has for one target.
 */
import { fluxProgressing, benchCommit } from "./events.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchLoop, type FetchLoopOptions } from "./fetch-loop.ts";
import { withBenchDaemon } from "./harness.ts";
import { formatDistance } from "./limits.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, mapSummary, summarize, type Summary } from "./stats.ts";
import { isStatusPost, startFakeApi, type RecordedRequest } from "../test/support/fake-api.ts";

export const DELIVERY_SHARE_GOAL = 0.5;
const CONCURRENCY = 8;
const SENDERS = 16;
const DELIVERY_TIMEOUT_MS = 120_000;

export interface DeliveryResult {
  readonly statuses: number;
  readonly daemon: Summary;
  readonly loop: Summary;
  readonly loopAtShare: Summary;
  readonly share: Summary;
  /** The durable floor at one target's share of the concurrency (see fetch-loop.ts). */
  readonly durable: Summary;
  readonly shareOfDurable: Summary;
  readonly cpuUs: Summary;
}

/** Posts `events` webhooks, `SENDERS` at a time; returns how many jobs the daemon said it planned. */
async function fill(url: string, events: number, run: number): Promise<number> {
  let next = 0;
  let jobs = 0;
  const sender = async () => {
    while (next < events) {
      const n = next++;
      const response = await fetch(`${url}/gitopsphase`, { method: "POST", body: JSON.stringify(fluxProgressing(benchCommit(run, n))), headers: { "content-type": "application/json" } });
      const body = (await response.json()) as { jobs?: number };
      if (response.status !== 202) throw new Error(`delivery: webhook ${n} answered ${response.status}: ${JSON.stringify(body)}`);
      jobs += body.jobs ?? 0;
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return jobs;
}

/** The bare loop in a process of its own, against a fresh fake of the same kind; durable: its floor's outbox file. */
async function loopRate(sample: RecordedRequest, count: number, concurrency: number, durable?: string): Promise<number> {
  const api = startFakeApi();
  try {
    const headers = Object.fromEntries(Object.entries(sample.headers).filter(([name]) => !["host", "content-length", "connection"].includes(name)));
    const options: FetchLoopOptions = { url: api.url, path: sample.path.replace(/[0-9a-f]{40}$/, "{sha}"), headers, body: sample.rawBody, count, concurrency, ...(durable ? { durable } : {}) };
    const child = Bun.spawn([process.execPath, `${import.meta.dir}/fetch-loop.ts`, JSON.stringify(options)], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`delivery: fetch loop exited with ${code}: ${err}`);
    const { ms, failed } = JSON.parse(out) as Awaited<ReturnType<typeof fetchLoop>>;
    if (failed > 0) throw new Error(`delivery: ${failed} of the fetch loop's requests failed`);
    return (count * 1000) / ms;
  } finally {
    await api.stop();
  }
}

export async function measureDelivery(options: DaemonBenchOptions): Promise<DeliveryResult> {
  const runs = 3;
  const events = options.quick ? 1_000 : 2_000;
  const daemonRates: number[] = [];
  const loopRates: number[] = [];
  const shareLoopRates: number[] = [];
  const shares: number[] = [];
  const durables: number[] = [];
  const sharesOfDurable: number[] = [];
  const cpus: number[] = [];
  let statuses = 0;
  for (let run = 0; run < runs; run += 1) {
    const measured = await withBenchDaemon({ binary: options.binary, config: { maxDepth: 1_000_000, concurrency: CONCURRENCY }, prepareApi: (api) => api.hang() }, async (daemon, api) => {
      const planned = await fill(daemon.url, events, 0x100 + run);
      const cpuBefore = daemon.cpuMs();
      const started = performance.now();
      api.unhang();
      const delivered = await api.waitForCount(planned, isStatusPost, DELIVERY_TIMEOUT_MS);
      const ms = performance.now() - started;
      return { planned, rate: (planned * 1000) / ms, cpuUs: ((daemon.cpuMs() - cpuBefore) * 1000) / planned, sample: delivered.at(-1)! };
    });
    statuses = measured.planned;
    const loop = await loopRate(measured.sample, measured.planned, CONCURRENCY);
    const loopAtShare = await loopRate(measured.sample, measured.planned, CONCURRENCY / 2);
    const dir = mkdtempSync(join(tmpdir(), "bench-delivery-floor-"));
    const durable = await loopRate(measured.sample, measured.planned, CONCURRENCY / 2, join(dir, "outbox.db")).finally(() => rmSync(dir, { recursive: true, force: true }));
    durables.push(durable);
    sharesOfDurable.push(measured.rate / durable);
    daemonRates.push(measured.rate);
    loopRates.push(loop);
    shareLoopRates.push(loopAtShare);
    shares.push(measured.rate / loop);
    cpus.push(measured.cpuUs);
    options.log(
      `delivery run ${run + 1}/${runs}: ${measured.planned} statuses, daemon ${Math.round(measured.rate)}/s (${Math.round(measured.cpuUs)} µs CPU each), ` +
        `fetch loop ${Math.round(loop)}/s at ${CONCURRENCY}, ${Math.round(loopAtShare)}/s at ${CONCURRENCY / 2}, durable floor ${Math.round(durable)}/s at ${CONCURRENCY / 2}`,
    );
  }
  return {
    statuses,
    daemon: summarize(daemonRates),
    loop: summarize(loopRates),
    loopAtShare: summarize(shareLoopRates),
    share: summarize(shares),
    durable: summarize(durables),
    shareOfDurable: summarize(sharesOfDurable),
    cpuUs: summarize(cpus),
  };
}

const percent = (summary: Summary): Summary => mapSummary(summary, (share) => share * 100);

export const deliverySection: Section<DeliveryResult> = {
  id: "delivery",
  title: `delivery alone: statuses/s from a full outbox to an instant fake API at outbox.concurrency ${CONCURRENCY}, against a bare fetch loop (the limit)`,
  needsBinary: true,
  run: measureDelivery,
  format: (result) =>
    formatTable(
      ["figure", "measured", "goal", "distance (median)"],
      [
        [`daemon statuses/s (${result.statuses.toLocaleString("en-US")} per run)`, formatSummary(result.daemon, 0), "", ""],
        ["daemon CPU µs per status", formatSummary(result.cpuUs, 0), "", ""],
        [`limit: fetch loop at ${CONCURRENCY} in flight`, formatSummary(result.loop, 0), "", ""],
        [`fetch loop at ${CONCURRENCY / 2} (one target's share)`, formatSummary(result.loopAtShare, 0), "", ""],
        [`durable floor at ${CONCURRENCY / 2} (the same, each job read from SQLite and marked done, batched)`, formatSummary(result.durable, 0), "", ""],
        ["daemon / durable floor", formatSummary(percent(result.shareOfDurable), 1, " %"), "", ""],
        ["daemon / limit", formatSummary(percent(result.share), 1, " %"), `≥ ${DELIVERY_SHARE_GOAL * 100} %`, formatDistance(result.share.median * 100, { atLeast: DELIVERY_SHARE_GOAL * 100 }, "pp", 1)],
      ],
    ),
};

if (import.meta.main) await runAlone(deliverySection);
