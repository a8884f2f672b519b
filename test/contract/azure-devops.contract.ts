/**
 * Azure DevOps contract: the real daemon process delivers Flux and Argo CD webhooks to a Prism peer serving
 * Azure DevOps' own published REST specs (git, distributedTask, build 7.1), and every request it makes must be
 * one those specs allow: commit statuses, the commit read, PR properties, the PR list of the abandoned sweep,
 * the plan and timeline reads and the TaskCompleted event. Response-dependent steps get canned answers in the
 * vendor's wire format, which the peer still checks. Run through `bun test/contract/run.ts`.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadFixture } from "../operators/fixtures.ts";
import { drainAndStop, killContractDaemons, postWebhook, startContractDaemon, type ContractDaemon } from "./daemon.ts";
import {
  AZDO_PEER_URL,
  cannedResponse,
  clearPeers,
  expectAllRequestsValid,
  GITHUB_PEER_URL,
  journal,
  PEERS_DIR,
  waitForJournal,
  type JournalEntry,
} from "./peers.ts";

const PAT = "azdoContractTestFakeRepositoryToken0000000000";
const PIPELINES_PAT = "azdoContractTestFakePipelinesToken00000000000";
const GITHUB_PAT = "ghp_contractTestFakeTokenNotARealSecret111";
const MANIFESTS_SHA = "2f22765d04931a078909145ca628d2264c852d7d"; // kustomization-progressing.json's commit
const PROJECT_ID = "69f48e94-bdb4-42d7-a560-0f2b54f91cc8";
const PLAN_ID = "67be341f-5310-552f-e0cd-7c580e77b98b";
const JOB_ID = "3a7e60dc-c5b0-5009-86eb-0f217c12e2ea";
const TASK_ID = "61153303-347e-5f06-a6a1-ce2102bd68eb";
const CALLBACK = { taskid: TASK_ID, jobid: JOB_ID, planurl: `${AZDO_PEER_URL}/myorg/`, planid: PLAN_ID, projectid: PROJECT_ID, pr_num: "7" };
const EVENTS_PATH = `/myorg/${PROJECT_ID}/_apis/distributedtask/hubs/build/plans/${PLAN_ID}/events`;

const AZDO_FIELDS = `gitOpsAppURL: https://dev.azure.com/myorg/myproject/_git/manifests/commit
    azdoOrgUrl: ${AZDO_PEER_URL}/myorg/myproject
    azdoGitOpsRepoName: manifests
    azdoPrRepoName: app-hld
    pat: "\${PAT}"
    orchestratorPat: "\${PIPELINES_PAT}"`;
/** The sweep runs only in its own test (every second there); elsewhere its listings would crowd the journal. */
const config = (sweepSeconds: number) => `server: { host: 127.0.0.1, shutdownGraceMs: 5000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
scheduler: { abandonedPrSweepSeconds: ${sweepSeconds} }
instances:
  - name: flux-azdo
    gitOpsOperatorType: FLUX
    gitRepositoryType: AZDO
    ciCdOrchestratorType: AZDO
    ${AZDO_FIELDS}
  - name: argo-azdo
    gitOpsOperatorType: ARGOCD
    gitRepositoryType: AZDO
    ciCdOrchestratorType: NONE
    ${AZDO_FIELDS}
  - name: flux-gh-azdo
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://github.com/acme/manifests/commit
    gitHubOrgUrl: ${GITHUB_PEER_URL}/repos/acme
    gitHubGitOpsManifestsRepoName: manifests
    azdoOrgUrl: ${AZDO_PEER_URL}/myorg/myproject
    pat: "\${GITHUB_PAT}"
    orchestratorPat: "\${PIPELINES_PAT}"
`;

let daemon: ContractDaemon;
beforeEach(async () => {
  await clearPeers();
});
afterEach(killContractDaemons);

async function start(sweepSeconds = 3600): Promise<void> {
  daemon = await startContractDaemon(config(sweepSeconds), { PAT, PIPELINES_PAT, GITHUB_PAT });
}

async function post(instance: string, event: unknown): Promise<void> {
  expect(await postWebhook(daemon, instance, event)).toBe(202);
}

