/**
 * Every git provider and orchestrator, end to end (issue 4, item 4): a webhook fixture in, the real daemon
 * process (the compiled binary in CI, via GITOPS_CONNECTOR_BIN), its outbox, and the exact requests that reach
 * a loopback fake of GitHub and Azure DevOps: method, path, query, body, and whose token went where. `pat` and
 * `orchestratorPat` differ in every case, so a token sent to the wrong API shows. Waits are on the fake's
 * requests and the daemon's own log lines, never on a sleep.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnConnector, startDaemon } from "../support/daemon.ts";
import {
  DEFAULT_AZURE_COMMIT_MESSAGE,
  DEFAULT_COMMIT_MESSAGE,
  isAzureCommitRead,
  isAzurePropertiesRead,
  isAzurePullRequestList,
  isAzureStatusPost,
  isCommitRead,
  isDispatch,
  isPlanEvent,
  isPlanRead,
  isPullRequestList,
  isPullRequestRead,
  isPullsOfCommit,
  isStatusPost,
  isTimelineRead,
  startFakeApi,
  type FakeApi,
  type RecordedRequest,
} from "../support/fake-api.ts";

const ROOT = join(import.meta.dir, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures");

/** Shaped like the real thing (an Azure DevOps PAT is 52 characters), and different, so a mix-up shows. */
const PAT = "e2egitpatforthemanifestsrepositorymustneverleak0001";
const ORCHESTRATOR_PAT = "e2eorchestratorpatforpipelinesmustneverleak00000002";
const ENV = { PAT, ORCHESTRATOR_PAT };

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

// ---------------------------------------------------------------------------------------------- config

type Operator = "FLUX" | "ARGOCD";
type Repository = "GITHUB" | "AZDO";
type Orchestrator = "GITHUB" | "AZDO" | "NONE";

interface InstanceSpec {
  readonly name: string;
  readonly operator: Operator;
  readonly repository: Repository;
  readonly orchestrator: Orchestrator;
  /** Azure Repos: where the pipeline's PRs live, when not the manifests repository. */
  readonly prRepo?: string;
}

const GITHUB_APP_URL = "https://github.com/org/manifests/commit";
const AZURE_APP_URL = "https://dev.azure.com/org/project/_git/manifests/commit";
const ARGO_APP_URL = "https://argocd.example.com/applications/guestbook";

function appUrlOf(spec: InstanceSpec): string {
  if (spec.operator === "ARGOCD") return ARGO_APP_URL;
  return spec.repository === "GITHUB" ? GITHUB_APP_URL : AZURE_APP_URL;
}

function instanceYaml(spec: InstanceSpec): string {
  const lines = [
    `  - name: ${spec.name}`,
    `    gitOpsOperatorType: ${spec.operator}`,
    `    gitRepositoryType: ${spec.repository}`,
    `    ciCdOrchestratorType: ${spec.orchestrator}`,
    `    gitOpsAppURL: ${appUrlOf(spec)}`,
  ];
  if (spec.repository === "GITHUB" || spec.orchestrator === "GITHUB") {
    lines.push(`    gitHubOrgUrl: ${api.orgUrl("org")}`, "    gitHubGitOpsManifestsRepoName: manifests", "    gitHubGitOpsRepoName: app-src");
  }
  if (spec.repository === "AZDO" || spec.orchestrator === "AZDO") lines.push(`    azdoOrgUrl: ${api.azureOrgUrl()}`);
  if (spec.repository === "AZDO") lines.push("    azdoGitOpsRepoName: manifests");
  if (spec.prRepo) lines.push(`    azdoPrRepoName: ${spec.prRepo}`);
  lines.push('    pat: "${PAT}"', '    orchestratorPat: "${ORCHESTRATOR_PAT}"');
  return lines.join("\n");
}

function writeConfig(instances: readonly InstanceSpec[], outbox = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-providers-e2e-"));
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, timeoutMs: 10000${outbox ? `, ${outbox}` : ""} }
scheduler: { abandonedPrSweepSeconds: 1, abandonedPrCutoffHours: 72 }
instances:
${instances.map(instanceYaml).join("\n")}
`,
  );
  return path;
}

async function daemonWith(configPath: string, dataDir?: string): Promise<Daemon> {
  const daemon = await startDaemon({ configPath, env: ENV, dryRun: false, ...(dataDir ? { dataDir } : {}) });
  children.push(daemon);
  return daemon;
}

async function stop(daemon: Daemon): Promise<void> {
  daemon.proc.kill("SIGTERM");
  expect(await daemon.exited).toBe(0);
  children.splice(children.indexOf(daemon), 1);
}

/** Resolves with a matching line once `count` log lines match (already seen or still to come). */
function waitForLogCount(daemon: Daemon, count: number, predicate: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
  return daemon.waitForLine((line) => predicate(line) && daemon.lines.filter(predicate).length >= count, timeoutMs);
}

/** `gitops-connector outbox <action> --json` on the daemon's data dir (it may be running). */
async function outboxCli(daemon: Daemon, configPath: string, ...action: string[]): Promise<{ jobs: Array<Record<string, any>> }> {
  const cli = spawnConnector(["outbox", ...action, "--json", "--data-dir", daemon.dataDir, "--config", configPath], ENV);
  expect(await cli.exited).toBe(0);
  expectNoTokens(cli.lines);
  return JSON.parse(cli.lines.join("\n")) as { jobs: Array<Record<string, any>> };
}

const workerLine = (kind: string, outcome: string) => (line: string) => line.includes('"component":"worker"') && line.includes(`"kind":"${kind}"`) && line.includes(`"outcome":"${outcome}"`);

// ---------------------------------------------------------------------------------------------- webhooks

/** A captured Flux event, pointed at `commit` and routed to `instance` by its eventMetadata. */
function fluxFixture(name: string, instance: string, commit?: string): Record<string, any> {
  const event = JSON.parse(readFileSync(join(FIXTURES, "flux", `${name}.json`), "utf8")) as Record<string, any>;
  event.metadata = { ...event.metadata, gitops_connector_config_name: instance, ...(commit ? { revision: `main@sha1:${commit}` } : {}) };
  return event;
}

/** A captured Argo CD notification, routed to `instance`. */
function argoFixture(name: string, instance: string): Record<string, any> {
  const event = JSON.parse(readFileSync(join(FIXTURES, "argocd", `${name}.json`), "utf8")) as Record<string, any>;
  return { ...event, gitops_connector_config_name: instance };
}

async function post(daemon: Daemon, event: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${daemon.url}/gitopsphase`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, accepted: body.accepted }).toEqual({ status: 202, accepted: true });
  return body;
}

