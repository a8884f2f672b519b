/**
 * GitLab contract: the real daemon process delivers Flux webhooks to a Prism peer serving an excerpt of GitLab's
 * own OpenAPI description (`doc/api/openapi/openapi_v2.yaml`), and every request it makes must be one that
 * description allows: commit statuses with the context in `name`, and the commit reads of a superseded commit's
 * first-parent walk. Run through `bun test/contract/run.ts`, which starts the peers.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { loadFixture } from "../operators/fixtures.ts";
import { drainAndStop, killContractDaemons, postWebhook, startContractDaemon, type ContractDaemon } from "./daemon.ts";
import { cannedResponse, clearPeers, expectAllRequestsValid, GITLAB_PEER_URL, journal, waitForJournal, type JournalEntry } from "./peers.ts";

const PAT = "glpat-contractTestFakeTokenNotARealSecret";
const MANIFESTS_SHA = "2f22765d04931a078909145ca628d2264c852d7d";
const APP_URL = "https://gitlab.example.com/platform/manifests/-/commit";

const CONFIG = `server: { host: 127.0.0.1, shutdownGraceMs: 5000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: flux-gitlab
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITLAB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: ${APP_URL}
    gitLabUrl: ${GITLAB_PEER_URL}
    gitLabGitOpsManifestsProject: platform/manifests
    pat: "\${PAT}"
`;

let daemon: ContractDaemon;
beforeEach(async () => {
  await clearPeers();
  daemon = await startContractDaemon(CONFIG, { PAT });
});
afterEach(killContractDaemons);

async function post(event: unknown): Promise<void> {
  expect(await postWebhook(daemon, "flux-gitlab", event)).toBe(202);
}

async function fluxFixture(file: string, commit: string): Promise<Record<string, unknown>> {
  const event = (await loadFixture("flux", file)) as { metadata: Record<string, unknown> };
  return { ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

const withOperation = (entries: readonly JournalEntry[], operationId: string) => entries.filter((entry) => entry.operationId === operationId);
const STATUS = "postApiV4ProjectsIdStatusesSha";
const COMMIT = "getApiV4ProjectsIdRepositoryCommitsSha";

test("Flux → GitLab: running then success, the context in name, the token as PRIVATE-TOKEN, as GitLab describes it", async () => {
  await post(await fluxFixture("kustomization-progressing.json", MANIFESTS_SHA));
  await waitForJournal(GITLAB_PEER_URL, (entry) => entry.operationId === STATUS && entry.body?.name === "kustomization/apps-dev");
  await post(await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA));
  await drainAndStop(daemon);
  const entries = await journal(GITLAB_PEER_URL);

  expectAllRequestsValid(entries);
  const statuses = withOperation(entries, STATUS);
  expect(statuses.length).toBeGreaterThan(2);
  for (const status of statuses) {
    expect([status.path, status.body.target_url, status.headers["private-token"]]).toEqual([`/api/v4/projects/platform%2Fmanifests/statuses/${MANIFESTS_SHA}`, APP_URL, PAT]);
  }
  expect(statuses.filter((entry) => entry.body.name === "kustomization/apps-dev").map((entry) => entry.body.state)).toEqual(["running", "success"]);
  expect(new Set(entries.map((entry) => entry.operationId))).toEqual(new Set([STATUS]));
});

test("a superseded commit: each commit of the first-parent walk read once, as GitLab describes the read", async () => {
  const [deployed, superseded, finished] = ["1197955e4244c18bdb9b375076bcb6ca05414672", "6b1f53303a732ccc8c6aae6640399827c15250e3", MANIFESTS_SHA];
  const commitOf = (sha: string, parent: string) => ({ id: sha, short_id: sha.slice(0, 8), message: "Merge branch 'deploy' into 'main'", parent_ids: [parent], committed_date: new Date().toISOString() });
  await post(await fluxFixture("kustomization-reconciliation-succeeded.json", deployed));
  await waitForJournal(GITLAB_PEER_URL, (entry) => entry.operationId === STATUS);
  await cannedResponse(GITLAB_PEER_URL, { operationId: COMMIT, body: commitOf(finished, superseded) });
  await cannedResponse(GITLAB_PEER_URL, { operationId: COMMIT, body: commitOf(superseded, deployed) });
  await post(await fluxFixture("kustomization-reconciliation-succeeded.json", finished));
  await waitForJournal(GITLAB_PEER_URL, (entry) => entry.operationId === STATUS && entry.path.endsWith(superseded));
  await drainAndStop(daemon);
  const entries = await journal(GITLAB_PEER_URL);

  expectAllRequestsValid(entries);
  expect(withOperation(entries, COMMIT).map((entry) => entry.path)).toEqual([
    `/api/v4/projects/platform%2Fmanifests/repository/commits/${finished}`,
    `/api/v4/projects/platform%2Fmanifests/repository/commits/${superseded}`,
  ]);
  expect(withOperation(entries, STATUS).filter((entry) => entry.path.endsWith(superseded)).map((entry) => [entry.body.name, entry.body.state])).toEqual([["kustomization/apps-dev", "success"]]);
});