async function fluxFixture(file: string, commit: string): Promise<Record<string, unknown>> {
  const event = (await loadFixture("flux", file)) as { metadata: Record<string, unknown> };
  return { ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString("base64")}`;
const withOperation = (entries: readonly JournalEntry[], operationId: string) => entries.filter((entry) => entry.operationId === operationId);
const isEvent = (entry: JournalEntry) => entry.operationId === "Events_Post Event";
const isListing = (entry: JournalEntry) => entry.operationId === "Pull Requests_Get Pull Requests";

/** The plan is running and so is its job: the callback goes ahead. */
async function cannedRunningPlan(): Promise<void> {
  await cannedResponse(AZDO_PEER_URL, { operationId: "peer_Plans_Get", body: { planId: PLAN_ID, state: "inProgress", owner: { id: 501 } } });
  await cannedResponse(AZDO_PEER_URL, { operationId: "Timeline_Get (peer alias)", body: { id: PLAN_ID, records: [{ id: JOB_ID, type: "Job", state: "inProgress" }] } });
}

async function cannedCallbackOnPullRequest(): Promise<void> {
  await cannedResponse(AZDO_PEER_URL, {
    operationId: "Pull Request Properties_List",
    body: { count: 1, value: { "callback-task-id": { $type: "System.String", $value: JSON.stringify(CALLBACK) } } },
  });
}

function expectTaskCompleted(entries: readonly JournalEntry[], result: "succeeded" | "failed"): void {
  const events = entries.filter(isEvent);
  expect(events.map((entry) => [entry.path, entry.query["api-version"], entry.body])).toEqual([
    [EVENTS_PATH, "2.0-preview.1", { name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result }],
  ]);
  expect(events[0]?.headers?.authorization).toBe(basic(PIPELINES_PAT));
}

test("Flux → Azure Repos → Azure Pipelines: statuses, commit, PR properties, plan, timeline and TaskCompleted as Azure DevOps describes them", async () => {
  await start();
  await cannedResponse(AZDO_PEER_URL, { operationId: "Commits_Get", body: { commitId: MANIFESTS_SHA, comment: "Merged PR 7: Deploy app 4183912345 to dev" } });
  await cannedCallbackOnPullRequest();
  await cannedRunningPlan();

  await post("flux-azdo", await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA));
  await drainAndStop(daemon);
  const entries = await journal(AZDO_PEER_URL);

  expectAllRequestsValid(entries);
  expect(entries.map((entry) => entry.operationId).filter((id) => id !== "Statuses_Create")).toEqual([
    "Commits_Get",
    "Pull Request Properties_List",
    "peer_Plans_Get",
    "Timeline_Get (peer alias)",
    "Events_Post Event",
  ]);
  const statuses = withOperation(entries, "Statuses_Create");
  expect(statuses.length).toBeGreaterThan(0);
  for (const status of statuses) {
    expect(status.path).toBe(`/myorg/myproject/_apis/git/repositories/manifests/commits/${MANIFESTS_SHA}/statuses`);
    expect(status.headers?.authorization).toBe(basic(PAT));
  }
  expect(statuses.find((entry) => entry.body.context?.name === "kustomization/apps-dev")?.body).toMatchObject({
    state: "succeeded",
    context: { name: "kustomization/apps-dev", genre: "fluxcd" },
  });
  expect(withOperation(entries, "Pull Request Properties_List")[0]?.path).toBe("/myorg/myproject/_apis/git/repositories/app-hld/pullRequests/7/properties");
  expect(withOperation(entries, "Timeline_Get (peer alias)")[0]?.path).toBe(`/myorg/${PROJECT_ID}/_apis/build/builds/501/timeline`);
  expectTaskCompleted(entries, "succeeded");
});

test("Argo CD → Azure Repos → NONE: commit statuses only", async () => {
  await start();
  const event = (await loadFixture("argocd", "succeeded-healthy.json")) as { commitid: string };
  await post("argo-azdo", event);
  await drainAndStop(daemon);
  const entries = await journal(AZDO_PEER_URL);

  expectAllRequestsValid(entries);
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) expect([entry.operationId, entry.status]).toEqual(["Statuses_Create", 200]); // the vendor documents 200
  expect(entries.find((entry) => entry.body.context?.name === "application/guestbook")?.body).toMatchObject({
    state: "succeeded",
    context: { genre: "argocd" },
  });
});

test("the abandoned-PR sweep lists PRs and fails the waiting task once", async () => {
  // Every listing (the sweep runs each second) finds the same abandoned PR.
  await cannedResponse(AZDO_PEER_URL, {
    operationId: "Pull Requests_Get Pull Requests",
    body: { count: 1, value: [{ pullRequestId: 7, status: "abandoned", closedDate: new Date().toISOString() }] },
    times: 1000,
  });
  await cannedCallbackOnPullRequest();
  await cannedRunningPlan();
  await start(1);

  let seen = (await waitForJournal(AZDO_PEER_URL, isEvent, 10_000)).seq;
  // Two more sweeps find the PR again and must not fail its task again.
  for (let sweep = 0; sweep < 2; sweep++) seen = (await waitForJournal(AZDO_PEER_URL, (entry) => isListing(entry) && entry.seq > seen, 10_000)).seq;
  await drainAndStop(daemon);
  const entries = await journal(AZDO_PEER_URL);

  expectAllRequestsValid(entries);
  const list = withOperation(entries, "Pull Requests_Get Pull Requests")[0];
  expect(list?.path).toBe("/myorg/myproject/_apis/git/repositories/app-hld/pullrequests");
  expect(list?.query).toMatchObject({ "searchCriteria.status": "abandoned", "searchCriteria.queryTimeRangeType": "closed" });
  expectTaskCompleted(entries, "failed");
});

test("GitHub manifests + Azure Pipelines: the PR of the merge commit on GitHub, its body's callback, TaskCompleted on Azure DevOps", async () => {
  const spec = JSON.parse(readFileSync(join(PEERS_DIR, "specs", "github.subset.json"), "utf8"));
  const simple = spec.components.examples["pull-request-simple-items"].value[0];
  const full = spec.components.examples["pull-request"].value;
  await cannedResponse(GITHUB_PEER_URL, {
    operationId: "repos/list-pull-requests-associated-with-commit",
    body: [{ ...simple, number: 42, merge_commit_sha: MANIFESTS_SHA, merged_at: "2026-11-21T10:00:00Z" }],
  });
  await cannedResponse(GITHUB_PEER_URL, {
    operationId: "pulls/get",
    body: { ...full, number: 42, body: `Deploy app to dev\n\n<!-- gitops-connector: ${JSON.stringify(CALLBACK)} -->` },
  });
  await cannedRunningPlan();
  await start();

  await post("flux-gh-azdo", await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA));
  await drainAndStop(daemon);
  const github = await journal(GITHUB_PEER_URL);
  const azure = await journal(AZDO_PEER_URL);

  expectAllRequestsValid([...github, ...azure]);
  expect(withOperation(github, "repos/list-pull-requests-associated-with-commit").map((entry) => entry.path)).toEqual([
    `/repos/acme/manifests/commits/${MANIFESTS_SHA}/pulls`,
  ]);
  expect(withOperation(github, "pulls/get").map((entry) => entry.path)).toEqual(["/repos/acme/manifests/pulls/42"]);
  expect(azure.map((entry) => entry.operationId)).toEqual(["peer_Plans_Get", "Timeline_Get (peer alias)", "Events_Post Event"]);
  expectTaskCompleted(azure, "succeeded");
  // Each token goes to its own service only.
  expect(github.some((entry) => JSON.stringify(entry.headers ?? {}).includes(PIPELINES_PAT))).toBe(false);
  expect(azure.some((entry) => JSON.stringify(entry.headers ?? {}).includes(GITHUB_PAT))).toBe(false);
});

test("GitHub manifests + Azure Pipelines: the sweep lists closed GitHub PRs and fails the task of one closed unmerged", async () => {
  const spec = JSON.parse(readFileSync(join(PEERS_DIR, "specs", "github.subset.json"), "utf8"));
  const simple = spec.components.examples["pull-request-simple-items"].value[0];
  const full = spec.components.examples["pull-request"].value;
  const body = `Deploy app to dev\n\n<!-- gitops-connector: ${JSON.stringify(CALLBACK)} -->`;
  const closedAt = new Date().toISOString();
  await cannedResponse(GITHUB_PEER_URL, {
    operationId: "pulls/list",
    body: [{ ...simple, number: 43, state: "closed", body, closed_at: closedAt, updated_at: closedAt, merged_at: null }],
    times: 1000,
  });
  await cannedResponse(GITHUB_PEER_URL, { operationId: "pulls/get", body: { ...full, number: 43, state: "closed", body, merged_at: null } });
  await cannedRunningPlan();
  await start(1);

  await waitForJournal(AZDO_PEER_URL, isEvent, 10_000);
  await drainAndStop(daemon);
  const github = await journal(GITHUB_PEER_URL);
  const azure = await journal(AZDO_PEER_URL);

  expectAllRequestsValid([...github, ...azure]);
  const list = withOperation(github, "pulls/list")[0];
  expect([list?.path, list?.query]).toEqual(["/repos/acme/manifests/pulls", expect.objectContaining({ state: "closed", sort: "updated", direction: "desc" })]);
  expect(withOperation(github, "pulls/get").map((entry) => entry.path)).toEqual(["/repos/acme/manifests/pulls/43"]);
  expectTaskCompleted(azure.filter((entry) => entry.operationId !== "Pull Requests_Get Pull Requests"), "failed");
});

test("a superseded commit: the commit list between two commits and its statuses, as Azure DevOps describes them", async () => {
  await start();
  const [deployed, superseded, finished] = ["1197955e4244c18bdb9b375076bcb6ca05414672", "6b1f53303a732ccc8c6aae6640399827c15250e3", MANIFESTS_SHA];
  const committer = { name: "Azure Pipelines", email: "build@example.com", date: new Date().toISOString() };
  await cannedResponse(AZDO_PEER_URL, {
    operationId: "Commits_Get Commits",
    body: { count: 2, value: [{ commitId: finished, parents: [superseded], comment: "Merged PR 8: web 1.3", committer }, { commitId: superseded, parents: [deployed], comment: "Merged PR 7: web 1.2", committer }] },
  });
  const event = (await loadFixture("argocd", "succeeded-healthy.json")) as Record<string, unknown>;
  await post("argo-azdo", { ...event, commitid: deployed });
  await waitForJournal(AZDO_PEER_URL, (entry) => entry.operationId === "Statuses_Create" && entry.path.includes(deployed));
  await post("argo-azdo", { ...event, commitid: finished });
  await waitForJournal(AZDO_PEER_URL, (entry) => entry.operationId === "Statuses_Create" && entry.path.includes(superseded));
  await drainAndStop(daemon);
  const entries = await journal(AZDO_PEER_URL);

  expectAllRequestsValid(entries);
  const lists = withOperation(entries, "Commits_Get Commits");
  expect(lists.map((entry) => [entry.path, entry.status])).toEqual([["/myorg/myproject/_apis/git/repositories/manifests/commits", 200]]);
  expect(lists[0]?.query).toMatchObject({
    "searchCriteria.itemVersion.version": finished,
    "searchCriteria.compareVersion.version": deployed,
    "searchCriteria.itemVersion.versionType": "commit",
    "searchCriteria.compareVersion.versionType": "commit",
  });
  expect(lists[0]?.headers?.authorization).toBe(basic(PAT));
  const onSuperseded = withOperation(entries, "Statuses_Create").filter((entry) => entry.path.includes(superseded));
  expect(onSuperseded.map((entry) => [entry.body.context.name, entry.body.state, entry.body.description]).sort()).toEqual([
    ["application/guestbook", "succeeded", `Phase: superseded by ${finished.slice(0, 7)}`],
    ["application/guestbook/health", "succeeded", `Health: superseded by ${finished.slice(0, 7)}`],
    ["application/guestbook/sync", "succeeded", `Sync: superseded by ${finished.slice(0, 7)}`],
  ]);
});
