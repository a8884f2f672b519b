/**
 * The durable outbox's acceptance, end to end: the real daemon process (the compiled binary in CI, via
 * GITOPS_CONNECTOR_BIN) delivering through real Octokit/fetch to a loopback fake GitHub API that can fail,
 * hang and rate-limit on demand. Crash, outage, 429 Retry-After, 422 dead, backpressure, SIGTERM idle/loaded.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteOutboxStore } from "../../src/outbox/store.ts";
import { spawnConnector, startDaemon } from "../support/daemon.ts";
import { isDispatch, isStatusPost, startFakeApi, type FakeApi, type RecordedRequest } from "../support/fake-api.ts";

const PAT = "ghp_e2eOutboxTokenThatMustNeverBeLogged01";
let api: FakeApi;
const children: Array<{ proc: { kill(signal?: number | NodeJS.Signals): void } }> = [];

beforeAll(() => {
  api = startFakeApi();
});
afterAll(() => api.stop());
afterEach(() => {
  for (const child of children.splice(0)) child.proc.kill("SIGKILL");
  api.reset();
});

interface Setup {
  outbox?: string;
  orchestrator?: "GITHUB" | "NONE";
  grace?: number;
}

function writeConfig(setup: Setup = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-outbox-e2e-"));
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, shutdownGraceMs: ${setup.grace ?? 2000} }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, timeoutMs: 30000, ${setup.outbox ?? ""} }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: ${setup.orchestrator ?? "GITHUB"}
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"
`,
  );
  return path;
}

async function daemonWith(configPath: string, dataDir?: string) {
  const daemon = await startDaemon({ configPath, env: { PAT }, dryRun: false, ...(dataDir ? { dataDir } : {}) });
  children.push(daemon);
  return daemon;
}

const sha = (n: number) => `${n.toString(16).padStart(2, "0")}${"c0ffee".repeat(6)}ab`.slice(0, 40);

function fluxEvent(commit: string, reason: string, message: string, name = "apps-dev") {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name, uid: "d3c4b5a6-1111-4222-8333-944455556666", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: reason.endsWith("Failed") ? "error" : "info",
    timestamp: "2026-11-20T10:15:00Z",
    message,
    reason,
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
  };
}
const PROGRESSING = "Deployment/default/podinfo configured\nService/default/podinfo configured";
const SUCCEEDED = "Reconciliation finished in 2.1s, next run in 10m0s";

async function post(url: string, event: unknown) {
  return fetch(`${url}/gitopsphase`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
}

/** The state last accepted by the API for each (commit, context). */
function deliveredStates(requests: readonly RecordedRequest[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const request of requests.filter((r) => isStatusPost(r) && r.answeredWith === 201)) {
    const body = request.body as { state: string; context: string };
    states.set(`${request.path.split("/").pop()}|${body.context}`, body.state);
  }
  return states;
}

