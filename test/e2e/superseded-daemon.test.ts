/**
 * Pipelines of commits Flux never applied on their own, and two clusters on one repository (issue 11, items 6
 * and 7), end to end: the real daemon process against a loopback fake of GitHub and Azure DevOps that keeps a
 * git history (two PRs merged before Flux reconciled), with its pipeline callbacks and plans.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { isStatusPost } from "../support/fake-api.ts";
import { azureMergeMessage, gitHubMergeMessage, HISTORY_SHAS, twoMergedPullRequests } from "../support/history.ts";
import { COMMIT, PAT, post, resend, useTraffic, workerLine, type Daemon } from "../support/traffic.ts";

const traffic = useTraffic();

describe("two clusters on one repository", () => {
  test("environments dev and prod on one repo and one commit → distinct contexts; a callback naming prod is completed by prod only", async () => {
    const PROJECT = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    const callback = { taskid: "7e1c0d52-0000-4000-8000-000000000012", jobid: "12f1170f-54f2-53f3-20dd-22fc7dff55f9", planurl: traffic.api.azureCollectionUrl(), planid: "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b", projectid: PROJECT, pr_num: "12", environment: "prod" };
    traffic.api.on("GET", `/repos/org/manifests/commits/${COMMIT}/pulls`, { status: 200, body: [{ number: 12, state: "closed", merged_at: "2026-12-01T10:00:00Z", merge_commit_sha: COMMIT }] });
    traffic.api.on("GET", "/repos/org/manifests/pulls/12", { status: 200, body: { number: 12, state: "closed", body: `Deploy web\n\n<!-- gitops-connector: ${JSON.stringify(callback)} -->` } });
    const instance = (environment: string) => `  - name: apps-${environment}
    environment: ${environment}
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${traffic.api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    azdoOrgUrl: ${traffic.api.azureOrgUrl()}
    pat: "\${PAT}"
`;
    const configPath = traffic.writeConfig();
    writeFileSync(configPath, `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }\noutbox: { initialBackoffMs: 50, maxBackoffMs: 200 }\ninstances:\n${instance("dev")}${instance("prod")}`);
    const daemon = await traffic.daemonWith(configPath);
    const event = resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s");
    for (const environment of ["dev", "prod"]) {
      const response = await fetch(`${daemon.url}/gitopsphase/apps-${environment}`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
      expect(response.status).toBe(202);
    }
    await traffic.api.waitForCount(2, isStatusPost);
    expect(traffic.api.requests(isStatusPost).map((request) => (request.body as { context: string }).context).sort()).toEqual(["kustomization/apps-dev/dev", "kustomization/apps-dev/prod"]);

    await daemon.waitForLine((line) => line.includes("it waits for environment prod") && line.includes('"instance":"apps-dev"'));
    await daemon.waitForLine((line) => line.includes("completed the Azure Pipelines task of PR 12"));
    const events = traffic.api.requests((request) => request.method === "POST" && request.path.endsWith("/events"));
    expect(events.map((request) => request.body)).toEqual([{ name: "TaskCompleted", taskId: callback.taskid, jobId: callback.jobid, result: "succeeded" }]);
    expect(JSON.parse(daemon.lines.find((line) => line.includes("completed the Azure Pipelines task of PR 12"))!)).toMatchObject({ instance: "apps-prod" });
  });
});

describe("superseded commits finish their pipelines", () => {
  const { O, A, B } = HISTORY_SHAS;
  const finished = (commit: string) => resend(commit, "Reconciliation finished in 3.2s, next run in 10m0s");
  const isPlanEvent = (request: { method: string; path: string }) => request.method === "POST" && request.path.endsWith("/events");
  const isDispatch = (request: { method: string; path: string }) => request.method === "POST" && request.path.endsWith("/dispatches");

  /**
   * Once O's, B's and A's notifications are recorded as delivered (a kill before that would rightly retry one),
   * restarts on the same data dir after a SIGKILL, re-sends what Flux would, and shows nothing is planned again.
   */
  async function nothingTwiceAfterRestart(daemon: Daemon, configPath: string): Promise<void> {
    const delivered = workerLine("orchestrator", "delivered");
    await daemon.waitForLine((line) => delivered(line) && daemon.lines.filter(delivered).length >= 3);
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
    traffic.forget(daemon);
    const again = await traffic.daemonWith(configPath, { dataDir: daemon.dataDir });
    // Flux's next interval re-sends B: its statuses, its pipeline and A's are all known, so nothing is planned.
    expect((await post(again, finished(B))).body.jobs).toBe(0);
    expect((await post(again, finished(B))).body.jobs).toBe(0);
  }

  test("Azure Repos: PRs A and B merged, Flux reports only B → both Azure Pipelines tasks succeeded once, A's context in B's state", async () => {
    const PROJECT = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    const callback = (pr: number) => ({ taskid: `7e1c0d52-0000-4000-8000-00000000000${pr}`, jobid: `12f1170f-0000-4000-8000-00000000000${pr}`, planurl: traffic.api.azureCollectionUrl(), planid: `5e7f3a2b-0000-4000-8000-00000000000${pr}`, projectid: PROJECT, pr_num: String(pr) });
    traffic.api.setHistory(twoMergedPullRequests(azureMergeMessage));
    traffic.api.setPipelineCallback(1, callback(1));
    traffic.api.setPipelineCallback(2, callback(2));
    const configPath = traffic.writeConfig();
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: AZDO
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://dev.azure.com/org/project/_git/manifests
    azdoOrgUrl: ${traffic.api.azureOrgUrl()}
    azdoGitOpsRepoName: manifests
    pat: "\${PAT}"
`,
    );
    const daemon = await traffic.daemonWith(configPath);
    expect((await post(daemon, finished(O))).status).toBe(202); // the last commit the Kustomization finished
    await daemon.waitForLine((line) => line.includes(`commit ${O} of instance apps-dev was not merged from a pull request`));
    expect((await post(daemon, finished(B))).status).toBe(202); // A and B merged; Flux applied only B

    const events = await traffic.api.waitForCount(2, isPlanEvent, 10_000);
    expect(events.map((request) => (request.body as { taskId: string }).taskId).sort()).toEqual([callback(1).taskid, callback(2).taskid]);
    expect(events.map((request) => (request.body as { result: string }).result)).toEqual(["succeeded", "succeeded"]);
    const onA = await traffic.api.waitFor((request) => request.method === "POST" && request.path.endsWith(`/commits/${A}/statuses`), 10_000);
    expect(onA.body).toMatchObject({ state: "succeeded", description: `Status: superseded by ${B.slice(0, 7)}`, context: { name: "kustomization/apps-dev", genre: "fluxcd" } });
    await daemon.waitForLine((line) => line.includes(`1 commit superseded by ${B.slice(0, 7)}`));
    expect(traffic.api.requests((request) => request.path.includes(HISTORY_SHAS.a1) || request.path.includes(HISTORY_SHAS.b1))).toEqual([]); // branch commits untouched

    await nothingTwiceAfterRestart(daemon, configPath);
    expect(traffic.api.requests(isPlanEvent)).toHaveLength(2);
  }, 30_000);

  test("GitHub: two sync-success dispatches with A's and B's run ids, A's marked superseded_by B; nothing twice after a restart", async () => {
    traffic.api.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const configPath = traffic.writeConfig({ subscribers: false });
    const daemon = await traffic.daemonWith(configPath);
    expect((await post(daemon, finished(O))).status).toBe(202);
    await daemon.waitForLine((line) => line.includes(`no GitHub Actions dispatch for commit ${O}`));
    expect((await post(daemon, finished(B))).status).toBe(202);

    const dispatches = await traffic.api.waitForCount(2, isDispatch, 10_000);
    expect(dispatches.map((request) => request.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { event_type: "sync-success", client_payload: { sha: "a0ffee", runid: "111", commitmessage: gitHubMergeMessage(1, "A"), superseded_by: B } },
      { event_type: "sync-success", client_payload: { sha: "b0ffee", runid: "222", commitmessage: gitHubMergeMessage(2, "B") } },
    ]);
    const onA = await traffic.api.waitFor((request) => isStatusPost(request) && request.path.endsWith(`/statuses/${A}`), 10_000);
    expect(onA.body).toMatchObject({ state: "success", context: "kustomization/apps-dev", description: `superseded by ${B.slice(0, 7)}` });

    await nothingTwiceAfterRestart(daemon, configPath);
    expect(traffic.api.requests(isDispatch)).toHaveLength(2);
  }, 30_000);
});
