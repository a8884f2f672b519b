/**
 * What real Flux and Argo CD traffic does to the daemon (issue 11), end to end: the real daemon process (the
 * compiled binary in CI, via GITOPS_CONNECTOR_BIN), its outbox, and the requests that reach a loopback fake of
 * GitHub. Periodic re-sends, rate limits, dry run then live, reloads. Waits are on the fake's requests and the
 * daemon's log lines, never on a sleep.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLines, spawnConnector, startDaemon } from "../support/daemon.ts";
import { isStatusPost, startFakeApi, type FakeApi } from "../support/fake-api.ts";
import { azureMergeMessage, gitHubMergeMessage, HISTORY_SHAS, twoMergedPullRequests } from "../support/history.ts";

const ROOT = join(import.meta.dir, "..", "..");
const PAT = "ghp_e2eRealTrafficTokenThatMustNeverLeak01";
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

function writeConfig(options: { outbox?: string; instanceExtra?: string; subscribers?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-real-traffic-"));
  const path = join(dir, "config.yaml");
  writeFileSync(path, configText(options));
  return path;
}

function configText(options: { outbox?: string; instanceExtra?: string; subscribers?: boolean } = {}): string {
  return `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, timeoutMs: 30000${options.outbox ? `, ${options.outbox}` : ""} }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"
${options.subscribers === false ? "" : `    subscribers: { spektate: ${api.url}/api/flux }\n`}${options.instanceExtra ?? ""}`;
}

async function daemonWith(configPath: string, options: { dataDir?: string; dryRun?: boolean } = {}): Promise<Daemon> {
  const daemon = await startDaemon({ configPath, env: { PAT }, dryRun: options.dryRun ?? false, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  children.push(daemon);
  return daemon;
}

/** The captured `commit_status: update` re-send, pointed at `commit`, with `message`, of Kustomization `name`. */
function resend(commit: string, message: string, name = "apps-dev"): Record<string, unknown> {
  const event = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "flux", "kustomization-reconciliation-succeeded-commit-status-update.json"), "utf8")) as Record<string, any>;
  return { ...event, involvedObject: { ...event.involvedObject, name }, message, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

async function post(daemon: Daemon, event: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${daemon.url}/gitopsphase`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const isSubscriberPost = (request: { method: string; path: string }) => request.method === "POST" && request.path === "/api/flux";
const workerLine = (kind: string, outcome: string) => (line: string) => line.includes('"component":"worker"') && line.includes(`"kind":"${kind}"`) && line.includes(`"outcome":"${outcome}"`);

const COMMIT = "1197955e4244c18bdb9b375076bcb6ca05414672";
const OTHER_COMMIT = "2f22765d04931a078909145ca628d2264c852d7d";

describe("Flux's periodic re-sends", () => {
  test("20 re-sends with new durations on a delivered commit → 0 jobs, 0 calls at the API", async () => {
    const daemon = await daemonWith(writeConfig());
    const first = await post(daemon, resend(COMMIT, "Reconciliation finished in 812.4ms, next run in 1m0s"));
    expect(first).toMatchObject({ status: 202, body: { jobs: 3 } }); // status, subscriber, dispatch
    await api.waitFor(isStatusPost);
    await api.waitFor(isSubscriberPost);
    await api.waitFor((request) => request.path.endsWith("/dispatches"));
    const callsBefore = api.requests().length;

    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await post(daemon, resend(COMMIT, `Reconciliation finished in ${(1.2 + i * 0.41).toFixed(2)}s, next run in 1m0s`)));
    expect(answers.map((answer) => [answer.status, answer.body.jobs])).toEqual(Array.from({ length: 20 }, () => [202, 0]));

    // A sentinel on another commit (of another Kustomization, so it supersedes nothing), delivered after the
    // re-sends were answered: only its own calls were made.
    await post(daemon, resend(OTHER_COMMIT, "Reconciliation finished in 2s, next run in 1m0s", "apps-sentinel"));
    await api.waitForCount(2, (request) => request.path.endsWith("/dispatches"));
    const since = api.requests().slice(callsBefore);
    expect(since.map((request) => `${request.method} ${request.path}`).sort()).toEqual(
      [`POST /repos/org/manifests/statuses/${OTHER_COMMIT}`, "POST /api/flux", `GET /repos/org/manifests/commits/${OTHER_COMMIT}`, "POST /repos/org/app-src/dispatches"].sort(),
    );
    expect(since.find(isSubscriberPost)?.body).toMatchObject({ commit_id: OTHER_COMMIT });
  });
});

describe("rate limits", () => {
  test("403 x-ratelimit-remaining: 0 answered 5 times in a row with maxAttempts: 3 → delivered, not dead; stats and metrics show the wait", async () => {
    const configPath = writeConfig({ outbox: "maxAttempts: 3", subscribers: false });
    let limited = 0;
    api.setHandler((request) => {
      if (!isStatusPost(request) || limited >= 5) return undefined;
      limited += 1;
      // The first reset is 3 s away (time to look at stats and metrics), the others are already due.
      const reset = Math.floor(Date.now() / 1000) + (limited === 1 ? 3 : 0);
      return {
        status: 403,
        headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset), "x-ratelimit-resource": "core" },
        body: { message: "API rate limit exceeded for user ID 1.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" },
      };
    });
    const daemon = await daemonWith(configPath);
    expect((await post(daemon, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await daemon.waitForLine(workerLine("status", "rate_limited"));

    const stats = spawnConnector(["outbox", "stats", "--json", "--data-dir", daemon.dataDir, "--config", configPath], { PAT });
    expect(await stats.exited).toBe(0);
    const report = JSON.parse(stats.lines.join("\n")) as { rateLimited: Array<{ target: string; pending: number; until: string }> };
    expect(report.rateLimited).toEqual([{ target: "github:127.0.0.1:" + api.port + "/repos/org/manifests", pending: expect.any(Number), until: expect.any(String) }]);
    expect(report.rateLimited[0]!.pending).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    expect(metrics).toMatch(/^gitops_connector_outbox_rate_limited_jobs\{target="github:127\.0\.0\.1:\d+\/repos\/org\/manifests"\} [1-9]/m);
    expect(metrics).toMatch(/^gitops_connector_outbox_rate_limit_remaining_seconds\{target="github:[^"]+"\} [0-9.]+$/m);

    await daemon.waitForLine(workerLine("status", "delivered"), 20_000);
    expect(daemon.lines.filter(workerLine("status", "rate_limited"))).toHaveLength(5);
    expect(daemon.lines.filter(workerLine("status", "dead"))).toEqual([]);
    expect(api.requests(isStatusPost).map((request) => request.answeredWith)).toEqual([403, 403, 403, 403, 403, 201]);
  }, 30_000);
});

describe("a dry run never changes what a live run does", () => {
  test("--dry-run then a live run on the same data dir → every status, the subscriber post and the dispatch are delivered", async () => {
    const configPath = writeConfig();
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-dry-then-live-"));
    const event = resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s");

    const dry = await daemonWith(configPath, { dataDir, dryRun: true });
    expect((await post(dry, event)).body.jobs).toBe(3);
    await dry.waitForLine((line) => line.includes('"msg":"dry-run orchestrator job"'));
    expect(api.requests()).toEqual([]); // the dry run calls nothing
    dry.proc.kill("SIGTERM");
    expect(await dry.exited).toBe(0);
    children.splice(children.indexOf(dry), 1);

    const live = await daemonWith(configPath, { dataDir });
    expect((await post(live, event)).body.jobs).toBe(3);
    await api.waitFor(isStatusPost);
    await api.waitFor(isSubscriberPost);
    await api.waitFor((request) => request.path === "/repos/org/app-src/dispatches");
    expect(api.requests(isStatusPost).map((request) => request.path)).toEqual([`/repos/org/manifests/statuses/${COMMIT}`]);
  });

  test("a dry run on a live data dir leaves the live run's pending jobs pending, and the CLI reads each outbox apart", async () => {
    const configPath = writeConfig({ subscribers: false });
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-live-then-dry-"));
    api.hang(isStatusPost);
    const live = await daemonWith(configPath, { dataDir });
    expect((await post(live, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await api.waitFor(isStatusPost);
    live.proc.kill("SIGKILL"); // the status is still in flight: pending on disk
    await live.exited;
    children.splice(children.indexOf(live), 1);
    api.unhang();

    const dry = await daemonWith(configPath, { dataDir, dryRun: true });
    expect((await post(dry, resend(OTHER_COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await dry.waitForLine((line) => line.includes('"msg":"dry-run status job"'));
    expect(dry.lines.filter((line) => line.includes('"msg":"dry-run status job"') && line.includes(COMMIT))).toEqual([]);

    const stats = async (...flags: string[]) => {
      const cli = spawnConnector(["outbox", "stats", "--json", "--data-dir", dataDir, "--config", configPath, ...flags], { PAT });
      expect(await cli.exited).toBe(0);
      return (JSON.parse(cli.lines.join("\n")) as { path: string; jobs: Array<{ kind: string; pending: number }> });
    };
    const liveStats = await stats();
    expect(liveStats.path).toBe(join(dataDir, "outbox.db"));
    expect(liveStats.jobs.find((line) => line.kind === "status")?.pending).toBe(1);
    const dryStats = await stats("--dry-run");
    expect(dryStats.path).toBe(join(dataDir, "outbox.dry-run.db"));
  });
});

describe("graceful shutdown", () => {
  test("jobs still queued (not in flight) at SIGTERM stay on disk and the next start delivers them", async () => {
    const configPath = writeConfig({ outbox: "concurrency: 1", subscribers: false });
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-queued-at-stop-"));
    api.hang(isStatusPost);
    const first = await daemonWith(configPath, { dataDir });
    const commits = [COMMIT, OTHER_COMMIT, "6b1f53303a732ccc8c6aae6640399827c15250e3", "a625406f6977d45c1391b078f4d3656e0b75bfcb"];
    for (const commit of commits) expect((await post(first, resend(commit, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await api.waitFor(isStatusPost); // one in flight, the others queued behind concurrency 1
    first.proc.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    children.splice(children.indexOf(first), 1);
    const stopped = jsonLines(first.lines).find((line) => line.msg === "stopped; pending jobs stay in the outbox");
    expect(stopped).toMatchObject({ interrupted: 1 });
    expect(stopped!.pending).toBeGreaterThanOrEqual(commits.length); // every status (and dispatch) left, none lost
    api.unhang(); // the first daemon aborted its one call in flight: nothing was answered yet

    const second = await daemonWith(configPath, { dataDir });
    await second.waitForLine((line) => line.includes('"msg":"resuming jobs left pending by the last process"'));
    const delivered = await api.waitForCount(commits.length, (request) => isStatusPost(request) && request.answeredWith === 201, 10_000);
    expect(new Set(delivered.map((request) => request.path.split("/").pop()))).toEqual(new Set(commits));
  }, 20_000);
});

describe("a reload does what the README says", () => {
  /** Rewrites the config, sends SIGHUP, and waits for the daemon to say it reloaded. */
  async function reload(daemon: Daemon, configPath: string, text: string): Promise<void> {
    const before = daemon.lines.filter((line) => line.includes('"msg":"config reloaded"')).length;
    writeFileSync(configPath, text);
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes('"msg":"config reloaded"') && daemon.lines.filter((seen) => seen.includes('"msg":"config reloaded"')).length > before);
  }
  const progressing = (commit: string) => ({ ...resend(commit, "Deployment/default/web configured"), reason: "Progressing" });
  const COMMITS = ["6b1f53303a732ccc8c6aae6640399827c15250e3", "a625406f6977d45c1391b078f4d3656e0b75bfcb", "e4666a670f042877c67a84473a71675ee0950a08"];

  test("outbox.concurrency 1 → 4: observed as 4 parallel requests at the API, no restart", async () => {
    const subscribers = `    subscribers: { a: ${api.url}/a, b: ${api.url}/b }\n`;
    const text = (concurrency: number) =>
      configText({ subscribers: false, instanceExtra: subscribers, outbox: `concurrency: ${concurrency}` }).replace("ciCdOrchestratorType: GITHUB", "ciCdOrchestratorType: NONE");
    const configPath = writeConfig();
    writeFileSync(configPath, text(1));
    api.hang();
    const daemon = await daemonWith(configPath);
    for (const commit of COMMITS) expect((await post(daemon, progressing(commit))).status).toBe(202); // 2 statuses and 2 posts each
    await api.waitFor(() => true);
    expect(api.requests()).toHaveLength(1); // concurrency 1: one call at a time

    await reload(daemon, configPath, text(4));
    await api.waitForCount(4, () => true, 5_000);
    // Four in flight at once, none answered yet: at most half of 4 per target, so two targets have two each.
    expect(api.requests().filter((request) => request.answeredWith === undefined)).toHaveLength(4);
    expect(daemon.lines.filter((line) => line.includes('"msg":"gitops-connector listening"'))).toHaveLength(1);
    api.unhang();
  });

  test("outbox.maxAttempts and timeoutMs: the next attempt uses the reloaded values", async () => {
    const text = (outbox: string) =>
      configText({ subscribers: false }).replace("ciCdOrchestratorType: GITHUB", "ciCdOrchestratorType: NONE").replace(/^outbox: .*$/m, `outbox: { ${outbox} }`);
    const configPath = writeConfig();
    writeFileSync(configPath, text("maxAttempts: 100, initialBackoffMs: 2000, maxBackoffMs: 2000, timeoutMs: 30000"));
    api.failNext(1, { status: 502, body: { message: "Bad Gateway" } }, isStatusPost);
    const daemon = await daemonWith(configPath);
    expect((await post(daemon, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await daemon.waitForLine(workerLine("status", "retried")); // the next attempt is 2 s away

    api.hang(isStatusPost);
    await reload(daemon, configPath, text("maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20, timeoutMs: 300"));
    const dead = JSON.parse(await daemon.waitForLine(workerLine("status", "dead"), 10_000)) as { error: string; attempt: number };
    expect(dead).toMatchObject({ attempt: 2 });
    expect(dead.error).toContain("gave up after 2 attempts (outbox.maxAttempts)");
    expect(dead.error).toContain("timed out after 300 ms (outbox.timeoutMs)");
    api.unhang();
  }, 15_000);

  test("scheduler.abandonedPrSweepSeconds 3600 → 1: the next sweep runs within seconds", async () => {
    const text = (seconds: number) =>
      `${configText({ subscribers: false }).replace("ciCdOrchestratorType: GITHUB", "ciCdOrchestratorType: AZDO").replace("    gitHubGitOpsRepoName: app-src\n", `    azdoOrgUrl: ${api.azureOrgUrl()}\n`)}scheduler: { abandonedPrSweepSeconds: ${seconds} }\n`;
    const configPath = writeConfig();
    writeFileSync(configPath, text(3600));
    const daemon = await daemonWith(configPath);
    const isPullList = (request: { method: string; path: string }) => request.method === "GET" && request.path === "/repos/org/manifests/pulls";
    expect(api.requests(isPullList)).toEqual([]);
    await reload(daemon, configPath, text(1));
    await api.waitFor(isPullList, 5_000);
  });

  test("keys that need a restart are named in one warning line; the rest applies", async () => {
    const configPath = writeConfig();
    const daemon = await daemonWith(configPath);
    await reload(daemon, configPath, configText().replace("server: { host: 127.0.0.1", "server: { host: 0.0.0.0").replace("outbox: {", "outbox: { path: elsewhere.db, synchronous: full, concurrency: 3,"));
    const warnings = jsonLines(daemon.lines).filter((line) => line.component === "config" && line.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ keys: ["server.host", "outbox.path", "outbox.synchronous"] });
    expect(warnings[0]!.msg).toContain("server.host, outbox.path, outbox.synchronous");
  });

  test("a reload that would leave a live instance without its token is rejected; the running config stays", async () => {
    const configPath = writeConfig();
    const daemon = await daemonWith(configPath);
    writeFileSync(configPath, configText().replace('pat: "${PAT}"', 'pat: "${NO_SUCH_TOKEN:-}"'));
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes("config reload rejected"));
    expect(daemon.lines.some((line) => line.includes("instances[0].pat: empty; statuses to"))).toBe(true);
    expect((await post(daemon, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await api.waitFor((request) => isStatusPost(request) && request.answeredWith === 201);
  });
});

describe("two clusters on one repository", () => {
  test("environments dev and prod on one repo and one commit → distinct contexts; a callback naming prod is completed by prod only", async () => {
    const PROJECT = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    const callback = { taskid: "7e1c0d52-0000-4000-8000-000000000012", jobid: "12f1170f-54f2-53f3-20dd-22fc7dff55f9", planurl: api.azureCollectionUrl(), planid: "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b", projectid: PROJECT, pr_num: "12", environment: "prod" };
    api.on("GET", `/repos/org/manifests/commits/${COMMIT}/pulls`, { status: 200, body: [{ number: 12, state: "closed", merged_at: "2026-12-01T10:00:00Z", merge_commit_sha: COMMIT }] });
    api.on("GET", "/repos/org/manifests/pulls/12", { status: 200, body: { number: 12, state: "closed", body: `Deploy web\n\n<!-- gitops-connector: ${JSON.stringify(callback)} -->` } });
    const instance = (environment: string) => `  - name: apps-${environment}
    environment: ${environment}
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    azdoOrgUrl: ${api.azureOrgUrl()}
    pat: "\${PAT}"
`;
    const configPath = writeConfig();
    writeFileSync(configPath, `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }\noutbox: { initialBackoffMs: 50, maxBackoffMs: 200 }\ninstances:\n${instance("dev")}${instance("prod")}`);
    const daemon = await daemonWith(configPath);
    const event = resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s");
    for (const environment of ["dev", "prod"]) {
      const response = await fetch(`${daemon.url}/gitopsphase/apps-${environment}`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
      expect(response.status).toBe(202);
    }
    await api.waitForCount(2, isStatusPost);
    expect(api.requests(isStatusPost).map((request) => (request.body as { context: string }).context).sort()).toEqual(["kustomization/apps-dev/dev", "kustomization/apps-dev/prod"]);

    await daemon.waitForLine((line) => line.includes("it waits for environment prod") && line.includes('"instance":"apps-dev"'));
    await daemon.waitForLine((line) => line.includes("completed the Azure Pipelines task of PR 12"));
    const events = api.requests((request) => request.method === "POST" && request.path.endsWith("/events"));
    expect(events.map((request) => request.body)).toEqual([{ name: "TaskCompleted", taskId: callback.taskid, jobId: callback.jobid, result: "succeeded" }]);
    expect(JSON.parse(daemon.lines.find((line) => line.includes("completed the Azure Pipelines task of PR 12"))!)).toMatchObject({ instance: "apps-prod" });
  });
});

describe("superseded commits finish their pipelines", () => {
  const { O, A, B } = HISTORY_SHAS;
  const finished = (commit: string) => resend(commit, "Reconciliation finished in 3.2s, next run in 10m0s");
  const isPlanEvent = (request: { method: string; path: string }) => request.method === "POST" && request.path.endsWith("/events");
  const isDispatch = (request: { method: string; path: string }) => request.method === "POST" && request.path.endsWith("/dispatches");

  /**
   * Once O's, B's and A's notifications are recorded as delivered (a kill before that would rightly retry one),
   * restarts on the same data dir after a SIGKILL, re-sends what Flux would, and shows nothing is planned again.
   */
  async function nothingTwiceAfterRestart(daemon: Daemon, configPath: string): Promise<void> {
    const delivered = workerLine("orchestrator", "delivered");
    await daemon.waitForLine((line) => delivered(line) && daemon.lines.filter(delivered).length >= 3);
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
    children.splice(children.indexOf(daemon), 1);
    const again = await daemonWith(configPath, { dataDir: daemon.dataDir });
    // Flux's next interval re-sends B: its statuses, its pipeline and A's are all known, so nothing is planned.
    expect((await post(again, finished(B))).body.jobs).toBe(0);
    expect((await post(again, finished(B))).body.jobs).toBe(0);
  }

  test("Azure Repos: PRs A and B merged, Flux reports only B → both Azure Pipelines tasks succeeded once, A's context in B's state", async () => {
    const PROJECT = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    const callback = (pr: number) => ({ taskid: `7e1c0d52-0000-4000-8000-00000000000${pr}`, jobid: `12f1170f-0000-4000-8000-00000000000${pr}`, planurl: api.azureCollectionUrl(), planid: `5e7f3a2b-0000-4000-8000-00000000000${pr}`, projectid: PROJECT, pr_num: String(pr) });
    api.setHistory(twoMergedPullRequests(azureMergeMessage));
    api.setPipelineCallback(1, callback(1));
    api.setPipelineCallback(2, callback(2));
    const configPath = writeConfig();
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: AZDO
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://dev.azure.com/org/project/_git/manifests
    azdoOrgUrl: ${api.azureOrgUrl()}
    azdoGitOpsRepoName: manifests
    pat: "\${PAT}"
`,
    );
    const daemon = await daemonWith(configPath);
    expect((await post(daemon, finished(O))).status).toBe(202); // the last commit the Kustomization finished
    await daemon.waitForLine((line) => line.includes(`commit ${O} of instance apps-dev was not merged from a pull request`));
    expect((await post(daemon, finished(B))).status).toBe(202); // A and B merged; Flux applied only B

    const events = await api.waitForCount(2, isPlanEvent, 10_000);
    expect(events.map((request) => (request.body as { taskId: string }).taskId).sort()).toEqual([callback(1).taskid, callback(2).taskid]);
    expect(events.map((request) => (request.body as { result: string }).result)).toEqual(["succeeded", "succeeded"]);
    const onA = await api.waitFor((request) => request.method === "POST" && request.path.endsWith(`/commits/${A}/statuses`), 10_000);
    expect(onA.body).toMatchObject({ state: "succeeded", description: `Status: superseded by ${B.slice(0, 7)}`, context: { name: "kustomization/apps-dev", genre: "fluxcd" } });
    await daemon.waitForLine((line) => line.includes(`1 commit superseded by ${B.slice(0, 7)}`));
    expect(api.requests((request) => request.path.includes(HISTORY_SHAS.a1) || request.path.includes(HISTORY_SHAS.b1))).toEqual([]); // branch commits untouched

    await nothingTwiceAfterRestart(daemon, configPath);
    expect(api.requests(isPlanEvent)).toHaveLength(2);
  }, 30_000);

  test("GitHub: two sync-success dispatches with A's and B's run ids, A's marked superseded_by B; nothing twice after a restart", async () => {
    api.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const configPath = writeConfig({ subscribers: false });
    const daemon = await daemonWith(configPath);
    expect((await post(daemon, finished(O))).status).toBe(202);
    await daemon.waitForLine((line) => line.includes(`no GitHub Actions dispatch for commit ${O}`));
    expect((await post(daemon, finished(B))).status).toBe(202);

    const dispatches = await api.waitForCount(2, isDispatch, 10_000);
    expect(dispatches.map((request) => request.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { event_type: "sync-success", client_payload: { sha: "a0ffee", runid: "111", commitmessage: gitHubMergeMessage(1, "A"), superseded_by: B } },
      { event_type: "sync-success", client_payload: { sha: "b0ffee", runid: "222", commitmessage: gitHubMergeMessage(2, "B") } },
    ]);
    const onA = await api.waitFor((request) => isStatusPost(request) && request.path.endsWith(`/statuses/${A}`), 10_000);
    expect(onA.body).toMatchObject({ state: "success", context: "kustomization/apps-dev", description: `superseded by ${B.slice(0, 7)}` });

    await nothingTwiceAfterRestart(daemon, configPath);
    expect(api.requests(isDispatch)).toHaveLength(2);
  }, 30_000);
});
