/**
 * GitHub contract: the real daemon process (the compiled binary when GITOPS_CONNECTOR_BIN is set) delivers
 * Flux and Argo CD webhooks to a Prism peer serving GitHub's own OpenAPI description, and every request it
 * makes must be one that description allows: commit statuses, the commit read and the Actions dispatch.
 * Run through `bun test/contract/run.ts`, which starts the peer.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadFixture } from "../operators/fixtures.ts";
import { testGitHubApp } from "../support/github-app.ts";
import { drainAndStop, killContractDaemons, postWebhook, startContractDaemon, type ContractDaemon } from "./daemon.ts";
import {
  cannedResponse,
  clearPeers,
  expectAllRequestsValid,
  GITHUB_PEER_URL,
  journal,
  PEERS_DIR,
  waitForJournal,
  type JournalEntry,
} from "./peers.ts";

const PAT = "ghp_contractTestFakeTokenNotARealSecret000";
const MANIFESTS_SHA = "2f22765d04931a078909145ca628d2264c852d7d"; // kustomization-progressing.json's commit
const SOURCE_SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const MERGE_MESSAGE = `Merge pull request #42 from acme/deploy/4183912345/${SOURCE_SHA}/dev`;
const APP_URL = "https://github.com/acme/manifests/commit";

const GITHUB_FIELDS = `gitOpsAppURL: ${APP_URL}
    gitHubOrgUrl: ${GITHUB_PEER_URL}/repos/acme
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"`;
const CONFIG = `server: { host: 127.0.0.1, shutdownGraceMs: 5000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: flux-gh
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    ${GITHUB_FIELDS}
  - name: argo-gh
    gitOpsOperatorType: ARGOCD
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    ${GITHUB_FIELDS}
`;

let daemon: ContractDaemon;
beforeEach(async () => {
  await clearPeers();
  daemon = await startContractDaemon(CONFIG, { PAT });
});
afterEach(killContractDaemons);

/** Posts a webhook, expecting it accepted. */
async function post(instance: string, event: unknown): Promise<void> {
  expect(await postWebhook(daemon, instance, event)).toBe(202);
}

/** A Flux fixture moved to `commit`, optionally with another message. */
async function fluxFixture(file: string, commit: string, message?: string): Promise<Record<string, unknown>> {
  const event = (await loadFixture("flux", file)) as { message: string; metadata: Record<string, unknown> };
  return { ...event, message: message ?? event.message, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

/** GitHub's own example commit (from the description the peer serves), with our sha and merge message. */
function exampleCommit(sha: string, message: string): unknown {
  const spec = JSON.parse(readFileSync(join(PEERS_DIR, "specs", "github.subset.json"), "utf8"));
  const example = spec.components.examples.commit.value;
  return { ...example, sha, commit: { ...example.commit, message } };
}

const isStatus = (context?: string, state?: string) => (entry: JournalEntry) =>
  entry.operationId === "repos/create-commit-status" && (!context || entry.body?.context === context) && (!state || entry.body?.state === state);
const withOperation = (entries: readonly JournalEntry[], operationId: string) => entries.filter((entry) => entry.operationId === operationId);

test("Flux → GitHub → GitHub Actions: statuses, the commit read and a sync-success dispatch, all as GitHub describes them", async () => {
  await cannedResponse(GITHUB_PEER_URL, { operationId: "repos/get-commit", body: exampleCommit(MANIFESTS_SHA, MERGE_MESSAGE) });

  await post("flux-gh", await fluxFixture("kustomization-progressing.json", MANIFESTS_SHA));
  // Delivered before the success event is sent, so the newer status cannot supersede it in the outbox.
  await waitForJournal(GITHUB_PEER_URL, isStatus("kustomization/apps-dev", "pending"));
  await post("flux-gh", await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA));
  await drainAndStop(daemon);
  const entries = await journal(GITHUB_PEER_URL);

  expectAllRequestsValid(entries);
  expect(new Set(entries.map((entry) => entry.operationId))).toEqual(
    new Set(["repos/create-commit-status", "repos/get-commit", "repos/create-dispatch-event"]),
  );
  const statuses = entries.filter(isStatus());
  expect(statuses.length).toBeGreaterThan(2); // the reconciler's, and one per resource kind
  for (const status of statuses) {
    expect([status.path, status.status, status.body.target_url]).toEqual([`/repos/acme/manifests/statuses/${MANIFESTS_SHA}`, 201, APP_URL]);
  }
  expect(entries.filter(isStatus("kustomization/apps-dev")).map((entry) => entry.body.state)).toEqual(["pending", "success"]);

  const reads = withOperation(entries, "repos/get-commit");
  expect(reads.map((entry) => [entry.path, entry.status, entry.responseOk])).toEqual([[`/repos/acme/manifests/commits/${MANIFESTS_SHA}`, 200, true]]);
  const dispatches = withOperation(entries, "repos/create-dispatch-event");
  expect(dispatches.map((entry) => [entry.path, entry.status, entry.body])).toEqual([
    [
      "/repos/acme/app-src/dispatches",
      204,
      { event_type: "sync-success", client_payload: { sha: SOURCE_SHA, runid: "4183912345", commitmessage: MERGE_MESSAGE } },
    ],
  ]);
});

test("Argo CD → GitHub → NONE: commit statuses only", async () => {
  const event = (await loadFixture("argocd", "succeeded-healthy.json")) as { commitid: string };
  await post("argo-gh", event);
  await drainAndStop(daemon);
  const entries = await journal(GITHUB_PEER_URL);

  expectAllRequestsValid(entries);
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) {
    expect([entry.operationId, entry.path, entry.status]).toEqual(["repos/create-commit-status", `/repos/acme/manifests/statuses/${event.commitid}`, 201]);
  }
  expect(entries.find(isStatus("application/guestbook"))?.body.state).toBe("success");
});

