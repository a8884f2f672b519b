/**
 * The deployments list, cheap enough to poll: `GET /api/deployments?limit=50` (through the page's handler, JSON
 * answer included) on an outbox holding 10,000 commits, each with two reconcilers and a pending job, next to the
 * floor measured in the same run: the bare indexed SELECT of those 50 rows, with nothing else. Also the first page
 * of one environment, and a page 50 deep (`before=`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { promised } from "../src/outbox/promised.ts";
import { createSqliteOutboxStore } from "../src/outbox/store.ts";
import { createUi } from "../src/server/ui.ts";
import { formatDistance } from "./limits.ts";
import { runAlone, type BenchOptions, type Section } from "./section.ts";
import { formatSummary, formatTable, percentile, summarize, type Summary } from "./stats.ts";

const COMMITS = 10_000;
/** The figure the issue asks for: p99 of one list request. */
export const LIST_P99_LIMIT_MS = 10;

export interface DeploymentsListResult {
  readonly commits: number;
  readonly apiP50: Summary;
  readonly apiP99: Summary;
  readonly envP99: Summary;
  readonly deepP99: Summary;
  readonly bareP99: Summary;
  readonly fillSeconds: number;
}

const commitOf = (n: number) => n.toString(16).padStart(40, "0");

function fill(path: string): number {
  const started = performance.now();
  let now = 1_700_000_000_000;
  const store = createSqliteOutboxStore({ path, now: () => now });
  for (let n = 0; n < COMMITS; n += 1) {
    now += 1_000;
    const commit = commitOf(n);
    const instance = n % 2 === 0 ? "apps-dev" : "apps-prod";
    for (const reconciler of ["apps", "infra"]) {
      store.submit(instance, commit, (known) => ({
        jobs: reconciler === "apps" ? [{ kind: "status", instance, target: "github:org/manifests", orderingKey: `${instance}|${commit}`, payload: { commit, operator: "FLUX", genre: "Kustomization", reconciler: `Kustomization/flux-system/${reconciler}`, status: { context: `kustomization/${reconciler}`, name: "Status", state: "ReconciliationSucceeded", description: "ok" }, callbackUrl: "https://example.com", statusContext: "default" } }] : [],
        known,
        record: { reconciler: `Kustomization/flux-system/${reconciler}`, context: `kustomization/${reconciler}`, state: "succeeded", reason: "ReconciliationSucceeded", message: "Applied revision" },
      }), now);
    }
  }
  store.close();
  return (performance.now() - started) / 1000;
}

function time(samples: number, run: () => void): number {
  const durations: number[] = [];
  for (let n = 0; n < samples; n += 1) {
    const started = performance.now();
    run();
    durations.push(performance.now() - started);
  }
  return percentile(durations, 0.99);
}

export async function measureDeploymentsList(options: BenchOptions): Promise<DeploymentsListResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-deployments-"));
  try {
    const path = join(dir, "outbox.db");
    options.log(`filling ${COMMITS.toLocaleString("en-US")} commits × 2 reconcilers …`);
    const fillSeconds = fill(path);
    const store = promised(createSqliteOutboxStore({ path }));
    const ui = createUi({
      reader: store.reader,
      instances: () => [{ name: "apps-dev", environment: "dev", gitOpsAppURL: "https://github.com/org/manifests/commit" }, { name: "apps-prod", environment: "prod", gitOpsAppURL: "https://github.com/org/manifests/commit" }],
      enabled: () => true,
    });
    const bare = new Database(path, { readonly: true });
    const page = bare.query("SELECT instance, \"commit\", state, first_seen FROM deployments INDEXED BY deployments_newest ORDER BY first_seen DESC, instance, \"commit\" LIMIT 50");
    const deepBefore = 1_700_000_000_000 + (COMMITS - 2_500) * 1_000;
    const runs = options.quick ? 3 : 5;
    const samples = options.quick ? 200 : 500;
    const api50: number[] = [];
    const api99: number[] = [];
    const env99: number[] = [];
    const deep99: number[] = [];
    const bare99: number[] = [];
    const request = (query: string) => async () => {
      const response = await ui.handle(new Request(`http://localhost/api/deployments${query}`));
      await response.text();
    };
    for (let run = 0; run < runs; run += 1) {
      const durations: number[] = [];
      for (let n = 0; n < samples; n += 1) {
        const started = performance.now();
        await request("?limit=50")();
        durations.push(performance.now() - started);
      }
      api50.push(percentile(durations, 0.5));
      api99.push(percentile(durations, 0.99));
      const envDurations: number[] = [];
      for (let n = 0; n < samples; n += 1) {
        const started = performance.now();
        await request("?limit=50&env=prod")();
        envDurations.push(performance.now() - started);
      }
      env99.push(percentile(envDurations, 0.99));
      const deepDurations: number[] = [];
      for (let n = 0; n < samples; n += 1) {
        const started = performance.now();
        await request(`?limit=50&before=${deepBefore}`)();
        deepDurations.push(performance.now() - started);
      }
      deep99.push(percentile(deepDurations, 0.99));
      bare99.push(time(samples, () => page.all()));
      options.log(`run ${run + 1}/${runs}: API p50 ${api50.at(-1)!.toFixed(2)} ms, p99 ${api99.at(-1)!.toFixed(2)} ms; bare SELECT p99 ${bare99.at(-1)!.toFixed(3)} ms`);
    }
    bare.close();
    await store.close();
    return { commits: COMMITS, apiP50: summarize(api50), apiP99: summarize(api99), envP99: summarize(env99), deepP99: summarize(deep99), bareP99: summarize(bare99), fillSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const deploymentsListSection: Section<DeploymentsListResult> = {
  id: "deployments",
  title: `GET /api/deployments?limit=50 on ${COMMITS.toLocaleString("en-US")} commits, against the bare indexed SELECT`,
  needsBinary: false,
  run: measureDeploymentsList,
  format: (result) =>
    formatTable(
      ["request", "figure", "limit", "distance (median)"],
      [
        ["list, newest 50 (p50)", formatSummary(result.apiP50, 2, " ms"), "", ""],
        ["list, newest 50 (p99)", formatSummary(result.apiP99, 2, " ms"), `≤ ${LIST_P99_LIMIT_MS} ms`, formatDistance(result.apiP99.median, { atMost: LIST_P99_LIMIT_MS }, "ms", 2)],
        ["list, env=prod (p99)", formatSummary(result.envP99, 2, " ms"), `≤ ${LIST_P99_LIMIT_MS} ms`, formatDistance(result.envP99.median, { atMost: LIST_P99_LIMIT_MS }, "ms", 2)],
        ["list, 2,500 deep via before= (p99)", formatSummary(result.deepP99, 2, " ms"), `≤ ${LIST_P99_LIMIT_MS} ms`, formatDistance(result.deepP99.median, { atMost: LIST_P99_LIMIT_MS }, "ms", 2)],
        ["floor: bare SELECT of 50 rows (p99)", formatSummary(result.bareP99, 3, " ms"), "", ""],
        ["(filling the outbox)", `${result.fillSeconds.toFixed(1)} s`, "", ""],
      ],
    ),
};

if (import.meta.main) await runAlone(deploymentsListSection);
