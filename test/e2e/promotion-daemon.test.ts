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
    promotion: { enabled: true }
`);
const daemon = await startDaemon({ configPath, dryRun: false, env: { PAT: GITHUB_TOKEN } });
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
    headers: { "content-type": "application/json" },
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
