import { afterEach, describe, expect, test } from "bun:test";
import { promoteNew, promoteNext } from "../../src/promotion/commands.ts";
import type { PromotionRepository } from "../../src/promotion/port.ts";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github-git.ts";
import { gitHubPromotion, kustomization, promotionModel, testContext } from "../support/promotion-repo.ts";

let fake: FakeGitHub | undefined;
afterEach(() => fake?.stop());

function start() {
  fake = startFakeGitHub(promotionModel());
  return { fake, model: fake.model, repository: gitHubPromotion(fake) };
}

const WEB = { group: "apps", app: "web", tag: "2.0.0" };

describe("promotion's safety rules", () => {
  test("never a write to the base branch: a whole chain moves only promotion branches", async () => {
    const { fake, model, repository } = start();
    const context = testContext(repository);
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const merge = model.merge(created.pullRequest.number, true);
    await promoteNext(context, merge);
    const refWrites = fake.writes().filter((call) => /\/git\/refs/.test(call.path));
    expect(refWrites.length).toBe(2);
    for (const call of refWrites) expect(call.body.ref ?? call.path).toMatch(/promote/);
    expect(model.tip("main")).toBe(merge);
  });

  test("a base branch named like the promotion branch is refused before any write", async () => {
    const { fake, model } = start();
    model.branches.set("promote/apps-web", model.tip("main"));
    const context = { ...testContext(gitHubPromotion(fake)), base: "promote/apps-web" };
    expect(promoteNew(context, WEB)).rejects.toThrow("refusing to write to the base branch promote/apps-web");
    expect(fake.writes()).toEqual([]);
  });

  test("no path outside <group>/<env>/, even when a provider lists one", async () => {
    const { fake, repository } = start();
    const leaky: PromotionRepository = {
      ...repository,
      async listFiles(commit, folder) {
        const files = await repository.listFiles(commit, folder);
        const prod = (await repository.listFiles(commit, "apps/prod/")).find((file) => file.path.endsWith("kustomization.yaml"))!;
        return [...files, prod];
      },
    };
    expect(promoteNew(testContext(leaky), WEB)).rejects.toThrow("refusing to change apps/prod/kustomization.yaml: outside apps/dev/");
    expect(fake.writes()).toEqual([]);
  });

  test("an open PR's head is never moved onto a commit the base has: the change already on main leaves the PR alone", async () => {
    const { fake, model, repository } = start();
    const context = testContext(repository);
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const head = model.tip("promote/apps-web");
    // Someone lands the same change on main by hand.
    model.push("main", "by hand", Object.fromEntries([...model.files(head)].filter(([path]) => path.startsWith("apps/dev/"))));
    const writes = fake.writes().length;
    const again = await promoteNew(context, WEB);
    expect(again.kind).toBe("unchanged");
    expect(fake.writes().length).toBe(writes);
    expect(model.tip("promote/apps-web")).toBe(head);
    expect(model.pull(created.pullRequest.number).state).toBe("open");
  });

  test("an open PR is replaced only by a newer sha", async () => {
    const { model, repository } = start();
    const context = testContext(repository);
    const first = await promoteNew(context, WEB);
    if (first.kind !== "created") throw new Error(first.kind);
    const older = model.merge(first.pullRequest.number, true);
    const second = await promoteNew(context, { ...WEB, tag: "2.1.0" });
    if (second.kind !== "created") throw new Error(second.kind);
    // Its dev PR is still open on the per-app branch: promote for the newer merge replaces it (its sha is older)…
    const newer = model.push("main", "later", { "README.md": "later\n" });
    model.pullRequests.push({ ...model.pull(second.pullRequest.number), number: 99, state: "merged", mergeCommit: newer, mergedAt: model.now(), body: model.pull(first.pullRequest.number).body.replace(/"sha":"[0-9a-f]+"/, `"sha":"${older}"`), properties: {} });
    const promotedNewer = await promoteNext(context, newer);
    expect(promotedNewer.kind).toBe("updated");
    const after = model.tip("promote/apps-web");
    // …and promote for the older merge, arriving late, does not take it back.
    const late = await promoteNext(context, older);
    expect(late).toMatchObject({ kind: "skipped", reason: expect.stringContaining("not replacing it with an older change") });
    expect(model.tip("promote/apps-web")).toBe(after);
  });

  test("two open PRs on one branch is an error, before any write", async () => {
    const { fake, model, repository } = start();
    model.branches.set("promote/apps-web", model.commit([model.tip("main")], "x", new Map([...model.files(model.tip("main")), ["apps/dev/kustomization.yaml", kustomization("9")]])));
    model.openPullRequest("promote/apps-web", "main", "one", "");
    model.openPullRequest("promote/apps-web", "main", "two", "");
    expect(promoteNew(testContext(repository), WEB)).rejects.toThrow("2 open pull requests for branch promote/apps-web (#1, #2); close all but one");
    expect(fake.writes()).toEqual([]);
  });

  test("a crash between the ref move and the PR: the next run finds its commit on the branch and opens the PR", async () => {
    const { fake, model, repository } = start();
    fake.failNext(/^POST .*\/pulls$/, 502);
    expect(promoteNew(testContext(repository), WEB)).rejects.toThrow();
    const moved = model.tip("promote/apps-web");
    const commits = model.commits.size;
    const finished = await promoteNew(testContext(repository), WEB);
    expect(finished.kind).toBe("created");
    expect(model.commits.size).toBe(commits);
    expect(model.tip("promote/apps-web")).toBe(moved);
    expect(model.pullRequests.filter((pr) => pr.state === "open").length).toBe(1);
  });

  test("a PR GitHub refuses while the fresh branch settles (\"No commits between\") is asked for again", async () => {
    const { fake, model, repository } = start();
    fake.failNext(/^POST .*\/pulls$/, 422, {}, "Validation Failed: No commits between main and promote/apps-web");
    const outcome = await promoteNew(testContext(repository), WEB);
    expect(outcome.kind).toBe("created");
    expect(fake.calls.filter((call) => call.method === "POST" && call.path.endsWith("/pulls")).length).toBe(2);
    expect(model.pullRequests.length).toBe(1);
  });
});
