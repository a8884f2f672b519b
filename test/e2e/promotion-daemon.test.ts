/**
 * Connector-driven promotion through the real daemon (the compiled binary under GITOPS_CONNECTOR_BIN): a Flux
 * webhook for kustomization/apps-dev at the merge commit of a dev promotion opens the qa PR with `sha` = that
 * commit and `promotion/apps-dev` = success on its head; re-sends change nothing; a webhook never sent is made up
 * for by the periodic reconcile, from the status Flux's own provider left on GitHub.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promoteNew } from "../../src/promotion/commands.ts";
import { startDaemon } from "../support/daemon.ts";
import { startFakeGitHub } from "../support/fake-github-git.ts";
import type { GitModel } from "../support/git-model.ts";
import { gitHubPromotion, GITHUB_TOKEN, promotionModel, testContext } from "../support/promotion-repo.ts";

const FIXTURE = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "flux", "kustomization-reconciliation-succeeded.json"), "utf8"));
const fake = startFakeGitHub(promotionModel());
const { model } = fake;
const dir = mkdtempSync(join(tmpdir(), "promotion-daemon-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, `server: { host: 127.0.0.1 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
scheduler: { promotionReconcileSeconds: 1 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${fake.url}/repos/org
    gitHubGitOpsManifestsRepoName: manifests
    pat: \${PAT}
    promotion: { enabled: true, api: true }
    auth: { bearerToken: "\${API_TOKEN}" }
`);
const API_TOKEN = "promotions-api-token-0123456789";
const daemon = await startDaemon({ configPath, dryRun: false, env: { PAT: GITHUB_TOKEN, API_TOKEN } });
afterAll(() => {
  daemon.proc.kill();
  fake.stop();
});

/** Resolves once the fake's repository satisfies `check`; the daemon works on it in another process. */
async function until<T>(what: string, check: (model: GitModel) => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check(model);
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; daemon output:\n${daemon.lines.slice(-20).join("\n")}`);
    await Bun.sleep(20);
  }
}

async function flux(commit: string) {
  const response = await fetch(`${daemon.url}/gitopsphase`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_TOKEN}` },
    body: JSON.stringify({ ...FIXTURE, metadata: { ...FIXTURE.metadata, revision: `main@sha1:${commit}` } }),
  });
  return { status: response.status, body: (await response.json()) as { jobs: number } };
}

async function mergedDevPromotion(app: string, tag: string): Promise<string> {
  const created = await promoteNew(testContext(gitHubPromotion(fake)), { group: "apps", app, tag });
  if (created.kind !== "created") throw new Error(created.kind);
  return model.merge(created.pullRequest.number, true);
}

describe("the daemon drives promotion", () => {
  test("Flux success for apps-dev at a dev promotion's merge → the qa PR with sha = that commit and promotion/apps-dev on its head; re-sends change nothing", async () => {
    const merge = await mergedDevPromotion("web", "2.0.0");
    const started = Date.now();
    expect((await flux(merge)).status).toBe(202);
    const qa = await until("the qa PR", (m) => m.pullRequests.find((pr) => pr.state === "open" && pr.title === "Promote apps/web version 2.0.0 to environment qa"));
    const check = await until("promotion/apps-dev on its head", (m) => m.latestStatuses(m.tip(qa.branch)).find((status) => status.context === "promotion/apps-dev"));
    const elapsed = Date.now() - started;
    expect(check.state).toBe("success");
    expect(qa.body).toContain(`"env":"qa","sha":"${merge}"`);
    expect(elapsed).toBeLessThan(5_000); // "within seconds": one event, a handful of API calls on loopback

    for (let n = 0; n < 3; n += 1) expect(await flux(merge)).toEqual({ status: 202, body: expect.objectContaining({ jobs: 0 }) });
    expect(model.pullRequests.filter((pr) => pr.state === "open" && pr.title.includes("environment qa")).length).toBe(1);

    // The read model and the page show the chain: dev through, qa waiting on its PR, prod not yet.
    const { promotions } = (await (await fetch(`${daemon.url}/api/promotions`)).json()) as { promotions: any[] };
    expect(promotions).toContainEqual(expect.objectContaining({ group: "apps", app: "web", env: "qa", tag: "2.0.0", state: "open", pullRequest: { number: qa.number, url: expect.stringContaining(`/pull/${qa.number}`) }, commit: merge, chain: ["dev", "qa", "prod"] }));
    const page = await (await fetch(`${daemon.url}/`)).text();
    expect(page).toMatch(/data-chain="apps\/web">.*data-env="dev" data-state="through">dev <span aria-hidden="true">✓<\/span><span class="word"> done<\/span>.*data-env="qa" data-state="open">.*waiting.*PR #\d+.*data-env="prod" data-state="not-yet">.*not yet/s);
  });

  test("a webhook Flux never sent: the periodic reconcile opens the PR from the status on GitHub", async () => {
    const merge = await mergedDevPromotion("api", "3.0.0");
    // Flux's own GitHub provider wrote the status; the event to the connector was lost.
    model.addStatus(merge, { context: "kustomization/apps-dev", state: "success", description: "ReconciliationSucceeded" });
    const qa = await until("the api qa PR", (m) => m.pullRequests.find((pr) => pr.state === "open" && pr.title === "Promote apps/api version 3.0.0 to environment qa"));
    expect(qa.body).toContain(`"sha":"${merge}"`);
    const log = await daemon.waitForLine((line) => line.includes("is not in qa yet: advancing it"));
    expect(log).toContain('"app":"api"');
  });
});

describe("POST /api/promotions", () => {
  const ask = (body: unknown, token: string | null = API_TOKEN) =>
    fetch(`${daemon.url}/api/promotions`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

  test("starts promote new through the outbox; the same request again queues nothing; bad requests get a clear 4xx", async () => {
    expect((await ask({ group: "apps", app: "web", tag: "4.0.0" }, null)).status).toBe(401);
    expect((await ask({ group: "apps", app: "web", tag: "4.0.0" }, "wrong-token-0123")).status).toBe(401);
    const bad = await ask({ group: "apps", app: "web", tag: "not a tag" });
    expect({ status: bad.status, error: ((await bad.json()) as { error: string }).error }).toEqual({ status: 400, error: expect.stringContaining("tag: an image tag") });
    expect((await ask({ group: "apps", app: "web", tag: "4.0.0", extra: 1 })).status).toBe(400);

    const first = await ask({ group: "apps", app: "web", tag: "4.0.0" });
    expect({ status: first.status, body: await first.json() }).toEqual({ status: 202, body: { accepted: true, instance: "apps-dev", queued: true } });
    const dev = await until("the dev PR", (m) => m.pullRequests.find((pr) => pr.state === "open" && pr.title === "Promote apps/web version 4.0.0 to environment dev"));
    expect(dev.autoMerge).toEqual({ method: "MERGE" });
    const again = await ask({ group: "apps", app: "web", tag: "4.0.0" });
    expect(await again.json()).toEqual({ accepted: true, instance: "apps-dev", queued: false });
    expect(model.pullRequests.filter((pr) => pr.title === dev.title).length).toBe(1);
    expect(daemon.lines.join("\n")).not.toContain(API_TOKEN);
    expect(daemon.lines.join("\n")).not.toContain(GITHUB_TOKEN);
  });
});
