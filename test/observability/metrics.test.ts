/**
 * GET /metrics of the real daemon (the compiled binary when GITOPS_CONNECTOR_BIN is set), parsed with a
 * Prometheus text parser, before and after webhooks and deliveries to a loopback fake GitHub: the counters
 * move by exactly what happened on the wire, failures show as retried and 5xx, the abandoned-PR sweep's jobs
 * and listings are counted, and no label value is a token or a name an unauthenticated caller made up.
 * The outbound fetch wrapper's classes and scopes are unit-tested at the end.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NO_TARGET, observeFetch, withOutboundScope, type OutboundClass } from "../../src/observability/outbound.ts";
import { startDaemon } from "../support/daemon.ts";
import { isAzurePullRequestList, isStatusPost, startFakeApi, type FakeApi, type RecordedRequest } from "../support/fake-api.ts";

// Untyped CommonJS; the shape below is what it returns (prom2json's).
const parsePrometheusTextFormat = require("parse-prometheus-text-format") as (text: string) => MetricFamily[];

interface Sample {
  readonly value?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly count?: string;
  readonly buckets?: Readonly<Record<string, string>>;
}
interface MetricFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: readonly Sample[];
}

const PAT = "ghp_metricsTestTokenThatMustNeverBeALabel01";
const ORCHESTRATOR_PAT = "azdo-metrics-orchestrator-pat-never-a-label-0002";
const WEBHOOK_TOKEN = "webhook-bearer-never-a-label-7f3a";
const COMMIT_A = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4";
const COMMIT_B = "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4";

let api: FakeApi;
type Daemon = Awaited<ReturnType<typeof startDaemon>>;
const children: Daemon[] = [];

beforeAll(() => {
  api = startFakeApi();
});
afterAll(() => api.stop());
afterEach(() => {
  for (const child of children.splice(0)) child.proc.kill("SIGKILL");
  api.reset();
});

function writeConfig(instances: string, extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-metrics-"));
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    `server: { host: 127.0.0.1 }
auth: { bearerToken: "\${WEBHOOK_TOKEN}" }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, timeoutMs: 10000 }
${extra}
instances:
${instances}
`,
  );
  return path;
}

const githubInstance = () => `  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"
    subscribers: { spektate: "${api.url}/api/flux" }`;

async function daemonWith(configPath: string): Promise<Daemon> {
  const daemon = await startDaemon({ configPath, env: { PAT, ORCHESTRATOR_PAT, WEBHOOK_TOKEN }, dryRun: false });
  children.push(daemon);
  return daemon;
}

function fluxSucceeded(commit: string) {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev", uid: "d3c4b5a6-1111-4222-8333-944455556666", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-11-20T10:15:00Z",
    message: "Reconciliation finished in 2.1s, next run in 10m0s",
    reason: "ReconciliationSucceeded",
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
  };
}

async function postWebhook(daemon: Daemon, event: unknown, path = "/gitopsphase", token: string | null = WEBHOOK_TOKEN) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${daemon.url}${path}`, { method: "POST", body: JSON.stringify(event), headers });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

// ---------------------------------------------------------------------------------------------- scraping

/**
 * One parsed scrape. The parser keeps a labelled histogram's buckets but drops its labels and `_count`
 * (it flattens every label set into one), so histograms are also read as untyped series: then
 * `<name>_count{…}` samples come out one by one, in several same-named fragments.
 */
class Scrape {
  readonly families: readonly MetricFamily[];
  private readonly series: readonly MetricFamily[];

  constructor(text: string) {
    this.families = parsePrometheusTextFormat(text);
    this.series = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped"));
  }

  family(name: string): MetricFamily | undefined {
    return this.families.find((family) => family.name === name);
  }

  /** The sum of the samples named `name` whose labels include `labels`; 0 when there are none. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.series
      .filter((family) => family.name === name)
      .flatMap((family) => family.metrics)
      .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value))
      .reduce((total, sample) => total + Number(sample.value), 0);
  }

  labelValues(): string[] {
    return this.series.flatMap((family) => family.metrics.flatMap((sample) => Object.values(sample.labels ?? {})));
  }
}

async function scrape(daemon: Daemon): Promise<Scrape> {
  const response = await fetch(`${daemon.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return new Scrape(await response.text());
}

/** Scrapes every 25 ms until the predicate holds; the last scrape. */
async function scrapeUntil(daemon: Daemon, predicate: (metrics: Scrape) => boolean, timeoutMs = 10_000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metrics = await scrape(daemon);
    if (predicate(metrics)) return metrics;
    if (Date.now() > deadline) throw new Error(`metrics never matched:\n${JSON.stringify(metrics.families.filter((f) => f.name.startsWith("gitops_connector_")), null, 1)}`);
    await Bun.sleep(25);
  }
}

