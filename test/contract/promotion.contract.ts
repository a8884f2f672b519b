/**
 * Promotion contract: the whole chain (new → merge → promote → status) runs against the stateful fakes, which
 * keep a real git history, and every request is also sent to the Prism peer serving the vendor's own API
 * description, whose journal must accept each one. GitHub's GraphQL bodies (auto-merge) are checked against the
 * schema GitHub publishes (npm @octokit/graphql-schema, through ../shared/peers/examples/graphql-check.mjs).
 * Run through `bun test/contract/run.ts`, which starts the peers.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { createAzureReposPromotion } from "../../src/git/azure-repos-promotion.ts";
import { promoteNew, promoteNext, promotionStatus } from "../../src/promotion/commands.ts";
import { startFakeAzureRepos, type FakeAzureRepos } from "../support/fake-azure-git.ts";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github-git.ts";
import { gitHubPromotion, promotionModel, testContext } from "../support/promotion-repo.ts";
import { AZDO_PEER_URL, clearPeers, describeEntry, expectAllRequestsValid, GITHUB_PEER_URL, journal, PEERS_DIR } from "./peers.ts";

const { checkGraphQLRequest } = (await import(join(PEERS_DIR, "examples", "graphql-check.mjs"))) as {
  checkGraphQLRequest: (body: { query: string; variables?: Record<string, unknown> }) => string[];
};

let github: FakeGitHub | undefined;
let azure: FakeAzureRepos | undefined;
beforeEach(clearPeers);
afterEach(() => {
  github?.stop();
  azure?.stop();
});

const WEB = { group: "apps", app: "web", tag: "2.0.0" };

test("GitHub: every REST call of new → merge → promote → status is one GitHub's description allows; GraphQL bodies fit GitHub's schema", async () => {
  github = startFakeGitHub(promotionModel(), {}, GITHUB_PEER_URL);
  const { model } = github;
  const context = testContext(gitHubPromotion(github));
  const created = await promoteNew(context, WEB);
  if (created.kind !== "created") throw new Error(created.kind);
  await promoteNew(context, { ...WEB, tag: "2.1.0" }); // the update path: PATCH ref, PATCH pull
  const merge = model.merge(created.pullRequest.number, true);
  github.settings.mergeStateStatus = "CLEAN"; // qa is auto and already mergeable: merged at once
  const promoted = await promoteNext(context, merge);
  expect(promoted.kind).toBe("created");
  if (promoted.kind === "created") expect(promoted.autoMerge).toBe("merged (merge): it was already mergeable");
  const qaMerge = model.tip("main");
  model.addStatus(qaMerge, { context: "kustomization/apps-qa", state: "success" });
  const prod = await promoteNext(context, qaMerge);
  expect(prod.kind).toBe("created");
  model.addStatus(qaMerge, { context: "kustomization/apps-qa/0a1b2c3d", state: "success" });
  expect((await promotionStatus(context, { branch: "promote/apps-web" })).kind).toBe("succeeded");

  const entries = await journal(GITHUB_PEER_URL);
  expectAllRequestsValid(entries);
  const rest = github.calls.filter((call) => !call.path.endsWith("/graphql"));
  expect(entries.length).toBe(rest.length);
  const operations = new Set(entries.map((entry) => entry.operationId));
  for (const operation of ["git/get-ref", "git/create-ref", "git/update-ref", "git/get-tree", "git/get-blob", "git/get-commit", "git/create-tree", "git/create-commit",
    "repos/get-content", "repos/compare-commits-with-basehead", "pulls/list", "pulls/create", "pulls/update", "pulls/merge",
    "repos/list-pull-requests-associated-with-commit", "repos/get-combined-status-for-ref"]) {
    expect({ operation, seen: operations.has(operation) }).toEqual({ operation, seen: true });
  }
  expect(github.graphqlBodies.length).toBeGreaterThanOrEqual(3);
  expect(github.graphqlBodies.some((body) => body.query.includes("enablePullRequestAutoMerge"))).toBe(true);
  for (const body of github.graphqlBodies) expect({ query: body.query.split("(")[0], problems: checkGraphQLRequest(body) }).toEqual({ query: body.query.split("(")[0], problems: [] });
});

test("Azure DevOps: every call of new → merge → promote → status is one Azure DevOps' description allows", async () => {
  azure = startFakeAzureRepos(promotionModel(), AZDO_PEER_URL);
  const { model } = azure;
  const repository = createAzureReposPromotion({
    orgUrl: azure.orgUrl,
    repo: "manifests",
    credentials: tokenCredentials("azdo-contract-pat-0123456789"),
    userAgent: "gitops-connector-contract",
    display: "dev.azure.com/org/project/_git/manifests",
  });
  const context = testContext(repository);
  const created = await promoteNew(context, WEB);
  if (created.kind !== "created") throw new Error(created.kind);
  await promoteNew(context, { ...WEB, tag: "2.1.0" });
  const merge = model.merge(created.pullRequest.number, true);
  expect((await promoteNext(context, merge)).kind).toBe("created");
  model.addStatus(merge, { context: "kustomization/apps-dev", genre: "fluxcd", state: "success" });
  expect((await promotionStatus(context, { branch: "promote/apps-web" })).kind).toBe("succeeded");

  const entries = await journal(AZDO_PEER_URL);
  expectAllRequestsValid(entries);
  expect(entries.length).toBe(azure.calls.length);
  const operations = new Set(entries.map((entry) => entry.operationId));
  for (const operation of ["Refs_List", "Items_Get", "Pushes_Create", "Pull Requests_Get Pull Requests", "Pull Requests_Create", "Pull Requests_Get Pull Request",
    "Pull Requests_Update", "Pull Request Properties_Update", "Pull Request Query_Get", "Statuses_List", "Merge Bases_List"]) {
    expect({ operation, seen: operations.has(operation), all: [...operations].join(", ") }).toMatchObject({ operation, seen: true });
  }
  expect(entries.map(describeEntry).filter((line) => line.includes("(no operation)"))).toEqual([]);
});
