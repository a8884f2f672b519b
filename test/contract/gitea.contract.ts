/**
 * Gitea contract: the real daemon process (the compiled binary when GITOPS_CONNECTOR_BIN is set) delivers Flux
 * webhooks to a Prism peer serving Gitea's own Swagger description (v1.26.3), and every request it makes must be one
 * that description allows: commit statuses, the first-parent walk of a superseded commit, and, for Azure Pipelines,
 * the PR of a merge commit and its body (the callback then goes to the Azure DevOps peer). Run through
 * `bun test/contract/run.ts`, which starts the peers.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { loadFixture } from "../operators/fixtures.ts";
import { drainAndStop, killContractDaemons, postWebhook, startContractDaemon, type ContractDaemon } from "./daemon.ts";
import { AZDO_PEER_URL, cannedResponse, clearPeers, expectAllRequestsValid, GITEA_PEER_URL, journal, waitForJournal, type JournalEntry } from "./peers.ts";

const PAT = "gitea_contractTestFakeTokenNotARealSecret0";
const PIPELINES_PAT = "azdoContractTestFakePipelinesToken00000000000";
const MANIFESTS_SHA = "2f22765d04931a078909145ca628d2264c852d7d";
const APP_URL = "https://gitea.example.com/acme/manifests/commit";
const PROJECT_ID = "69f48e94-bdb4-42d7-a560-0f2b54f91cc8";
const PLAN_ID = "67be341f-5310-552f-e0cd-7c580e77b98b";
const JOB_ID = "3a7e60dc-c5b0-5009-86eb-0f217c12e2ea";
const TASK_ID = "61153303-347e-5f06-a6a1-ce2102bd68eb";

const GITEA_FIELDS = `gitOpsAppURL: ${APP_URL}
    giteaOrgUrl: ${GITEA_PEER_URL}/api/v1/repos/acme
    giteaGitOpsManifestsRepoName: manifests
    pat: "\${PAT}"`;
const CONFIG = `server: { host: 127.0.0.1, shutdownGraceMs: 5000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
scheduler: { abandonedPrSweepSeconds: 3600 }
instances:
  - name: flux-gitea
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITEA
    ciCdOrchestratorType: NONE
    ${GITEA_FIELDS}
  - name: flux-gitea-azdo
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITEA
    ciCdOrchestratorType: AZDO
    azdoOrgUrl: ${AZDO_PEER_URL}/myorg/myproject
    orchestratorPat: "\${PIPELINES_PAT}"
    ${GITEA_FIELDS}
`;

let daemon: ContractDaemon;
beforeEach(async () => {
  await clearPeers();
  daemon = await startContractDaemon(CONFIG, { PAT, PIPELINES_PAT });
});
afterEach(killContractDaemons);

async function post(instance: string, event: unknown): Promise<void> {
  expect(await postWebhook(daemon, instance, event)).toBe(202);
}

async function fluxFixture(file: string, commit: string): Promise<Record<string, unknown>> {
  const event = (await loadFixture("flux", file)) as { metadata: Record<string, unknown> };
  return { ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

const withOperation = (entries: readonly JournalEntry[], operationId: string) => entries.filter((entry) => entry.operationId === operationId);
/** A commit as Gitea's `Commit` schema has it. */
const commitOf = (sha: string, parent: string, message = "Merge pull request 'deploy' (#7) from deploy into main") => ({
  sha,
  commit: { message, committer: { name: "ci", email: "ci@example.com", date: new Date().toISOString() } },
  parents: [{ sha: parent }],
});

test("Flux → Gitea: statuses for the reconciler and its change set, as Gitea describes them, with the token header", async () => {
  await post("flux-gitea", await fluxFixture("kustomization-progressing.json", MANIFESTS_SHA));
  await waitForJournal(GITEA_PEER_URL, (entry) => entry.operationId === "repoCreateStatus" && entry.body?.context === "kustomization/apps-dev");
  await post("flux-gitea", await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA));
  await drainAndStop(daemon);
  const entries = await journal(GITEA_PEER_URL);

  expectAllRequestsValid(entries);
  const statuses = withOperation(entries, "repoCreateStatus");
  expect(statuses.length).toBeGreaterThan(2);
  for (const status of statuses) {
    expect([status.path, status.body.target_url, status.headers.authorization]).toEqual([`/api/v1/repos/acme/manifests/statuses/${MANIFESTS_SHA}`, APP_URL, `token ${PAT}`]);
  }
  expect(statuses.filter((entry) => entry.body.context === "kustomization/apps-dev").map((entry) => entry.body.state)).toEqual(["pending", "success"]);
  expect(new Set(entries.map((entry) => entry.operationId))).toEqual(new Set(["repoCreateStatus"]));
});

