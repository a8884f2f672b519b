import { afterEach, describe, expect, test } from "bun:test";
import { promoteNew, promoteNext, promotionStatus } from "../../src/promotion/commands.ts";
import { promotionBody } from "../../src/promotion/pull-request.ts";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github-git.ts";
import { deployment, gitHubPromotion, kustomization, PROMOTION_CONFIG, promotionModel, testContext } from "../support/promotion-repo.ts";

let fake: FakeGitHub | undefined;
afterEach(() => fake?.stop());

function start(settings: Parameters<typeof startFakeGitHub>[1] = {}, config = PROMOTION_CONFIG) {
  fake = startFakeGitHub(promotionModel(config), settings);
  return { fake, model: fake.model, context: testContext(gitHubPromotion(fake)) };
}

const WEB = { group: "apps", app: "web", tag: "2.0.0" };

describe("promote new on GitHub", () => {
  test("exactly the marked scalars change; branch, title and metadata as gitops-promotion writes them; auto-merge for an auto env", async () => {
    const { model, context } = start();
    const base = model.tip("main");
    const outcome = await promoteNew(context, WEB);
    expect(outcome.kind).toBe("created");
    if (outcome.kind !== "created") return;
    expect(outcome.branch).toBe("promote/apps-web");
    const head = model.tip("promote/apps-web");
    const commit = model.commits.get(head)!;
    expect(commit.parents).toEqual([base]);
    expect(commit.message).toBe("Promote apps/web version 2.0.0 to environment dev");
    const changed = [...commit.files].filter(([path, text]) => model.files(base).get(path) !== text).map(([path]) => path);
    expect(changed.sort()).toEqual(["apps/dev/deployment.yaml", "apps/dev/kustomization.yaml"]);
    const expectedDeployment = deployment("dev", "1.0.0").replace("ghcr.io/org/web:1.0.0 # {", "ghcr.io/org/web:2.0.0 # {");
    expect(commit.files.get("apps/dev/deployment.yaml")).toBe(expectedDeployment);
    expect(commit.files.get("apps/dev/kustomization.yaml")).toBe(kustomization("2.0.0"));

    const pr = model.pull(outcome.pullRequest.number);
    expect(pr.title).toBe("Promote apps/web version 2.0.0 to environment dev");
    expect(pr.body).toBe(`<!-- metadata = {"group":"apps","app":"web","tag":"2.0.0","env":"dev","sha":"${base}","feature":"","type":"promote"} -->\n\tENV: dev\n\tAPP: web\n\tTAG: 2.0.0`);
    expect(pr.autoMerge).toEqual({ method: "MERGE" });
    expect(context.warnings).toEqual([expect.stringContaining("apps/dev/broken.yaml: skipped, not valid YAML")]);
  });

  test("per-env branches; no auto-merge for a manual environment", async () => {
    const { model, context } = start({}, PROMOTION_CONFIG.replace("  - name: dev\n    auto: true", "  - name: dev\n    auto: false") + "prflow: per-env\n");
    const outcome = await promoteNew(context, WEB);
    expect(outcome.kind).toBe("created");
    expect(outcome.branch).toBe("promote/dev/apps-web");
    if (outcome.kind === "created") expect(outcome.autoMerge).toBe("not requested: dev is not auto");
    expect(model.pullRequests[0]!.autoMerge).toBeUndefined();
  });

  test("run twice → one commit, one PR; a new tag → the same PR updated", async () => {
    const { fake, model, context } = start();
    await promoteNew(context, WEB);
    const commitsAfterFirst = model.commits.size;
    const second = await promoteNew(context, WEB);
    expect(second.kind).toBe("unchanged");
    expect(model.commits.size).toBe(commitsAfterFirst);
    expect(model.pullRequests.length).toBe(1);

    const writesBefore = fake.writes().length;
    const third = await promoteNew(context, { ...WEB, tag: "2.1.0" });
    expect(third.kind).toBe("updated");
    expect(model.pullRequests.length).toBe(1);
    expect(model.pullRequests[0]!.title).toBe("Promote apps/web version 2.1.0 to environment dev");
    expect(model.files(model.tip("promote/apps-web")).get("apps/dev/kustomization.yaml")).toBe(kustomization("2.1.0"));
    expect(fake.writes().slice(writesBefore).map((call) => `${call.method} ${call.path.replace(/^\/repos\/org\/manifests/, "")}`)).toEqual([
      "POST /git/trees", "POST /git/commits", "PATCH /git/refs/heads%2Fpromote%2Fapps-web", "PATCH /pulls/1",
    ]); // auto-merge was already on: read, not asked again
  });

  test("already at the tag on main: nothing to do", async () => {
    const { model, context } = start();
    const outcome = await promoteNew(context, { ...WEB, tag: "1.0.0" });
    expect(outcome).toMatchObject({ kind: "unchanged", reason: "apps/web is already at 1.0.0 in dev on main" });
    expect(model.pullRequests).toEqual([]);
  });

  test("no marker for the app is an error naming group, app and environment", async () => {
    const { context } = start();
    expect(promoteNew(context, { group: "apps", app: "nope", tag: "1" })).rejects.toThrow(/no "\$imagepolicy": "apps:nope" marker under apps\/dev\/ at [0-9a-f]{7} \(group apps, app nope, environment dev\)/);
  });
});