// ---------------------------------------------------------------------------------------------- requests

/** The token a request carried: Azure DevOps' Basic with an empty user, or GitHub's `token`/`Bearer`. */
function credentialOf(request: RecordedRequest): { scheme: string; token: string } | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme = "", value = ""] = header.split(" ", 2);
  if (scheme.toLowerCase() !== "basic") return { scheme: scheme.toLowerCase() === "bearer" ? "bearer" : scheme, token: value };
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return { scheme: `basic(user="${decoded.slice(0, colon)}")`, token: decoded.slice(colon + 1) };
}

/** Which of our tokens a request carried, by name, so a failure reads `orchestratorPat` and not a secret. */
function tokenNameOf(request: RecordedRequest): string {
  const credential = credentialOf(request);
  if (!credential) return "none";
  const name = credential.token === PAT ? "pat" : credential.token === ORCHESTRATOR_PAT ? "orchestratorPat" : "unknown token";
  return `${credential.scheme} ${name}`;
}

const AZURE = 'basic(user="")';
/** Octokit sends a personal access token as `token <pat>`. */
const GITHUB = "token";

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly auth: string;
  readonly body?: unknown;
}

function seen(request: RecordedRequest): Seen {
  const { method, path, query, body } = request;
  return { method, path, query, auth: tokenNameOf(request), ...(body === undefined ? {} : { body }) };
}

/** The requests matching, oldest first, as `Seen`; sorted by `sortBy` when their order is not defined. */
function seenOf(predicate: (request: RecordedRequest) => boolean, sortBy?: (request: Seen) => string): Seen[] {
  const all = api.requests(predicate).map(seen);
  return sortBy ? all.sort((a, b) => sortBy(a).localeCompare(sortBy(b))) : all;
}

const byContext = (request: Seen) => {
  const context = (request.body as { context: string | { name: string } }).context;
  return `${typeof context === "string" ? context : context.name}|${(request.body as { state: string }).state}`;
};

const sortedByContext = (requests: Seen[]) => [...requests].sort((a, b) => byContext(a).localeCompare(byContext(b)));

/** None of our tokens, in clear or as Azure DevOps' Basic credential, anywhere in the output. */
function expectNoTokens(lines: readonly string[]): void {
  const output = lines.join("\n");
  for (const token of [PAT, ORCHESTRATOR_PAT]) {
    expect(output).not.toContain(token);
    expect(output).not.toContain(Buffer.from(`:${token}`).toString("base64"));
  }
}

// ---------------------------------------------------------------------------------------------- data

const COMMIT = "1197955e4244c18bdb9b375076bcb6ca05414672"; // kustomization-reconciliation-succeeded.json
const FAILED_COMMIT = "8dc29fc58c0bd99068c2e5c752aa61521d4f11ce"; // kustomization-health-check-failed.json
const ARGO_COMMIT = "1197955e4244c18bdb9b375076bcb6ca05414672"; // argocd/succeeded-healthy.json
const PROJECT_ID = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";

/** `$(System.TaskInstanceId)` of the agentless task waiting on PR `pr`. */
const taskIdOf = (pr: number) => `7e1c0d52-0000-4000-8000-${String(pr).padStart(12, "0")}`;

/** What the pipeline's PR-completion task stores: https://github.com/Azure/arc-cicd-demo-src (pr-completion-task-template.yaml). */
function pipelineCallback(pr: number, planid: string, jobid: string) {
  return { taskid: taskIdOf(pr), jobid, planurl: api.azureCollectionUrl(), planid, projectid: PROJECT_ID, pr_num: String(pr) };
}

const planPath = (planid: string) => `/org/${PROJECT_ID}/_apis/distributedtask/hubs/build/plans/${planid}`;
const timelinePath = (buildId: number) => `/org/${PROJECT_ID}/_apis/build/builds/${buildId}/timeline`;
const EVENTS_QUERY = { "api-version": "2.0-preview.1" };
const AZDO_QUERY = { "api-version": "7.1" };

