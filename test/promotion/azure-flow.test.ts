import { afterEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { createAzureReposPromotion, PROMOTION_PROPERTY } from "../../src/git/azure-repos-promotion.ts";
import { promoteNew, promoteNext, promotionStatus } from "../../src/promotion/commands.ts";
import { startFakeAzureRepos, type FakeAzureRepos } from "../support/fake-azure-git.ts";
import { kustomization, PROMOTION_CONFIG, promotionModel, testContext } from "../support/promotion-repo.ts";

let fake: FakeAzureRepos | undefined;
afterEach(() => fake?.stop());

function start(config = PROMOTION_CONFIG) {
  fake = startFakeAzureRepos(promotionModel(config));
  const repository = createAzureReposPromotion({
    orgUrl: fake.orgUrl,
    repo: "manifests",
    credentials: tokenCredentials("azdo-pat-0123456789"),
    userAgent: "gitops-connector-test",
    display: "dev.azure.com/org/project/_git/manifests",
  });
  return { fake, model: fake.model, context: testContext(repository) };
}

const WEB = { group: "apps", app: "web", tag: "2.0.0" };

describe("promotion on Azure DevOps", () => {
  test("new: one push with oldObjectId = the base tip, a PR with auto-complete deleting the branch, the metadata mirrored to a property", async () => {
    const { fake, model, context } = start();
    const base = model.tip("main");
    const outcome = await promoteNew(context, WEB);
    expect(outcome.kind).toBe("created");
    const push = fake.writes().find((call) => call.path.endsWith("/pushes"))!;
    expect(push.body.refUpdates).toEqual([{ name: "refs/heads/promote/apps-web", oldObjectId: base }]);
    expect(push.body.commits[0].comment).toBe("Promote apps/web version 2.0.0 to environment dev");
    expect(push.body.commits[0].changes.map((change: { changeType: string; item: { path: string } }) => `${change.changeType} ${change.item.path}`).sort()).toEqual([
      "edit /apps/dev/deployment.yaml", "edit /apps/dev/kustomization.yaml",
    ]);
    expect(model.files(model.tip("promote/apps-web")).get("apps/dev/kustomization.yaml")).toBe(kustomization("2.0.0"));
    const pr = model.pullRequests[0]!;
    expect(pr.autoMerge).toEqual({ method: "noFastForward", by: "5a1b0c9e-1d2f-4e3a-8b7c-6d5e4f3a2b1c", deleteSourceBranch: true });
    expect(pr.properties[PROMOTION_PROPERTY]).toBe(`{"group":"apps","app":"web","tag":"2.0.0","env":"dev","sha":"${base}","feature":"","type":"promote"}`);
  });

  test("run twice → one push, one PR; a new tag → a second commit on the PR branch, no force", async () => {
    const { fake, model, context } = start();
    await promoteNew(context, WEB);
    const first = model.tip("promote/apps-web");
    expect((await promoteNew(context, WEB)).kind).toBe("unchanged");
    expect(fake.writes().filter((call) => call.path.endsWith("/pushes")).length).toBe(1);
    expect((await promoteNew(context, { ...WEB, tag: "2.1.0" })).kind).toBe("updated");
    expect(model.commits.get(model.tip("promote/apps-web"))!.parents).toEqual([first]);
    expect(model.pullRequests.length).toBe(1);
    expect(model.pullRequests[0]!.title).toBe("Promote apps/web version 2.1.0 to environment dev");
  });

  test("the full chain: new → merge → promote (pullrequestquery) → status waits for kustomization/apps-dev of genre fluxcd", async () => {
    const { model, context } = start();
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const merge = model.merge(created.pullRequest.number, true);
    const promoted = await promoteNext(context, merge);
    expect(promoted.kind).toBe("created");
    const qa = model.pullRequests.at(-1)!;
    expect(qa.body.split("\n")[0]).toContain(`"env":"qa","sha":"${merge}"`);

    model.addStatus(merge, { context: "kustomization/apps-dev", genre: "argocd", state: "success" });
    model.addStatus(merge, { context: "kustomization/apps-dev", genre: "fluxcd", state: "pending" });
    let polls = 0;
    const status = await promotionStatus({ ...context, sleep: async (ms) => {
      await context.sleep(ms);
      polls += 1;
      if (polls === 2) model.addStatus(merge, { context: "kustomization/apps-dev", genre: "fluxcd", state: "success" });
    } }, { branch: "refs/heads/promote/apps-web" });
    expect(status).toMatchObject({ kind: "succeeded", sha: merge });
    expect(polls).toBe(2);

    model.addStatus(merge, { context: "kustomization/apps-dev", genre: "fluxcd", state: "failure", description: "Health check failed" });
    expect(await promotionStatus(context, { pullRequest: qa.number })).toMatchObject({ kind: "failed" });
  });

  test("a description longer than the 400 characters lists give is read whole", async () => {
    const { model, context } = start();
    const created = await promoteNew(context, { ...WEB, tag: `2.0.0-${"x".repeat(120)}` });
    if (created.kind !== "created") throw new Error(created.kind);
    expect(model.pullRequests[0]!.body.length).toBeGreaterThan(400);
    expect((await promoteNew(context, { ...WEB, tag: `2.0.0-${"x".repeat(120)}` })).kind).toBe("unchanged");
  });
});