describe("durable outbox, end to end", () => {
  test("crash: 20 events accepted while the API hangs, SIGKILL, restart → every delivery arrives, no dispatch twice", async () => {
    const configPath = writeConfig();
    const commits = Array.from({ length: 10 }, (_, n) => sha(n + 1));
    commits.forEach((commit, n) => api.setCommitMessage(commit, `Merge pull request #${n} from org/deploy/${9000 + n}/${"ab".repeat(20)}/dev`));
    api.hang();
    const first = await daemonWith(configPath);
    for (const commit of commits) {
      expect((await post(first.url, fluxEvent(commit, "Progressing", PROGRESSING))).status).toBe(202);
      expect((await post(first.url, fluxEvent(commit, "ReconciliationSucceeded", SUCCEEDED))).status).toBe(202);
    }
    await api.waitFor(isStatusPost, 5_000); // deliveries are in flight, hanging
    first.proc.kill("SIGKILL");
    await first.exited;

    api.unhang();
    const second = await daemonWith(configPath, first.dataDir);
    expect(second.lines.some((line) => line.includes("resuming jobs left pending by the last process"))).toBe(true);
    await api.waitForCount(commits.length, (r) => isDispatch(r) && r.answeredWith === 204, 20_000);
    const contexts = ["kustomization/apps-dev", "kustomization/apps-dev/deployment", "kustomization/apps-dev/service"];
    const allDelivered = () => {
      const states = deliveredStates(api.requests());
      return commits.every((commit) => contexts.every((context) => states.get(`${commit}|${context}`) === "success"));
    };
    await api.waitFor(allDelivered, 20_000);

    const states = deliveredStates(api.requests());
    for (const commit of commits) {
      expect(states.get(`${commit}|kustomization/apps-dev`)).toBe("success");
      expect(states.get(`${commit}|kustomization/apps-dev/deployment`)).toBe("success");
      expect(states.get(`${commit}|kustomization/apps-dev/service`)).toBe("success");
    }
    const dispatched = api.requests((r) => isDispatch(r) && r.answeredWith === 204).map((r) => (r.body as { client_payload: { runid: string } }).client_payload.runid);
    expect(dispatched.sort()).toEqual(commits.map((_, n) => String(9000 + n)).sort());
  }, 60_000);

  test("outage: 503s for a while, then 201 → all statuses delivered, the newest state last for each context", async () => {
    const configPath = writeConfig({ orchestrator: "NONE", outbox: "maxAttempts: 100" });
    const healthyAt = Date.now() + 1_500;
    api.setHandler((request) => (isStatusPost(request) && Date.now() < healthyAt ? { status: 503, body: { message: "Service Unavailable" } } : undefined));
    const daemon = await daemonWith(configPath);
    const commit = sha(42);
    await post(daemon.url, fluxEvent(commit, "Progressing", PROGRESSING));
    await post(daemon.url, fluxEvent(commit, "ReconciliationSucceeded", SUCCEEDED));
    const contexts = ["kustomization/apps-dev", "kustomization/apps-dev/deployment", "kustomization/apps-dev/service"];
    await api.waitFor(() => {
      const states = deliveredStates(api.requests());
      return contexts.every((context) => states.get(`${commit}|${context}`) === "success");
    }, 20_000);
    expect(api.requests((r) => isStatusPost(r) && r.answeredWith === 503).length).toBeGreaterThan(0);

    // Everything is delivered: a graceful stop finds nothing pending, and no older state came after the newest.
    daemon.proc.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    const stopped = JSON.parse(await daemon.waitForLine((line) => line.includes("stopped; pending jobs stay"))) as { pending: number };
    expect(stopped.pending).toBe(0);
    const mainStates = api.requests((r) => isStatusPost(r) && r.answeredWith === 201 && (r.body as { context: string }).context === "kustomization/apps-dev").map((r) => (r.body as { state: string }).state);
    expect(mainStates.at(-1)).toBe("success");
  }, 30_000);

  test("429 with Retry-After: 2 → the next call to that target is at least 2 s later", async () => {
    const configPath = writeConfig({ orchestrator: "NONE" });
    api.failNext(1, { status: 429, headers: { "retry-after": "2" }, body: { message: "API rate limit exceeded" } }, isStatusPost);
    const daemon = await daemonWith(configPath);
    await post(daemon.url, fluxEvent(sha(7), "ReconciliationSucceeded", SUCCEEDED)); // one status
    const [limited] = await api.waitForCount(1, (r) => isStatusPost(r) && r.answeredWith === 429, 10_000);
    await daemon.waitForLine((line) => line.includes('"status":429') && line.includes('"outcome":"rate_limited"'));
    // Another commit's status, for the same target, must wait for the same reset.
    await post(daemon.url, fluxEvent(sha(8), "ReconciliationSucceeded", SUCCEEDED));
    const after = await api.waitForCount(3, (r) => isStatusPost(r) && r.answeredWith !== undefined, 10_000);
    for (const next of after.slice(1)) {
      expect(next.at - limited!.at).toBeGreaterThanOrEqual(2_000);
      expect(next.answeredWith).toBe(201);
    }
  }, 30_000);

  test("422 → that job dead at once with the API's message in `outbox dead`; other jobs unaffected", async () => {
    const configPath = writeConfig({ orchestrator: "NONE" });
    api.setHandler((request) =>
      isStatusPost(request) && (request.body as { context: string }).context === "kustomization/broken"
        ? { status: 422, body: { message: "Validation Failed", errors: [{ resource: "Status", code: "custom", message: "context is reserved" }] } }
        : undefined,
    );
    const daemon = await daemonWith(configPath);
    await post(daemon.url, fluxEvent(sha(9), "ReconciliationSucceeded", SUCCEEDED, "broken"));
    await post(daemon.url, fluxEvent(sha(9), "ReconciliationSucceeded", SUCCEEDED, "fine"));
    await api.waitFor((r) => isStatusPost(r) && (r.body as { context: string }).context === "kustomization/fine" && r.answeredWith === 201, 10_000);
    await daemon.waitForLine((line) => line.includes('"outcome":"dead"'), 10_000);

    // The CLI reads the same file while the daemon runs.
    const cli = spawnConnector(["outbox", "dead", "--data-dir", daemon.dataDir, "--config", configPath], { PAT });
    expect(await cli.exited).toBe(0);
    const output = cli.lines.join("\n");
    expect(output).toContain("Validation Failed");
    expect(output).toContain("kustomization/broken");
    expect(api.requests((r) => isStatusPost(r) && (r.body as { context: string }).context === "kustomization/broken")).toHaveLength(1);
  }, 30_000);

  test("backpressure: maxDepth 5 with the API hanging → 503 + Retry-After, and /readyz says so", async () => {
    const configPath = writeConfig({ outbox: "maxDepth: 5", orchestrator: "NONE" });
    api.hang();
    const daemon = await daemonWith(configPath);
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let n = 1; n <= 10 && !refused; n += 1) {
      const response = await post(daemon.url, fluxEvent(sha(100 + n), "Progressing", PROGRESSING));
      statuses.push(response.status);
      if (response.status === 503) refused = response;
    }
    expect(refused?.status).toBe(503);
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await refused!.json()) as { error: string }).error).toContain("maxDepth 5");
    expect(statuses[0]).toBe(202);
    expect((await fetch(`${daemon.url}/readyz`)).status).toBe(503);
  }, 30_000);

  test("SIGTERM when idle: exit 0 in well under a second", async () => {
    const daemon = await daemonWith(writeConfig({ orchestrator: "NONE" }));
    const started = performance.now();
    daemon.proc.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(performance.now() - started).toBeLessThan(1_000);
  }, 20_000);

  test("SIGTERM under load: webhooks get 503, exit 0 within the grace, unfinished jobs stay pending on disk", async () => {
    const configPath = writeConfig({ orchestrator: "NONE", grace: 500 });
    api.hang();
    const daemon = await daemonWith(configPath);
    // Five Kustomizations, so no finish supersedes another's (that would add a job each: src/delivery/superseded.ts).
    for (let n = 1; n <= 5; n += 1) await post(daemon.url, fluxEvent(sha(200 + n), "ReconciliationSucceeded", SUCCEEDED, `apps-${n}`));
    await api.waitFor(isStatusPost, 5_000);
    const started = performance.now();
    daemon.proc.kill("SIGTERM");
    await daemon.waitForLine((line) => line.includes("stopping: webhooks now get 503"));
    const during = await post(daemon.url, fluxEvent(sha(299), "ReconciliationSucceeded", SUCCEEDED));
    expect(during.status).toBe(503);
    expect((await fetch(`${daemon.url}/readyz`)).status).toBe(503);
    expect(await daemon.exited).toBe(0);
    expect(performance.now() - started).toBeLessThan(500 + 4_000);
    const store = createSqliteOutboxStore({ path: join(daemon.dataDir, "outbox.db") });
    expect(store.pendingDepth()).toBe(5);
    expect(store.claimDue({ now: Date.now() + 60_000, limit: 10, excludeTargets: [] })).toHaveLength(5);
    store.close();
  }, 30_000);
});