function azureStatus(commit: string, state: string, description: string, context: string, genre: string, appUrl: string): Seen {
  return {
    method: "POST",
    path: `/org/project/_apis/git/repositories/manifests/commits/${commit}/statuses`,
    query: AZDO_QUERY,
    auth: `${AZURE} pat`,
    body: { state, description, targetUrl: `${appUrl}?noop=${encodeURIComponent(context)}`, context: { name: context, genre } },
  };
}

function githubStatus(commit: string, state: string, description: string, context: string, appUrl: string): Seen {
  return {
    method: "POST",
    path: `/repos/org/manifests/statuses/${commit}`,
    query: {},
    auth: `${GITHUB} pat`,
    body: { state, description, context, target_url: appUrl },
  };
}

// ---------------------------------------------------------------------------------------------- cases

describe("providers, end to end through the daemon", () => {
  test("Flux → GitHub → GitHub Actions: statuses and the commit read with pat, one sync-success dispatch with orchestratorPat", async () => {
    const daemon = await daemonWith(writeConfig([{ name: "apps-dev", operator: "FLUX", repository: "GITHUB", orchestrator: "GITHUB" }]));

    await post(daemon, fluxFixture("kustomization-progressing", "apps-dev", COMMIT));
    await api.waitForCount(6, (r) => isStatusPost(r) && r.answeredWith === 201, 10_000);
    expect(api.requests((r) => !isPullRequestList(r)).every(isStatusPost)).toBe(true); // nothing finished yet: no read, no dispatch
    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-dev", COMMIT));
    await api.waitFor((r) => isDispatch(r) && r.answeredWith === 204, 10_000);
    await waitForLogCount(daemon, 1, workerLine("orchestrator", "delivered"));
    await api.waitForCount(7, (r) => isStatusPost(r) && r.answeredWith === 201, 10_000);

    expect(seenOf(isStatusPost, byContext)).toEqual(
      sortedByContext([
        githubStatus(COMMIT, "pending", "Reconciliation underway.", "kustomization/apps-dev", GITHUB_APP_URL),
        githubStatus(COMMIT, "success", "1 created", "kustomization/apps-dev/customresourcedefinition", GITHUB_APP_URL),
        githubStatus(COMMIT, "success", "1 created", "kustomization/apps-dev/namespace", GITHUB_APP_URL),
        githubStatus(COMMIT, "success", "1 created", "kustomization/apps-dev/service", GITHUB_APP_URL),
        githubStatus(COMMIT, "success", "2 configured, 1 created", "kustomization/apps-dev/deployment", GITHUB_APP_URL),
        githubStatus(COMMIT, "success", "1 configured", "kustomization/apps-dev/horizontalpodautoscaler", GITHUB_APP_URL),
        githubStatus(COMMIT, "success", "Reconciliation finished in 1.84s, next run in 10m0s", "kustomization/apps-dev", GITHUB_APP_URL),
      ]),
    );
    // The progressing main status went out before the success that replaced it.
    const mainStates = seenOf((r) => isStatusPost(r) && (r.body as { context: string }).context === "kustomization/apps-dev").map((r) => (r.body as { state: string }).state);
    expect(mainStates).toEqual(["pending", "success"]);

    expect(seenOf((r) => isCommitRead(r) || isDispatch(r))).toEqual([
      { method: "GET", path: `/repos/org/manifests/commits/${COMMIT}`, query: {}, auth: `${GITHUB} pat` },
      {
        method: "POST",
        path: "/repos/org/app-src/dispatches",
        query: {},
        auth: `${GITHUB} orchestratorPat`,
        body: {
          event_type: "sync-success",
          client_payload: { sha: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", runid: "4183912345", commitmessage: DEFAULT_COMMIT_MESSAGE },
        },
      },
    ]);
    // A GitHub Actions orchestrator waits on no PR: no abandoned-PR sweep, and nothing reaches Azure DevOps.
    expect(api.requests((r) => r.path.includes("/_apis/") || isPullRequestList(r))).toEqual([]);
    expectNoTokens(daemon.lines);
  }, 20_000);

  test("Flux → Azure Repos → Azure Pipelines: statuses, PR callback read, plan checks, TaskCompleted succeeded / failed with orchestratorPat", async () => {
    const daemon = await daemonWith(writeConfig([{ name: "apps-azdo", operator: "FLUX", repository: "AZDO", orchestrator: "AZDO", prRepo: "app-hld" }]));
    api.setCommitMessage(FAILED_COMMIT, "Merged PR 8: Deploy app-src 4183912399 to dev");
    api.setPipelineCallback(7, pipelineCallback(7, "plan-7", "0a7b9c1d-0000-4000-8000-000000000007"));
    api.setPipelineCallback(8, pipelineCallback(8, "plan-8", "0a7b9c1d-0000-4000-8000-000000000008"));

    await post(daemon, fluxFixture("kustomization-progressing", "apps-azdo", COMMIT));
    await waitForLogCount(daemon, 6, workerLine("status", "delivered"));
    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-azdo"));
    await api.waitFor((r) => isPlanEvent(r) && r.answeredWith === 204, 10_000);
    await waitForLogCount(daemon, 1, workerLine("orchestrator", "delivered"));
    await waitForLogCount(daemon, 7, workerLine("status", "delivered"));

    const part = (type: string, description: string) =>
      azureStatus(COMMIT, "notApplicable", `${type}: ${description}`, `kustomization/apps-dev/${type.toLowerCase()}`, "fluxcd", AZURE_APP_URL);
    expect(seenOf(isAzureStatusPost, byContext)).toEqual(
      sortedByContext([
        azureStatus(COMMIT, "pending", "Status: Reconciliation underway.", "kustomization/apps-dev", "fluxcd", AZURE_APP_URL),
        part("CustomResourceDefinition", "1 created"),
        part("Namespace", "1 created"),
        part("Service", "1 created"),
        part("Deployment", "2 configured, 1 created"),
        part("HorizontalPodAutoscaler", "1 configured"),
        azureStatus(COMMIT, "succeeded", "Status: Reconciliation finished in 1.84s, next run in 10m0s", "kustomization/apps-dev", "fluxcd", AZURE_APP_URL),
      ]),
    );
    const callbackCalls = (r: RecordedRequest) => isAzureCommitRead(r) || isAzurePropertiesRead(r) || isPlanRead(r) || isTimelineRead(r) || isPlanEvent(r);
    expect(seenOf(callbackCalls)).toEqual([
      { method: "GET", path: `/org/project/_apis/git/repositories/manifests/commits/${COMMIT}`, query: AZDO_QUERY, auth: `${AZURE} pat` },
      { method: "GET", path: "/org/project/_apis/git/repositories/app-hld/pullRequests/7/properties", query: AZDO_QUERY, auth: `${AZURE} pat` },
      { method: "GET", path: planPath("plan-7"), query: {}, auth: `${AZURE} orchestratorPat` },
      { method: "GET", path: timelinePath(501), query: AZDO_QUERY, auth: `${AZURE} orchestratorPat` },
      {
        method: "POST",
        path: `${planPath("plan-7")}/events`,
        query: EVENTS_QUERY,
        auth: `${AZURE} orchestratorPat`,
        body: { name: "TaskCompleted", taskId: taskIdOf(7), jobId: "0a7b9c1d-0000-4000-8000-000000000007", result: "succeeded" },
      },
    ]);
    expect(DEFAULT_AZURE_COMMIT_MESSAGE).toStartWith("Merged PR 7:"); // where PR 7 came from

    // A failed deployment fails its PR's task.
    await post(daemon, fluxFixture("kustomization-health-check-failed", "apps-azdo"));
    await api.waitForCount(2, (r) => isPlanEvent(r) && r.answeredWith === 204, 10_000);
    await waitForLogCount(daemon, 2, workerLine("orchestrator", "delivered"));
    const failedEvents = seenOf((r) => isPlanEvent(r) && r.path.includes("plan-8"));
    expect(failedEvents).toEqual([
      {
        method: "POST",
        path: `${planPath("plan-8")}/events`,
        query: EVENTS_QUERY,
        auth: `${AZURE} orchestratorPat`,
        body: { name: "TaskCompleted", taskId: taskIdOf(8), jobId: "0a7b9c1d-0000-4000-8000-000000000008", result: "failed" },
      },
    ]);
    await waitForLogCount(daemon, 10, workerLine("status", "delivered")); // the first commit's 7, then main + two failed objects
    const failedMain = seenOf((r) => isAzureStatusPost(r) && r.path.includes(FAILED_COMMIT) && (r.body as { context: { name: string } }).context.name === "kustomization/apps-dev");
    expect(failedMain).toHaveLength(1);
    expect((failedMain[0]!.body as { state: string }).state).toBe("failed");
    expect(api.requests(isPlanEvent)).toHaveLength(2);
    expectNoTokens(daemon.lines);
  }, 20_000);

  test("Azure Pipelines: a completed plan or a completed job is skipped (no TaskCompleted) and says so", async () => {
    const daemon = await daemonWith(writeConfig([{ name: "apps-azdo", operator: "FLUX", repository: "AZDO", orchestrator: "AZDO" }]));
    const JOB_DONE = "5f1e2d3c-0000-4000-8000-00000000d0e5";
    const other = "2222222222222222222222222222222222222222";
    api.setCommitMessage(other, "Merged PR 22: Deploy app-src 4183912400 to dev");
    api.setPipelineCallback(7, pipelineCallback(7, "plan-cancelled", "0a7b9c1d-0000-4000-8000-000000000007"));
    api.setPipelineCallback(22, pipelineCallback(22, "plan-live", JOB_DONE));
    api.on("GET", planPath("plan-cancelled"), { status: 200, body: { planId: "plan-cancelled", state: "completed", result: "canceled", owner: { id: 601 } } });
    api.on("GET", planPath("plan-live"), { status: 200, body: { planId: "plan-live", state: "inProgress", owner: { id: 602 } } });
    // Record ids are GUIDs whose case Azure DevOps does not promise to keep.
    api.on("GET", timelinePath(602), {
      status: 200,
      body: { records: [{ id: "9c8b7a65-0000-4000-8000-000000000000", type: "Stage", state: "inProgress" }, { id: JOB_DONE.toUpperCase(), type: "Job", state: "completed", result: "canceled" }] },
    });

    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-azdo"));
    const planDone = JSON.parse(await daemon.waitForLine((line) => line.includes("not completing the task of PR 7"))) as { msg: string; planId: string };
    expect(planDone.msg).toContain("its plan already completed");
    expect(planDone.planId).toBe("plan-cancelled");
    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-azdo", other));
    const jobDone = JSON.parse(await daemon.waitForLine((line) => line.includes("not completing the task of PR 22"))) as { msg: string };
    expect(jobDone.msg).toContain("its job already completed");
    await waitForLogCount(daemon, 2, workerLine("orchestrator", "delivered")); // a skip is done, not retried

    expect(seenOf((r) => isPlanRead(r) || isTimelineRead(r) || isPlanEvent(r))).toEqual([
      { method: "GET", path: planPath("plan-cancelled"), query: {}, auth: `${AZURE} orchestratorPat` },
      { method: "GET", path: planPath("plan-live"), query: {}, auth: `${AZURE} orchestratorPat` },
      { method: "GET", path: timelinePath(602), query: AZDO_QUERY, auth: `${AZURE} orchestratorPat` },
    ]);
    expect(daemon.lines.filter(workerLine("orchestrator", "retried"))).toEqual([]);
    expectNoTokens(daemon.lines);
  }, 20_000);

  test("abandoned-PR sweep: one TaskCompleted failed per PR, across sweeps and across a restart", async () => {
    const configPath = writeConfig([{ name: "apps-azdo", operator: "FLUX", repository: "AZDO", orchestrator: "AZDO", prRepo: "app-hld" }]);
    const jobid = "0a7b9c1d-0000-4000-8000-000000000031";
    api.setPipelineCallback(31, pipelineCallback(31, "plan-31", jobid));
    api.setPipelineCallback(30, pipelineCallback(30, "plan-30", "0a7b9c1d-0000-4000-8000-000000000030"));
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    api.on("GET", "/org/project/_apis/git/repositories/app-hld/pullrequests", () => ({
      status: 200,
      body: {
        count: 3,
        value: [
          { pullRequestId: 31, status: "abandoned", title: "Deploy app-src 4183912431 to dev", closedDate: new Date().toISOString() },
          // No pipeline waits on this one: its properties hold no callback data.
          { pullRequestId: 32, status: "abandoned", title: "Bump chart", closedDate: hoursAgo(1) },
          // Abandoned before the cutoff (a server that ignores minTime returns it anyway): left alone.
          { pullRequestId: 30, status: "abandoned", title: "Deploy app-src 4183912430 to dev", closedDate: hoursAgo(100) },
        ],
      },
    }));
    const isAbandonedEvent = (r: RecordedRequest) => isPlanEvent(r) && r.path === `${planPath("plan-31")}/events`;

    const first = await daemonWith(configPath);
    await api.waitFor((r) => isAbandonedEvent(r) && r.answeredWith === 204, 10_000);
    await waitForLogCount(first, 2, workerLine("abandoned-pr", "delivered"));
    const [list] = api.requests(isAzurePullRequestList);
    expect(seen(list!)).toMatchObject({ method: "GET", path: "/org/project/_apis/git/repositories/app-hld/pullrequests", auth: `${AZURE} pat` });
    const { "searchCriteria.minTime": minTime, ...query } = list!.query;
    expect(query).toEqual({ "searchCriteria.status": "abandoned", "searchCriteria.queryTimeRangeType": "closed", $top: "100", $skip: "0", "api-version": "7.1" });
    expect(Math.abs(Date.parse(minTime!) - (list!.at - 72 * 3_600_000))).toBeLessThan(10_000);
    expect(seenOf(isAzurePropertiesRead, (r) => r.path)).toEqual([
      { method: "GET", path: "/org/project/_apis/git/repositories/app-hld/pullRequests/31/properties", query: AZDO_QUERY, auth: `${AZURE} pat` },
      { method: "GET", path: "/org/project/_apis/git/repositories/app-hld/pullRequests/32/properties", query: AZDO_QUERY, auth: `${AZURE} pat` },
    ]);
    expect(seenOf((r) => isPlanRead(r) || isTimelineRead(r) || isPlanEvent(r))).toEqual([
      { method: "GET", path: planPath("plan-31"), query: {}, auth: `${AZURE} orchestratorPat` },
      { method: "GET", path: timelinePath(501), query: AZDO_QUERY, auth: `${AZURE} orchestratorPat` },
      {
        method: "POST",
        path: `${planPath("plan-31")}/events`,
        query: EVENTS_QUERY,
        auth: `${AZURE} orchestratorPat`,
        body: { name: "TaskCompleted", taskId: taskIdOf(31), jobId: jobid, result: "failed" },
      },
    ]);
    expect(first.lines.some((line) => line.includes("PR 32 of instance apps-azdo carries no callback data"))).toBe(true);

    // The same PRs keep coming back in every sweep: never a second job.
    const listed = api.requests(isAzurePullRequestList).length;
    await api.waitForCount(listed + 3, (r) => isAzurePullRequestList(r) && r.answeredWith === 200, 10_000);
    expect(api.requests(isAbandonedEvent)).toHaveLength(1);
    await stop(first);

    // Nor after a restart on the same data dir: the once-keys are on disk.
    const restartedAt = Date.now();
    const second = await daemonWith(configPath, first.dataDir);
    await api.waitForCount(3, (r) => isAzurePullRequestList(r) && r.at >= restartedAt && r.answeredWith === 200, 10_000);
    await stop(second);
    expect(api.requests(isAbandonedEvent)).toHaveLength(1);
    expect(api.requests(isAzurePropertiesRead)).toHaveLength(2);
    const abandonedLines = [...first.lines, ...second.lines].filter((line) => /PR \d+ of instance apps-azdo was abandoned/.test(line));
    expect(abandonedLines.map((line) => (JSON.parse(line) as { pullRequest: number }).pullRequest).sort()).toEqual([31, 32]);
    expect(second.lines.filter((line) => line.includes('"kind":"abandoned-pr"'))).toEqual([]);
    const stats = await outboxCli(second, configPath, "stats");
    expect(stats.jobs.filter((line) => line.kind === "abandoned-pr")).toEqual([
      { kind: "abandoned-pr", target: expect.stringMatching(/^azure-pipelines:/), pending: 0, dead: 0, done: 2 },
    ]);
    expectNoTokens([...first.lines, ...second.lines]);
  }, 30_000);

  test("Argo CD → GitHub and Argo CD → Azure Repos (orchestrator NONE): statuses only, exact bodies", async () => {
    const daemon = await daemonWith(
      writeConfig([
        { name: "argo-github", operator: "ARGOCD", repository: "GITHUB", orchestrator: "NONE" },
        { name: "argo-azdo", operator: "ARGOCD", repository: "AZDO", orchestrator: "NONE" },
      ]),
    );
    await post(daemon, argoFixture("succeeded-healthy", "argo-github"));
    await post(daemon, argoFixture("succeeded-healthy", "argo-azdo"));
    await waitForLogCount(daemon, 6, workerLine("status", "delivered"));

    expect(seenOf(isStatusPost, byContext)).toEqual(sortedByContext([
      githubStatus(ARGO_COMMIT, "success", "Succeeded: successfully synced (all tasks run)", "application/guestbook", ARGO_APP_URL),
      githubStatus(ARGO_COMMIT, "success", "3/4 Healthy", "application/guestbook/health", ARGO_APP_URL),
      githubStatus(ARGO_COMMIT, "success", "4/4 Synced", "application/guestbook/sync", ARGO_APP_URL),
    ]));
    expect(seenOf(isAzureStatusPost, byContext)).toEqual(sortedByContext([
      azureStatus(ARGO_COMMIT, "succeeded", "Phase: Succeeded: successfully synced (all tasks run)", "application/guestbook", "argocd", ARGO_APP_URL),
      azureStatus(ARGO_COMMIT, "succeeded", "Health: 3/4 Healthy", "application/guestbook/health", "argocd", ARGO_APP_URL),
      azureStatus(ARGO_COMMIT, "succeeded", "Sync: 4/4 Synced", "application/guestbook/sync", "argocd", ARGO_APP_URL),
    ]));
    // Statuses only: no commit read, no PR read, no sweep, no orchestrator.
    expect(api.requests((r) => !isStatusPost(r) && !isAzureStatusPost(r)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expectNoTokens(daemon.lines);
  }, 20_000);

  test("GitHub manifests driving Azure Pipelines: PR of the merge commit, callback in the PR body; each token only to its own API", async () => {
    const daemon = await daemonWith(writeConfig([{ name: "gh-azdo", operator: "FLUX", repository: "GITHUB", orchestrator: "AZDO" }]));
    const jobid = "0a7b9c1d-0000-4000-8000-000000000055";
    const callback = pipelineCallback(55, "plan-55", jobid);
    api.on("GET", `/repos/org/manifests/commits/${COMMIT}/pulls`, {
      status: 200,
      body: [
        // An open PR that also contains the commit comes first; the merged one is the one whose merge commit it is.
        { number: 60, state: "open", merged_at: null, merge_commit_sha: "ffffffffffffffffffffffffffffffffffffffff", body: null },
        { number: 55, state: "closed", merged_at: "2026-11-20T10:00:00Z", merge_commit_sha: COMMIT, body: "Deploy app-src" },
      ],
    });
    api.on("GET", "/repos/org/manifests/pulls/55", {
      status: 200,
      body: { number: 55, state: "closed", merged_at: "2026-11-20T10:00:00Z", body: `Deploy app-src 4183912455 to dev\n\n<!-- gitops-connector: ${JSON.stringify(callback)} -->\n` },
    });

    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "gh-azdo"));
    await api.waitFor((r) => isPlanEvent(r) && r.answeredWith === 204, 10_000);
    await waitForLogCount(daemon, 1, workerLine("orchestrator", "delivered"));
    await waitForLogCount(daemon, 1, workerLine("status", "delivered"));

    expect(seenOf(isStatusPost)).toEqual([
      githubStatus(COMMIT, "success", "Reconciliation finished in 1.84s, next run in 10m0s", "kustomization/apps-dev", GITHUB_APP_URL),
    ]);
    expect(seenOf((r) => isPullsOfCommit(r) || isPullRequestRead(r) || isPlanRead(r) || isTimelineRead(r) || isPlanEvent(r))).toEqual([
      { method: "GET", path: `/repos/org/manifests/commits/${COMMIT}/pulls`, query: {}, auth: `${GITHUB} pat` },
      { method: "GET", path: "/repos/org/manifests/pulls/55", query: {}, auth: `${GITHUB} pat` },
      { method: "GET", path: planPath("plan-55"), query: {}, auth: `${AZURE} orchestratorPat` },
      { method: "GET", path: timelinePath(501), query: AZDO_QUERY, auth: `${AZURE} orchestratorPat` },
      {
        method: "POST",
        path: `${planPath("plan-55")}/events`,
        query: EVENTS_QUERY,
        auth: `${AZURE} orchestratorPat`,
        body: { name: "TaskCompleted", taskId: callback.taskid, jobId: jobid, result: "succeeded" },
      },
    ]);
    // Whatever else ran (the sweep lists closed GitHub PRs), pat went only to GitHub and orchestratorPat only to Azure DevOps.
    await api.waitFor(isPullRequestList, 10_000);
    for (const request of api.requests()) {
      const expected = request.path.startsWith("/repos/") ? `${GITHUB} pat` : `${AZURE} orchestratorPat`;
      expect({ request: `${request.method} ${request.path}`, auth: tokenNameOf(request) }).toEqual({ request: `${request.method} ${request.path}`, auth: expected });
      const raw = JSON.stringify(request.headers);
      expect(raw).not.toContain(request.path.startsWith("/repos/") ? ORCHESTRATOR_PAT : PAT);
    }
    expect(api.requests((r) => r.path.includes("/_apis/git/"))).toEqual([]); // GitHub manifests: no Azure Repos call
    expectNoTokens(daemon.lines);
  }, 20_000);

  test("GitHub manifests driving Azure Pipelines: a PR closed unmerged fails its task once", async () => {
    const daemon = await daemonWith(writeConfig([{ name: "gh-azdo", operator: "FLUX", repository: "GITHUB", orchestrator: "AZDO" }]));
    const jobid = "0a7b9c1d-0000-4000-8000-000000000057";
    const callback = pipelineCallback(57, "plan-57", jobid);
    const recently = new Date(Date.now() - 60_000).toISOString();
    const body = `Deploy app-src 4183912457 to dev\n\n<!-- gitops-connector: ${JSON.stringify(callback)} -->`;
    const pull = (number: number, fields: Record<string, unknown>) => ({ number, state: "closed", updated_at: recently, closed_at: recently, merged_at: null, body, ...fields });
    api.on("GET", "/repos/org/manifests/pulls", {
      status: 200,
      body: [
        pull(57, {}),
        pull(58, { merged_at: recently }), // merged: its deployment finishes the task, not the sweep
        pull(59, { body: "Fix a typo" }), // closed unmerged, but no pipeline waits on it
      ],
    });
    api.on("GET", "/repos/org/manifests/pulls/57", { status: 200, body: pull(57, {}) });

    await api.waitFor((r) => isPlanEvent(r) && r.answeredWith === 204, 10_000);
    await waitForLogCount(daemon, 1, workerLine("abandoned-pr", "delivered"));
    const [list] = seenOf(isPullRequestList);
    expect(list).toEqual({
      method: "GET",
      path: "/repos/org/manifests/pulls",
      query: { state: "closed", sort: "updated", direction: "desc", per_page: "100", page: "1" },
      auth: `${GITHUB} pat`,
    });
    expect(seenOf((r) => isPullRequestRead(r) || isPlanRead(r) || isTimelineRead(r) || isPlanEvent(r))).toEqual([
      { method: "GET", path: "/repos/org/manifests/pulls/57", query: {}, auth: `${GITHUB} pat` },
      { method: "GET", path: planPath("plan-57"), query: {}, auth: `${AZURE} orchestratorPat` },
      { method: "GET", path: timelinePath(501), query: AZDO_QUERY, auth: `${AZURE} orchestratorPat` },
      {
        method: "POST",
        path: `${planPath("plan-57")}/events`,
        query: EVENTS_QUERY,
        auth: `${AZURE} orchestratorPat`,
        body: { name: "TaskCompleted", taskId: callback.taskid, jobId: jobid, result: "failed" },
      },
    ]);
    const listed = api.requests(isPullRequestList).length;
    await api.waitForCount(listed + 2, (r) => isPullRequestList(r) && r.answeredWith === 200, 10_000); // a second job would be delivered by the later one
    expect(api.requests(isPlanEvent)).toHaveLength(1);
    expect(api.requests(isPullRequestRead)).toHaveLength(1);
    expectNoTokens(daemon.lines);
  }, 20_000);

  test("a rejected pat (401, or Azure DevOps' 203 sign-in page): dead after one attempt, the log names the instance and says check pat, no token in any output", async () => {
    const configPath = writeConfig([{ name: "apps-azdo", operator: "FLUX", repository: "AZDO", orchestrator: "NONE" }]);
    const signInCommit = "3333333333333333333333333333333333333333";
    // Azure DevOps answers a bad PAT with a 401, or with a 203 and its HTML sign-in page.
    api.on("POST", /\/_apis\/git\/repositories\/[^/]+\/commits\/[^/]+\/statuses$/, (request) =>
      request.path.includes(signInCommit)
        ? { status: 203, headers: { "content-type": "text/html; charset=utf-8" }, body: "<html><head><title>Azure DevOps Services | Sign In</title></head></html>" }
        : { status: 401, body: "" },
    );
    const daemon = await daemonWith(configPath);
    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-azdo"));
    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-azdo", signInCommit));
    await waitForLogCount(daemon, 2, workerLine("status", "dead"));
    const dead = daemon.lines.filter(workerLine("status", "dead")).map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of dead) {
      expect(line).toMatchObject({ instance: "apps-azdo", attempt: 1, status: 401 });
      expect(line.error).toContain("instance apps-azdo");
      expect(line.error).toContain("check pat");
    }

    const { jobs } = await outboxCli(daemon, configPath, "dead");
    expect(jobs.map(({ kind, instance, attempts }) => ({ kind, instance, attempts }))).toEqual([
      { kind: "status", instance: "apps-azdo", attempts: 1 },
      { kind: "status", instance: "apps-azdo", attempts: 1 },
    ]);
    for (const job of jobs) expect(job.lastError).toContain("check pat");

    // Nothing is left to retry: a graceful stop finds no pending job, and the API saw exactly one attempt each.
    await stop(daemon);
    const stopped = JSON.parse(await daemon.waitForLine((line) => line.includes("stopped; pending jobs stay"))) as { pending: number };
    expect(stopped.pending).toBe(0);
    expect(seenOf(isAzureStatusPost, (r) => r.path).map(({ method, path, auth }) => ({ method, path, auth }))).toEqual([
      { method: "POST", path: `/org/project/_apis/git/repositories/manifests/commits/${COMMIT}/statuses`, auth: `${AZURE} pat` },
      { method: "POST", path: `/org/project/_apis/git/repositories/manifests/commits/${signInCommit}/statuses`, auth: `${AZURE} pat` },
    ]);
    expect(daemon.lines.filter((line) => line.includes('"outcome":"retried"'))).toEqual([]);
    expectNoTokens(daemon.lines);
  }, 20_000);

  // Found by this test: the log was redacted but the worker stored API messages verbatim (outbox file, `outbox dead`).
  test("a credential an API echoes in its error reaches neither the log nor `outbox dead`", async () => {
    const configPath = writeConfig([{ name: "apps-azdo", operator: "FLUX", repository: "AZDO", orchestrator: "NONE" }]);
    api.on("POST", /\/_apis\/git\/repositories\/[^/]+\/commits\/[^/]+\/statuses$/, (request) => ({
      status: 401,
      body: { message: `proxy rejected Authorization: ${request.headers.authorization} (token ${credentialOf(request)?.token})` },
    }));
    const daemon = await daemonWith(configPath);
    await post(daemon, fluxFixture("kustomization-reconciliation-succeeded", "apps-azdo"));
    const dead = JSON.parse(await waitForLogCount(daemon, 1, workerLine("status", "dead"))) as { error: string };
    expect(dead.error).toContain("[REDACTED]"); // the API's words are kept, the credential is not
    expectNoTokens(daemon.lines);
    const cli = spawnConnector(["outbox", "dead", "--data-dir", daemon.dataDir, "--config", configPath], ENV);
    expect(await cli.exited).toBe(0);
    expect(cli.lines.join("\n")).toContain("check pat");
    expectNoTokens(cli.lines);
  }, 20_000);

  test("serve with config.example.yaml's Azure DevOps instance, without --dry-run, starts, delivers, and stops with exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-example-e2e-"));
    const configPath = join(dir, "config.yaml");
    copyFileSync(join(ROOT, "config.example.yaml"), configPath);
    // The example as shipped, pointed at the fake instead of the internet.
    const example = readFileSync(configPath, "utf8")
      .replace("https://dev.azure.com/contoso/payments", api.azureOrgUrl("contoso", "payments"))
      .replace("https://api.github.com/repos/contoso", api.orgUrl("contoso"));
    writeFileSync(configPath, example);
    const daemon = await startDaemon({ configPath, env: { AZDO_PAT: PAT, GITHUB_TOKEN: ORCHESTRATOR_PAT }, dryRun: false });
    children.push(daemon);
    const listening = JSON.parse(daemon.lines.find((line) => line.includes("gitops-connector listening"))!) as { dryRun: boolean; instances: string[] };
    expect(listening).toMatchObject({ dryRun: false, instances: ["apps-dev", "payments-prod"] });

    // It used to refuse: "delivery to Azure DevOps … is not available in this build yet".
    expect(daemon.lines.filter((line) => line.includes("not available"))).toEqual([]);
    await post(daemon, argoFixture("succeeded-healthy", "payments-prod"));
    const status = await api.waitFor((r) => isAzureStatusPost(r) && r.answeredWith === 201, 10_000);
    expect(status.path).toBe(`/contoso/payments/_apis/git/repositories/payments-manifests/commits/${ARGO_COMMIT}/statuses`);
    expect(tokenNameOf(status)).toBe(`${AZURE} pat`);

    await stop(daemon);
    expectNoTokens(daemon.lines);
  }, 20_000);
});