test("a superseded commit: the first-parent walk reads each commit once, as Gitea describes the read", async () => {
  const [deployed, superseded, finished] = ["1197955e4244c18bdb9b375076bcb6ca05414672", "6b1f53303a732ccc8c6aae6640399827c15250e3", MANIFESTS_SHA];
  await post("flux-gitea", await fluxFixture("kustomization-reconciliation-succeeded.json", deployed));
  await waitForJournal(GITEA_PEER_URL, (entry) => entry.operationId === "repoCreateStatus");
  await cannedResponse(GITEA_PEER_URL, { operationId: "repoGetSingleCommit", body: commitOf(finished, superseded) });
  await cannedResponse(GITEA_PEER_URL, { operationId: "repoGetSingleCommit", body: commitOf(superseded, deployed) });
  await post("flux-gitea", await fluxFixture("kustomization-reconciliation-succeeded.json", finished));
  await waitForJournal(GITEA_PEER_URL, (entry) => entry.operationId === "repoCreateStatus" && entry.path.endsWith(superseded));
  await drainAndStop(daemon);
  const entries = await journal(GITEA_PEER_URL);

  expectAllRequestsValid(entries);
  expect(withOperation(entries, "repoGetSingleCommit").map((entry) => [entry.path, entry.query])).toEqual([
    [`/api/v1/repos/acme/manifests/git/commits/${finished}`, { stat: "false", verification: "false", files: "false" }],
    [`/api/v1/repos/acme/manifests/git/commits/${superseded}`, { stat: "false", verification: "false", files: "false" }],
  ]);
  const told = withOperation(entries, "repoCreateStatus").filter((entry) => entry.path.endsWith(superseded));
  expect(told.map((entry) => [entry.body.context, entry.body.state, entry.body.description])).toEqual([["kustomization/apps-dev", "success", `superseded by ${finished.slice(0, 7)}`]]);
});

test("Flux → Gitea → Azure Pipelines: the merged PR and its body read as Gitea describes them, the task completed at Azure DevOps", async () => {
  const callback = { taskid: TASK_ID, jobid: JOB_ID, planurl: `${AZDO_PEER_URL}/myorg/`, planid: PLAN_ID, projectid: PROJECT_ID, pr_num: "7" };
  await cannedResponse(GITEA_PEER_URL, { operationId: "repoGetCommitPullRequest", body: { number: 7, merged: true, state: "closed", body: "" } });
  await cannedResponse(GITEA_PEER_URL, { operationId: "repoGetPullRequest", body: { number: 7, merged: true, state: "closed", body: `Deploy\n<!-- gitops-connector: ${JSON.stringify(callback)} -->` } });
  await cannedResponse(AZDO_PEER_URL, { operationId: "peer_Plans_Get", body: { planId: PLAN_ID, state: "inProgress", owner: { id: 501 } } });
  await cannedResponse(AZDO_PEER_URL, { operationId: "Timeline_Get (peer alias)", body: { id: PLAN_ID, records: [{ id: JOB_ID, type: "Job", state: "inProgress" }] } });

  await post("flux-gitea-azdo", await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA));
  await waitForJournal(AZDO_PEER_URL, (entry) => entry.operationId === "Events_Post Event");
  await drainAndStop(daemon);
  const gitea = await journal(GITEA_PEER_URL);
  const azdo = await journal(AZDO_PEER_URL);

  expectAllRequestsValid(gitea);
  expectAllRequestsValid(azdo);
  expect(withOperation(gitea, "repoGetCommitPullRequest").map((entry) => entry.path)).toEqual([`/api/v1/repos/acme/manifests/commits/${MANIFESTS_SHA}/pull`]);
  expect(withOperation(gitea, "repoGetPullRequest").map((entry) => entry.path)).toEqual(["/api/v1/repos/acme/manifests/pulls/7"]);
  expect(withOperation(azdo, "Events_Post Event").map((entry) => entry.body)).toEqual([{ name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result: "succeeded" }]);
});