describe("the full chain on GitHub: new → merge → promote → status", () => {
  test("the qa PR carries sha = the merge commit; status passes only once kustomization/apps-dev is success", async () => {
    const { model, context } = start({ pullsOfCommitLag: 2 });
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const merge = model.merge(created.pullRequest.number, true);

    const promoted = await promoteNext(context, merge);
    expect(promoted.kind).toBe("created");
    if (promoted.kind !== "created") return;
    expect(context.waits.slice(0, 2)).toEqual([1000, 2000]); // commits/{sha}/pulls was empty twice, and retried
    expect(promoted.branch).toBe("promote/apps-web");
    const qa = model.pull(promoted.pullRequest.number);
    expect(qa.body.split("\n")[0]).toBe(`<!-- metadata = {"group":"apps","app":"web","tag":"2.0.0","env":"qa","sha":"${merge}","feature":"","type":"promote"} -->`);
    expect(model.files(model.tip("promote/apps-web")).get("apps/qa/kustomization.yaml")).toBe(kustomization("2.0.0"));
    expect(model.files(model.tip("promote/apps-web")).get("apps/dev/kustomization.yaml")).toBe(kustomization("2.0.0"));

    // Flux: pending, a part context that says success, then the reconciler's success.
    model.addStatus(merge, { context: "kustomization/apps-dev", state: "pending" });
    model.addStatus(merge, { context: "kustomization/apps-dev/deployment", state: "success" });
    let polls = 0;
    const waitingContext = { ...context, sleep: async (ms: number) => {
      await context.sleep(ms);
      polls += 1;
      if (polls === 3) model.addStatus(merge, { context: "kustomization/apps-dev", state: "success" });
    } };
    const status = await promotionStatus(waitingContext, { branch: "promote/apps-web" });
    expect(status).toMatchObject({ kind: "succeeded", context: "kustomization/apps-dev", sha: merge });
    expect(polls).toBe(3);
    expect(context.waits.slice(-3)).toEqual([5000, 7500, 11250]);
  });

  test("status fails at once on failure, and after the timeout when nothing comes", async () => {
    const { model, context } = start();
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const merge = model.merge(created.pullRequest.number, true);
    await promoteNext(context, merge);

    const timedOut = await promotionStatus(context, { branch: "refs/heads/promote/apps-web", timeoutMs: 60_000 });
    expect(timedOut.kind).toBe("timed-out");
    expect(context.waits.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(60_000);

    model.addStatus(merge, { context: "kustomization/apps-dev/0a1b2c3d", state: "failure", description: "health check failed" });
    const failed = await promotionStatus(context, { branch: "promote/apps-web" });
    expect(failed).toMatchObject({ kind: "failed", reason: `kustomization/apps-dev/0a1b2c3d is failure on ${merge.slice(0, 7)}: health check failed` });
  });

  test("status reads the base tip when Flux skipped the merge commit; skips manual branches and the first environment", async () => {
    const { model, context } = start();
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    expect(await promotionStatus(context, { branch: "promote/apps-web" })).toMatchObject({ kind: "skipped", reason: "dev is the first environment: no status to wait for" });
    expect(await promotionStatus(context, { branch: "fix-ingress" })).toMatchObject({ kind: "skipped" });

    const merge = model.merge(created.pullRequest.number, true);
    await promoteNext(context, merge);
    const later = model.push("main", "unrelated", { "README.md": "# later\n" });
    model.addStatus(later, { context: "kustomization/apps-dev", state: "success" });
    expect(await promotionStatus(context, { branch: "promote/apps-web" })).toMatchObject({ kind: "succeeded", sha: later });
  });

  test("promote skips a commit without a PR, a PR without metadata, and the last environment", async () => {
    const { model, context } = start();
    const direct = model.push("main", "direct", { "README.md": "x\n" });
    expect(await promoteNext(context, direct)).toMatchObject({ kind: "skipped", reason: `commit ${direct.slice(0, 7)} did not come from a pull request` });

    model.branches.set("fix", model.push("main", "base", {}));
    model.branches.set("fix", model.commit([model.tip("main")], "fix", new Map([...model.files(model.tip("main")), ["README.md", "fixed\n"]])));
    const manual = model.openPullRequest("fix", "main", "Fix", "Fixes the readme");
    const manualMerge = model.merge(manual.number);
    expect(await promoteNext(context, manualMerge)).toMatchObject({ kind: "skipped", reason: `pull request #${manual.number} was not made by a promotion` });

    model.branches.set("promote/apps-web", model.commit([model.tip("main")], "prod", new Map([...model.files(model.tip("main")), ["apps/prod/kustomization.yaml", kustomization("2.0.0")]])));
    const prod = model.openPullRequest("promote/apps-web", "main", "Promote apps/web version 2.0.0 to environment prod",
      promotionBody({ group: "apps", app: "web", tag: "2.0.0", env: "prod", sha: manualMerge, feature: "", type: "promote" }));
    expect(await promoteNext(context, model.merge(prod.number))).toMatchObject({ kind: "skipped", reason: "prod is the last environment; nothing to promote to" });
  });
});

describe("a PR written by gitops-promotion is read and promoted by ours", () => {
  test("their exact body and branch → our qa PR on the same branch", async () => {
    const { model, context } = start();
    const base = model.tip("main");
    // What gitops-promotion 2dad762 leaves: its branch, its commit author, its title, its body.
    model.branches.set("promote/apps-web", model.commit([base], "Promote apps/web version 3.0.0 to environment dev",
      new Map([...model.files(base), ["apps/dev/kustomization.yaml", kustomization("3.0.0").replace("'3.0.0'", "3.0.0")]])));
    const theirs = model.openPullRequest("promote/apps-web", "main", "Promote apps/web version 3.0.0 to environment dev",
      `<!-- metadata = {"group":"apps","app":"web","tag":"3.0.0","env":"dev","sha":"${base}","feature":"","type":"promote"} -->\n\tENV: dev\n\tAPP: web\n\tTAG: 3.0.0`);
    const merge = model.merge(theirs.number, true);
    const outcome = await promoteNext(context, merge);
    expect(outcome.kind).toBe("created");
    expect(model.files(model.tip("promote/apps-web")).get("apps/qa/kustomization.yaml")).toBe(kustomization("3.0.0"));
    expect(model.pullRequests.at(-1)!.title).toBe("Promote apps/web version 3.0.0 to environment qa");
  });
});

describe("GitHub's auto-merge, pagination and rate limits", () => {
  test("a repository that does not allow auto-merge: the PR stays open and the error names the setting", async () => {
    const { model, context } = start({ autoMergeAllowed: false });
    expect(promoteNew(context, WEB)).rejects.toThrow('pull request #1 is open, but auto-merge could not be enabled: org/manifests does not allow auto-merge: turn on Settings → General → "Allow auto-merge"');
    expect(model.pullRequests[0]!.state).toBe("open");
  });

  test("a base without a protection rule: the error says what to add", async () => {
    const { context } = start({ protectedBase: false });
    expect(promoteNew(context, WEB)).rejects.toThrow("has no protection rule: add one with a required status check");
  });

  test("already clean: merged at once with the head it was made for", async () => {
    const { fake, model, context } = start({ mergeStateStatus: "CLEAN" });
    const outcome = await promoteNew(context, WEB);
    expect(outcome).toMatchObject({ kind: "created", autoMerge: "merged (merge): it was already mergeable" });
    expect(model.pullRequests[0]!.state).toBe("merged");
    const merge = fake.calls.find((call) => call.method === "PUT")!;
    expect(merge.body).toEqual({ merge_method: "merge", sha: model.commits.get(model.pullRequests[0]!.mergeCommit!)!.parents[1] });
  });

  test("the mergeMethod of x-gitops-connector is the one asked for", async () => {
    const { model, context } = start({}, PROMOTION_CONFIG + "x-gitops-connector:\n  mergeMethod: squash\n");
    await promoteNew(context, WEB);
    expect(model.pullRequests[0]!.autoMerge).toEqual({ method: "SQUASH" });
  });

  test("combined statuses are read page by page: the reconciler's status on page 3 is found", async () => {
    const { fake, model, context } = start();
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const merge = model.merge(created.pullRequest.number, true);
    await promoteNext(context, merge);
    model.addStatus(merge, { context: "kustomization/apps-dev", state: "success" });
    for (let n = 0; n < 250; n += 1) model.addStatus(merge, { context: `kustomization/other-${n}`, state: "success" });
    expect(await promotionStatus(context, { branch: "promote/apps-web" })).toMatchObject({ kind: "succeeded" });
    const pages = fake.calls.filter((call) => call.path.endsWith(`/commits/${merge}/status`)).length;
    expect(pages).toBe(3);
  });

  test("a rate limit while waiting: the next look waits as long as GitHub says", async () => {
    const { fake, model, context } = start();
    const created = await promoteNew(context, WEB);
    if (created.kind !== "created") throw new Error(created.kind);
    const merge = model.merge(created.pullRequest.number, true);
    await promoteNext(context, merge);
    fake.failNext(/\/status$/, 429, { "retry-after": "90" });
    let looks = 0;
    const outcome = await promotionStatus({ ...context, sleep: async (ms) => {
      await context.sleep(ms);
      looks += 1;
      model.addStatus(merge, { context: "kustomization/apps-dev", state: "success" });
    } }, { branch: "promote/apps-web" });
    expect(outcome.kind).toBe("succeeded");
    expect(context.waits.at(-1)).toBe(90_000);
    expect(looks).toBe(1);
  });

  test("a feature PR is not promoted, and its status check passes", async () => {
    const { model, context } = start();
    model.branches.set("feature/apps-web-login", model.commit([model.tip("main")], "f", new Map([...model.files(model.tip("main")), ["apps/dev/kustomization.yaml", kustomization("feat")]])));
    const feature = model.openPullRequest("feature/apps-web-login", "main", "Review apps/web feature feat in environment dev",
      promotionBody({ group: "apps", app: "web", tag: "feat", env: "dev", sha: model.tip("main"), feature: "login", type: "feature" }));
    const merge = model.merge(feature.number);
    expect(await promoteNext(context, merge)).toMatchObject({ kind: "skipped", reason: `pull request #${feature.number} is a feature; features are not promoted` });
  });
});
