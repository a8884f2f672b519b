/**
 * Fan-out of one commit (issue 12, item 7): 1,000 Kustomizations report ReconciliationSucceeded for the same
 * commit, once with no subscriber and once with two (each status then also becomes two subscriber posts). Per
 * run: the time to get all 1,000 webhooks accepted (sent one after the other, as notification-controller sends
 * them), and the time until every status and post has arrived at the loopback fake, with the subscriber posts
 * per second. Each run on a fresh daemon; the fake answers statuses at once and subscriber posts after 20 ms.
 */
import { benchCommit } from "./events.ts";
import { withBenchDaemon } from "./harness.ts";
import { runAlone, type DaemonBenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, summarize, type Summary } from "./stats.ts";
import type { FakeApi } from "../test/support/fake-api.ts";

const RECONCILERS = 1_000;
const RUNS = 3;
/** How long the fake subscribers take to answer: real ones (Spektate behind an ingress) are not instant. */
const SUBSCRIBER_LATENCY_MS = 20;
const DELIVERY_TIMEOUT_MS = 120_000;

function succeeded(commit: string, n: number): Record<string, unknown> {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: `apps-${n}`, uid: `d3c4b5a6-1111-4222-8333-${String(n).padStart(12, "0")}`, apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-12-01T10:15:00Z",
    message: "Reconciliation finished in 2.1s, next run in 10m0s",
    reason: "ReconciliationSucceeded",
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
  };
}

interface FanOutRun {
  readonly acceptMs: number;
  readonly deliveredMs: number;
  readonly subscriberPostsPerSecond: number;
}

async function runOnce(binary: string, run: number, subscribers: number): Promise<FanOutRun> {
  let api: FakeApi | undefined;
  const names = Array.from({ length: subscribers }, (_, n) => `s${n}`);
  // The subscribers are the fake itself, whose address exists only once prepareApi has run: read at write time.
  const config = {
    maxDepth: 100_000,
    get extraInstanceYaml() {
      return subscribers === 0 ? "" : `    subscribers: { ${names.map((name) => `${name}: ${api!.url}/${name}`).join(", ")} }\n`;
    },
  };
  return withBenchDaemon(
    {
      binary,
      prepareApi: (fake) => {
        api = fake;
        for (const name of names) fake.on("POST", `/${name}`, async () => (await Bun.sleep(SUBSCRIBER_LATENCY_MS), { status: 200, body: { ok: true } }));
      },
      config,
    },
    async (daemon, fake) => {
      const commit = benchCommit(run, subscribers);
      const started = performance.now();
      for (let n = 0; n < RECONCILERS; n++) {
        const response = await fetch(`${daemon.url}/gitopsphase`, { method: "POST", body: JSON.stringify(succeeded(commit, n)), headers: { "content-type": "application/json" } });
        if (response.status !== 202) throw new Error(`fan-out: webhook ${n} answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
      const acceptMs = performance.now() - started;
      const isPost = (request: { method: string; path: string }) => request.method === "POST" && names.some((name) => request.path === `/${name}`);
      await fake.waitForCount(RECONCILERS, (request) => request.method === "POST" && request.path.includes("/statuses/"), DELIVERY_TIMEOUT_MS);
      if (subscribers > 0) await fake.waitForCount(RECONCILERS * subscribers, isPost, DELIVERY_TIMEOUT_MS);
      const deliveredMs = performance.now() - started;
      const posts = fake.requests(isPost);
      const spanMs = posts.length > 1 ? posts.at(-1)!.at - posts[0]!.at : 0;
      return { acceptMs, deliveredMs, subscriberPostsPerSecond: spanMs > 0 ? (posts.length * 1000) / spanMs : 0 };
    },
  );
}

export interface FanOutResult {
  readonly withoutSubscribers: readonly FanOutRun[];
  readonly withSubscribers: readonly FanOutRun[];
}

export async function benchFanOut(options: DaemonBenchOptions): Promise<FanOutResult> {
  const withoutSubscribers: FanOutRun[] = [];
  const withSubscribers: FanOutRun[] = [];
  for (let run = 1; run <= RUNS; run++) {
    for (const [subscribers, into] of [[0, withoutSubscribers], [2, withSubscribers]] as const) {
      const result = await runOnce(options.binary, run, subscribers);
      into.push(result);
      options.log(`  fan-out run ${run}/${RUNS}, ${subscribers} subscribers: accepted in ${(result.acceptMs / 1000).toFixed(2)} s, all delivered after ${(result.deliveredMs / 1000).toFixed(2)} s`);
    }
  }
  return { withoutSubscribers, withSubscribers };
}

const seconds = (summary: Summary) => formatSummary(summary, 2, " s");

export const fanOutSection: Section<FanOutResult> = {
  id: "fan-out",
  title: `fan-out: ${RECONCILERS.toLocaleString("en-US")} Kustomizations report one commit, without and with 2 subscribers`,
  needsBinary: true,
  run: benchFanOut,
  format(result) {
    const row = (label: string, runs: readonly FanOutRun[]) => [
      label,
      seconds(summarize(runs.map((run) => run.acceptMs / 1000))),
      seconds(summarize(runs.map((run) => run.deliveredMs / 1000))),
      runs.some((run) => run.subscriberPostsPerSecond > 0) ? formatSummary(summarize(runs.map((run) => run.subscriberPostsPerSecond)), 0, "/s") : "—",
    ];
    return [
      formatTable(["subscribers", "1,000 webhooks accepted", "all statuses and posts delivered", "subscriber posts"], [row("none", result.withoutSubscribers), row("2", result.withSubscribers)]),
      "",
      `${RUNS} runs each on a fresh daemon (outbox.maxDepth 100000, concurrency 8), webhooks sent one after the other; statuses answered at once, subscriber posts after ${SUBSCRIBER_LATENCY_MS} ms.`,
    ].join("\n");
  },
};

if (import.meta.main) await runAlone(fanOutSection);