test("a 500-character Flux message becomes a description of at most 140 characters, ending in …", async () => {
  const message = `kustomize build failed: ${"accumulating resources from 'overlays/dev': missing file; ".repeat(10)}`.slice(0, 500);
  expect(message).toHaveLength(500);
  await post("flux-gh", await fluxFixture("kustomization-reconciliation-failed.json", MANIFESTS_SHA, message));
  await drainAndStop(daemon);
  const entries = await journal(GITHUB_PEER_URL);

  expectAllRequestsValid(entries);
  const [status, ...others] = entries.filter(isStatus("kustomization/apps-dev"));
  expect(others).toEqual([]);
  expect(status?.body.state).toBe("failure");
  const description = Array.from(status?.body.description as string);
  expect(description.length).toBeLessThanOrEqual(140);
  expect(description.at(-1)).toBe("…");
  expect(message.startsWith(description.slice(0, -1).join(""))).toBe(true);
  expect(withOperation(entries, "repos/create-dispatch-event")).toEqual([]); // dispatchOnFailure is off
});

test("a superseded commit: the compare read, its status and its dispatch with superseded_by, all as GitHub describes them", async () => {
  const spec = JSON.parse(readFileSync(join(PEERS_DIR, "specs", "github.subset.json"), "utf8"));
  const comparison = spec.components.examples["commit-comparison"].value;
  const example = comparison.commits[0];
  // Committed now: commits older than abandonedPrCutoffHours are not told (the example's date is years ago).
  const commit = { ...example.commit, committer: { ...example.commit.committer, date: new Date().toISOString() } };
  const commitOf = (sha: string, parent: string) => ({ ...example, sha, commit, parents: [{ ...example.parents[0], sha: parent }] });
  const [deployed, superseded, finished] = ["1197955e4244c18bdb9b375076bcb6ca05414672", "6b1f53303a732ccc8c6aae6640399827c15250e3", MANIFESTS_SHA];
  await cannedResponse(GITHUB_PEER_URL, {
    operationId: "repos/compare-commits-with-basehead",
    body: { ...comparison, status: "ahead", ahead_by: 2, behind_by: 0, total_commits: 2, commits: [commitOf(superseded, deployed), commitOf(finished, superseded)] },
  });
  await cannedResponse(GITHUB_PEER_URL, { operationId: "repos/get-commit", body: exampleCommit(MANIFESTS_SHA, MERGE_MESSAGE), times: 3 });

  await post("flux-gh", await fluxFixture("kustomization-reconciliation-succeeded.json", deployed));
  await waitForJournal(GITHUB_PEER_URL, (entry) => entry.operationId === "repos/get-commit");
  await post("flux-gh", await fluxFixture("kustomization-reconciliation-succeeded.json", finished));
  await waitForJournal(GITHUB_PEER_URL, (entry) => entry.operationId === "repos/create-dispatch-event" && entry.body?.client_payload?.superseded_by === finished);
  await drainAndStop(daemon);
  const entries = await journal(GITHUB_PEER_URL);

  expectAllRequestsValid(entries);
  const compares = withOperation(entries, "repos/compare-commits-with-basehead");
  expect(compares.map((entry) => [entry.path, entry.query, entry.status])).toEqual([[`/repos/acme/manifests/compare/${deployed}...${finished}`, { per_page: "100", page: "1" }, 200]]);
  expect(entries.filter((entry) => isStatus("kustomization/apps-dev")(entry) && entry.path.endsWith(superseded)).map((entry) => [entry.body.state, entry.body.description])).toEqual([
    ["success", `superseded by ${finished.slice(0, 7)}`],
  ]);
  expect(withOperation(entries, "repos/create-dispatch-event").filter((entry) => entry.body.client_payload.superseded_by === finished)).toHaveLength(1);
});

test("a GitHub App: the installation-token exchange with the app's JWT, then statuses with the token, as GitHub describes them", async () => {
  await drainAndStop(daemon);
  const app = testGitHubApp();
  const pem = app.privateKey.trim().split("\n").map((line) => `      ${line}`).join("\n");
  const appDaemon = await startContractDaemon(
    `server: { host: 127.0.0.1, shutdownGraceMs: 5000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: flux-app
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: ${APP_URL}
    gitHubOrgUrl: ${GITHUB_PEER_URL}/repos/acme
    gitHubGitOpsManifestsRepoName: manifests
    gitHubAppId: ${app.appId}
    gitHubAppInstallationId: ${app.installationId}
    gitHubAppPrivateKey: |
${pem}
`,
    {},
  );
  expect(await postWebhook(appDaemon, "flux-app", await fluxFixture("kustomization-reconciliation-succeeded.json", MANIFESTS_SHA))).toBe(202);
  await drainAndStop(appDaemon);
  const entries = await journal(GITHUB_PEER_URL);

  expectAllRequestsValid(entries);
  const exchanges = withOperation(entries, "apps/create-installation-access-token");
  expect(exchanges.map((entry) => [entry.path, entry.status])).toEqual([[`/app/installations/${app.installationId}/access_tokens`, 201]]);
  expect(exchanges[0]?.headers.authorization).toMatch(/^bearer eyJ/i);
  const statuses = entries.filter(isStatus());
  expect(statuses.length).toBeGreaterThan(0);
  for (const status of statuses) expect(status.headers.authorization).toMatch(/^token ghs_/);
});
