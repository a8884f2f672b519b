import { afterEach, describe, expect, test } from "bun:test";
import { advancePromotion, matchReconciler } from "../../src/promotion/advance.ts";
import { promoteNew } from "../../src/promotion/commands.ts";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github-git.ts";
import { gitHubPromotion, kustomization, promotionModel, testContext } from "../support/promotion-repo.ts";

let fake: FakeGitHub | undefined;
afterEach(() => fake?.stop());

function start() {
  fake = startFakeGitHub(promotionModel());
  return { fake, model: fake.model, context: testContext(gitHubPromotion(fake)) };
}

async function mergedDevPromotion(context: ReturnType<typeof start>["context"], model: ReturnType<typeof start>["model"], app: string, tag: string) {
  const created = await promoteNew(context, { group: "apps", app, tag });
  if (created.kind !== "created") throw new Error(created.kind);
  return model.merge(created.pullRequest.number, true);
}

describe("connector-driven promotion", () => {
  test("apps-dev succeeded at the merge commit of a dev promotion → the qa PR with sha = that commit, promotion/apps-dev = success on its head", async () => {
    const { model, context } = start();
    const merge = await mergedDevPromotion(context, model, "web", "2.0.0");
    const result = await advancePromotion(context, { commit: merge, kustomization: "apps-dev", outcome: "succeeded" });
    expect(result).toMatchObject({ kind: "done", group: "apps", env: "dev", next: "qa", apps: [{ app: "web", tag: "2.0.0", outcome: "created" }] });
    const qa = model.pullRequests.at(-1)!;
    expect(qa.title).toBe("Promote apps/web version 2.0.0 to environment qa");
    expect(qa.body).toContain(`"env":"qa","sha":"${merge}"`);
    const head = model.tip(qa.branch);
    expect(model.latestStatuses(head)).toEqual([{ context: "promotion/apps-dev", state: "success", description: `dev deployed ${merge.slice(0, 7)}` }]);
    expect(model.files(head).get("apps/qa/kustomization.yaml")).toBe(kustomization("2.0.0"));

    // The same event again: nothing new (one qa PR, one commit on it).
    const commits = model.commits.size;
    expect(await advancePromotion(context, { commit: merge, kustomization: "apps-dev", outcome: "succeeded" })).toMatchObject({ apps: [{ outcome: "unchanged" }] });
    expect(model.pullRequests.filter((pr) => pr.state === "open").length).toBe(1);
    expect(model.commits.size).toBe(commits);
  });

  test("two promotion PRs merged back to back, Flux reports only the second → both apps promoted to qa", async () => {
    const { model, context } = start();
    await mergedDevPromotion(context, model, "web", "2.0.0");
    const second = await mergedDevPromotion(context, model, "api", "3.0.0");
    const result = await advancePromotion(context, { commit: second, kustomization: "apps-dev", outcome: "succeeded" });
    expect(result.kind === "done" && result.apps.map(({ app, tag, outcome }) => `${app} ${tag} ${outcome}`).sort()).toEqual(["api 3.0.0 created", "web 2.0.0 created"]);
    const open = model.pullRequests.filter((pr) => pr.state === "open").map((pr) => pr.title).sort();
    expect(open).toEqual(["Promote apps/api version 3.0.0 to environment qa", "Promote apps/web version 2.0.0 to environment qa"]);
    for (const pr of model.pullRequests.filter((candidate) => candidate.state === "open")) expect(pr.body).toContain(`"sha":"${second}"`);
  });

  test("a failed reconcile advances nothing and posts failure on the waiting next-environment PR", async () => {
    const { model, context } = start();
    const first = await mergedDevPromotion(context, model, "web", "2.0.0");
    await advancePromotion(context, { commit: first, kustomization: "apps-dev", outcome: "succeeded" });
    const qa = model.pullRequests.at(-1)!;
    const commits = model.commits.size;
    const result = await advancePromotion(context, { commit: first, kustomization: "apps-dev", outcome: "failed" });
    expect(result).toMatchObject({ kind: "done", apps: [{ app: "web", outcome: "blocked", pullRequest: qa.number }] });
    expect(model.commits.size).toBe(commits);
    expect(model.latestStatuses(model.tip(qa.branch))[0]).toEqual({ context: "promotion/apps-dev", state: "failure", description: `dev failed to deploy ${first.slice(0, 7)}` });
  });

  test("a Kustomization that is no promotion environment's, or the last one's, advances nothing", async () => {
    const { fake, model, context } = start();
    const merge = await mergedDevPromotion(context, model, "web", "2.0.0");
    const writes = fake.writes().length;
    expect(await advancePromotion(context, { commit: merge, kustomization: "infra", outcome: "succeeded" })).toMatchObject({ kind: "not-a-promotion" });
    expect(await advancePromotion(context, { commit: merge, kustomization: "apps-prod", outcome: "succeeded" })).toMatchObject({ kind: "not-a-promotion", reason: "prod is the last environment" });
    expect(await advancePromotion(context, { commit: merge, kustomization: "other-dev", outcome: "succeeded" })).toMatchObject({ kind: "done", apps: [] });
    expect(fake.writes().length).toBe(writes);
  });

  test("the reconciler pattern: group and environment, the longest environment first, any case", () => {
    const config = { reconciler: "kustomization/{group}-{env}", environments: [{ name: "dev", auto: true }, { name: "prod-eu", auto: false }, { name: "eu", auto: false }] };
    expect(matchReconciler(config, "apps-dev")).toEqual({ group: "apps", env: "dev" });
    expect(matchReconciler(config, "my-apps-prod-eu")).toEqual({ group: "my-apps", env: "prod-eu" });
    expect(matchReconciler(config, "apps-eu")).toEqual({ group: "apps", env: "eu" });
    expect(matchReconciler(config, "apps")).toBeUndefined();
    expect(matchReconciler({ ...config, reconciler: "kustomization/{env}-{group}" }, "dev-apps")).toEqual({ group: "apps", env: "dev" });
  });
});