const WEBHOOKS = "gitops_connector_webhooks_total";
const PLANNED = "gitops_connector_jobs_planned_total";
const JOBS = "gitops_connector_jobs_total";
const OUTBOUND = "gitops_connector_outbound_responses_total";
const DEPTH = "gitops_connector_outbox_depth";
const OLDEST = "gitops_connector_outbox_oldest_pending_seconds";
const LATENCY = "gitops_connector_delivery_seconds";
const LATENCY_COUNT = `${LATENCY}_count`;

const answered2xx = (request: RecordedRequest) => request.answeredWith !== undefined && request.answeredWith >= 200 && request.answeredWith < 300;

function expectNoSecretLabels(metrics: Scrape, ...forbidden: string[]) {
  for (const value of metrics.labelValues()) {
    for (const secret of [PAT, ORCHESTRATOR_PAT, WEBHOOK_TOKEN, ...forbidden]) expect(value).not.toContain(secret);
  }
}

// ---------------------------------------------------------------------------------------------- daemon

describe("GET /metrics of the daemon", () => {
  test("a webhook and its deliveries move webhooks, planned, delivered, outbound 2xx and the histogram by exactly what happened", async () => {
    const daemon = await daemonWith(writeConfig(githubInstance()));
    const before = await scrape(daemon);
    for (const name of [WEBHOOKS, PLANNED, JOBS, OUTBOUND, DEPTH, OLDEST, LATENCY, "gitops_connector_build_info", "gitops_connector_config_reloads_total"]) {
      expect(before.family(name)?.name ?? `${name} missing`).toBe(name);
    }
    expect(before.sum(DEPTH)).toBe(0);
    expect(before.sum("gitops_connector_config_reloads_total", { result: "failure" })).toBe(0);

    const accepted = await postWebhook(daemon, fluxSucceeded(COMMIT_A));
    expect(accepted.status).toBe(202);
    const jobs = accepted.body.jobs as number;
    expect(jobs).toBe(3); // one status, one subscriber post, one dispatch
    const after = await scrapeUntil(daemon, (m) => m.sum(JOBS, { outcome: "delivered" }) === before.sum(JOBS, { outcome: "delivered" }) + jobs && m.sum(DEPTH) === 0);

    const delta = (name: string, labels: Record<string, string> = {}) => after.sum(name, labels) - before.sum(name, labels);
    expect(delta(WEBHOOKS, { operator: "FLUX", instance: "apps-dev", result: "accepted" })).toBe(1);
    expect(delta(PLANNED)).toBe(jobs);
    expect(delta(JOBS, { outcome: "delivered" })).toBe(jobs);
    expect(delta(JOBS, { outcome: "retried" }) + delta(JOBS, { outcome: "dead" })).toBe(0);
    expect(delta(LATENCY_COUNT)).toBe(jobs);
    expect(delta(LATENCY_COUNT, { outcome: "delivered" })).toBe(jobs);
    expect(after.sum(DEPTH)).toBe(0);
    expect(after.sum(OLDEST)).toBe(0);
    // Every answer the fake gave is counted once, under the target of the job that asked for it.
    expect(delta(OUTBOUND, { class: "2xx" })).toBe(api.requests(answered2xx).length);
    expect(delta(OUTBOUND)).toBe(api.requests().length);
    const host = api.url.replace(/^http:\/\//, "");
    expect(delta(OUTBOUND, { target: `github:${host}/repos/org/manifests`, class: "2xx" })).toBe(1); // the status
    expect(delta(OUTBOUND, { target: "subscriber:spektate", class: "2xx" })).toBe(1);
    expect(delta(OUTBOUND, { target: `github-actions:${host}/repos/org/app-src`, class: "2xx" })).toBe(2); // commit read + dispatch
    expect(after.sum(OUTBOUND, { target: "none" })).toBe(0);
    expectNoSecretLabels(after);
  }, 20_000);

  test("a 503 then 201 moves retried and outbound 5xx, and the job is still delivered", async () => {
    const daemon = await daemonWith(writeConfig(githubInstance()));
    const before = await scrape(daemon);
    api.failNext(1, { status: 503, body: { message: "Service Unavailable" } }, isStatusPost);
    const accepted = await postWebhook(daemon, fluxSucceeded(COMMIT_B));
    expect(accepted.status).toBe(202);
    const jobs = accepted.body.jobs as number;
    const after = await scrapeUntil(daemon, (m) => m.sum(JOBS, { outcome: "delivered" }) === before.sum(JOBS, { outcome: "delivered" }) + jobs && m.sum(DEPTH) === 0);

    const delta = (name: string, labels: Record<string, string> = {}) => after.sum(name, labels) - before.sum(name, labels);
    const statusTarget = `github:${api.url.replace(/^http:\/\//, "")}/repos/org/manifests`;
    expect(delta(JOBS, { kind: "status", target: statusTarget, outcome: "retried" })).toBe(1);
    expect(delta(JOBS, { outcome: "delivered" })).toBe(jobs);
    expect(delta(OUTBOUND, { target: statusTarget, class: "5xx" })).toBe(1);
    expect(delta(OUTBOUND, { target: statusTarget, class: "2xx" })).toBe(1);
    expect(delta(LATENCY_COUNT, { kind: "status", outcome: "retried" })).toBe(1);
    expect(delta(LATENCY_COUNT)).toBe(jobs + 1);
    expectNoSecretLabels(after);
  }, 20_000);

  test("the gauges the shipped alerts read: instances, max depth, dead jobs, the last webhook's time", async () => {
    const startedBefore = Date.now() / 1000;
    const configPath = writeConfig(githubInstance());
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace("outbox: {", "outbox: { maxDepth: 321,"));
    const daemon = await daemonWith(configPath);
    const before = await scrape(daemon);
    expect(before.sum("gitops_connector_instances")).toBe(1);
    expect(before.sum("gitops_connector_outbox_max_depth")).toBe(321);
    expect(before.sum("gitops_connector_outbox_dead_jobs")).toBe(0);
    // Set at start, so an alert on "no webhook for an hour" also fires for a daemon that never got one.
    const started = before.sum("gitops_connector_last_webhook_timestamp_seconds");
    expect(started).toBeGreaterThanOrEqual(Math.floor(startedBefore));

    // A status the fake refuses for good (422) is dead at once.
    api.failNext(1, { status: 422, body: { message: "Validation Failed" } }, isStatusPost);
    expect((await postWebhook(daemon, fluxSucceeded(COMMIT_B))).status).toBe(202);
    const after = await scrapeUntil(daemon, (m) => m.sum("gitops_connector_outbox_dead_jobs") === 1);
    expect(after.sum(JOBS, { kind: "status", outcome: "dead" })).toBe(1);
    expect(after.sum("gitops_connector_last_webhook_timestamp_seconds")).toBeGreaterThan(started);
  }, 20_000);

  test("labels stay bounded: instance names from requests that match no instance become unknown", async () => {
    const daemon = await daemonWith(writeConfig(githubInstance()));
    const invented = "ghost-instance-9d1c0e7b";
    expect((await postWebhook(daemon, fluxSucceeded(COMMIT_A), `/gitopsphase/${invented}`, null)).status).toBe(401);
    expect((await postWebhook(daemon, fluxSucceeded(COMMIT_A), `/gitopsphase/${invented}`)).status).toBe(404);
    expect((await postWebhook(daemon, fluxSucceeded(COMMIT_A), "/gitopsphase/apps-dev", "wrong-token")).status).toBe(401);
    const named = { ...fluxSucceeded(COMMIT_A), metadata: { revision: `main@sha1:${COMMIT_A}`, gitops_connector_config_name: `${invented}-2` } };
    expect((await postWebhook(daemon, named)).status).toBe(404);

    const metrics = await scrape(daemon);
    expect(metrics.sum(WEBHOOKS, { operator: "unknown", instance: "unknown", result: "unauthorized" })).toBe(1);
    expect(metrics.sum(WEBHOOKS, { operator: "unknown", instance: "unknown", result: "unknown_instance" })).toBe(2);
    // A configured instance in the path is known before authentication: its own series, not unknown.
    expect(metrics.sum(WEBHOOKS, { operator: "FLUX", instance: "apps-dev", result: "unauthorized" })).toBe(1);
    const results = new Set(metrics.family(WEBHOOKS)!.metrics.map((sample) => sample.labels!.result));
    for (const result of results) expect(["accepted", "ignored", "invalid", "unauthorized", "unknown_instance", "too_large", "unsupported_media_type", "unavailable", "internal_error"]).toContain(result!);
    expectNoSecretLabels(metrics, invented, "wrong-token");
  }, 20_000);

  test("the abandoned-PR sweep: its jobs count as planned, its listing under the git target", async () => {
    const configPath = writeConfig(
      `  - name: apps-azdo
    gitOpsOperatorType: FLUX
    gitRepositoryType: AZDO
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://dev.azure.com/org/project/_git/manifests/commit
    azdoOrgUrl: ${api.azureOrgUrl()}
    azdoGitOpsRepoName: manifests
    azdoPrRepoName: app-hld
    pat: "\${PAT}"
    orchestratorPat: "\${ORCHESTRATOR_PAT}"`,
      "scheduler: { abandonedPrSweepSeconds: 1, abandonedPrCutoffHours: 72 }",
    );
    api.on("GET", "/org/project/_apis/git/repositories/app-hld/pullrequests", () => ({
      status: 200,
      body: { count: 1, value: [{ pullRequestId: 31, status: "abandoned", title: "Deploy app-src 4183912431 to dev", closedDate: new Date().toISOString() }] },
    }));
    const daemon = await daemonWith(configPath);
    const host = api.url.replace(/^http:\/\//, "");
    const gitTarget = `azdo:${host}/org/project/manifests`;
    const orchestratorTarget = `azure-pipelines:${host}/org/project`;
    const metrics = await scrapeUntil(daemon, (m) => m.sum(JOBS, { kind: "abandoned-pr", outcome: "delivered" }) === 1);
    expect(metrics.sum(PLANNED, { kind: "abandoned-pr", target: orchestratorTarget })).toBe(1);
    expect(metrics.sum(OUTBOUND, { target: gitTarget, class: "2xx" })).toBeGreaterThanOrEqual(1); // the listing
    expect(api.requests(isAzurePullRequestList).length).toBeGreaterThanOrEqual(1);
    // The job reads the PR's properties (no pipeline waits on it): counted under the job's target.
    expect(metrics.sum(OUTBOUND, { target: orchestratorTarget, class: "2xx" })).toBe(1);
    expect(metrics.sum(OUTBOUND, { target: "none" })).toBe(0);
    expectNoSecretLabels(metrics);
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------- outbound fetch

describe("observeFetch", () => {
  const observed = (answer: () => Promise<Response>) => {
    const seen: Array<[string, OutboundClass]> = [];
    const fetch = observeFetch((target, outcome) => void seen.push([target, outcome]), answer);
    return { fetch, seen };
  };

  test("classes by status, inside a scope that keeps the last status", async () => {
    for (const [status, outcome] of [[200, "2xx"], [204, "2xx"], [302, "3xx"], [404, "4xx"], [429, "4xx"], [503, "5xx"]] as const) {
      const { fetch, seen } = observed(async () => new Response(null, { status }));
      const scope: { target: string; lastStatus?: number } = { target: "github:api.github.com/repos/org/manifests" };
      const response = await withOutboundScope(scope, () => fetch("http://127.0.0.1/"));
      expect(response.status).toBe(status);
      expect(seen).toEqual([["github:api.github.com/repos/org/manifests", outcome]]);
      expect(scope.lastStatus).toBe(status);
    }
  });

  test("no answer is error; a call its signal cut off is timeout; both rethrow", async () => {
    const refused = observed(async () => Promise.reject(new TypeError("Unable to connect")));
    await expect(withOutboundScope({ target: "subscriber:spektate" }, () => refused.fetch("http://127.0.0.1:1/"))).rejects.toThrow("Unable to connect");
    expect(refused.seen).toEqual([["subscriber:spektate", "error"]]);

    const controller = new AbortController();
    const cut = observed(() => new Promise((_, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason))));
    const call = withOutboundScope({ target: "subscriber:spektate" }, () => cut.fetch("http://127.0.0.1/", { signal: controller.signal }));
    controller.abort(new Error("timed out after 10 ms (outbox.timeoutMs)"));
    await expect(call).rejects.toThrow("timed out");
    expect(cut.seen).toEqual([["subscriber:spektate", "timeout"]]);
  });

  test("the scope follows awaits and stays apart between concurrent calls; outside any scope is none", async () => {
    const { fetch, seen } = observed(async () => {
      await Bun.sleep(1);
      return new Response("ok");
    });
    const deliver = async (target: string) => {
      await Bun.sleep(2);
      await fetch("http://127.0.0.1/");
    };
    await Promise.all([withOutboundScope({ target: "a" }, () => deliver("a")), withOutboundScope({ target: "b" }, () => deliver("b"))]);
    await fetch("http://127.0.0.1/");
    expect(seen.map(([target]) => target).sort()).toEqual(["a", "b", NO_TARGET].sort());
  });
});
