/**
 * Issue 17's acceptance at full size: two daemons (the compiled binary under GITOPS_CONNECTOR_BIN) on one
 * PostgreSQL outbox, 5,000 Flux webhooks over 100 commits (half on a GitHub instance with GitHub Actions, half on
 * an Azure Repos instance with Azure Pipelines), sent 16 at a time and alternated between the daemons; the one
 * that runs the scheduler is killed with SIGKILL halfway, and the senders go on against the other (as a Service
 * would, a webhook the dead one did not answer is sent again). Then, from what reached the fake API:
 * - every acknowledged status arrived, and per context the last to arrive is the newest sent;
 * - per ordering key the arrivals keep the order of the webhooks (a subsequence of them: coalescing drops
 *   pending ones; the same one twice only when the dead replica had it in flight);
 * - each Azure Pipelines task is completed exactly once (the fake keeps the timeline, the survivor reads it
 *   before it completes a task the dead one may have completed already);
 * - each dispatch is sent once, except one the dead replica had in flight (GitHub's repository_dispatch has no
 *   idempotency key, so delivery is at least once): twice at most, and a job the survivor logged as taken over;
 * - the abandoned-PR sweep ran on one replica per period, and on the survivor within the lease after the kill.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../support/daemon.ts";
import { isAzurePullRequestList, isAzureStatusPost, isDispatch, isPlanEvent, isStatusPost, startFakeApi, type RecordedRequest } from "../support/fake-api.ts";
import { freshSchema } from "../support/postgres.ts";

const COMMITS = 100;
const KUSTOMIZATIONS = 5;
const STEPS = 10;
const SENDERS = 16;
const SWEEP_SECONDS = 1;
const LEASE_TTL_MS = 15_000;
const PROJECT_ID = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";

const api = startFakeApi();
const schema = await freshSchema("replicas_full");
const PAT = "ghp_replicasFullTestToken0123456789ab";
const dir = mkdtempSync(join(tmpdir(), "pg-replicas-full-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, `server: { host: 127.0.0.1, shutdownGraceMs: 1000 }
outbox: { driver: postgres, url: "\${OUTBOX_URL}", timeoutMs: 1000, initialBackoffMs: 50, maxBackoffMs: 200, maxDepth: 100000 }
scheduler: { abandonedPrSweepSeconds: ${SWEEP_SECONDS} }
instances:
  - name: gh
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: \${PAT}
  - name: az
    gitOpsOperatorType: FLUX
    gitRepositoryType: AZDO
    ciCdOrchestratorType: AZDO
    gitOpsAppURL: https://dev.azure.com/org/project/_git/manifests/commit
    azdoOrgUrl: ${api.azureOrgUrl()}
    azdoGitOpsRepoName: manifests
    pat: \${PAT}
`);
const env = { PAT, OUTBOX_URL: schema.url };
const daemons: { proc: { kill(signal?: number | NodeJS.Signals): void } }[] = [];
afterAll(async () => {
  for (const daemon of daemons) daemon.proc.kill("SIGKILL");
  await api.stop();
  await schema.drop();
});

// ---------------------------------------------------------------------------------------------- the traffic

const commitOf = (n: number) => (0xc0000 + n).toString(16).padStart(8, "0") + "5eed".repeat(8);
const instanceOf = (n: number) => (n % 2 === 0 ? "gh" : "az");
const runIdOf = (n: number) => String(7000 + n);
const pullRequestOf = (n: number) => 100 + n;
const jobIdOf = (n: number) => `0a7b9c1d-0000-4000-8000-${String(n).padStart(12, "0")}`;

/**
 * What Kustomization `k` reports about commit `n` at step `s`: applying (a change set at step 0, so there is a
 * part status too), waiting on a dependency (its message names the step, so the status does), on the GitHub
 * instance a failed attempt at step 5, and at the last step success. Reasons alternate, so every one is news.
 */
function eventOf(n: number, k: number, s: number) {
  const last = s === STEPS - 1;
  const failed = instanceOf(n) === "gh" && s === 5;
  const reason = last ? "ReconciliationSucceeded" : failed ? "ReconciliationFailed" : s % 2 === 0 ? "Progressing" : "DependencyNotReady";
  const message = last
    ? `Reconciliation finished in 1.2s (step ${s}), next run in 10m0s`
    : reason === "Progressing"
      ? s === 0 ? `Deployment/apps/web-${k} configured` : ""
      : `step ${s}: dependency 'flux-system/infra-${k}' is not ready`;
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: `apps-${k}` },
    severity: failed ? "error" : "info",
    timestamp: "2026-12-02T10:00:00Z",
    message,
    reason,
    metadata: { revision: `main@sha1:${commitOf(n)}` },
    reportingController: "kustomize-controller",
  };
}

/** The step a delivered status stands for: named in its description, or an applying step (any even one). */
function stepsMatching(description: string): (s: number) => boolean {
  const named = /step (\d+)/.exec(description);
  if (named) return (s) => s === Number(named[1]);
  if (description.includes("Reconciliation underway.")) return (s) => s % 2 === 0 && s < STEPS - 1;
  return () => true; // a part status: one per context, nothing to order
}

interface Delivered {
  readonly commit: string;
  readonly context: string;
  readonly description: string;
  readonly at: number;
}

function deliveredStatuses(): Delivered[] {
  return api.requests((request) => (isStatusPost(request) || isAzureStatusPost(request)) && (request.answeredWith === 201)).map((request) => {
    const body = request.body as { context: string | { name: string }; description: string };
    const commit = isStatusPost(request) ? request.path.split("/").at(-1)! : request.path.split("/").at(-2)!;
    return { commit, context: typeof body.context === "string" ? body.context : body.context.name, description: body.description, at: request.at };
  });
}

// ---------------------------------------------------------------------------------------------- the fake's state

/** Azure Pipelines as the callback sees it: a plan per PR, its job's timeline record completed by TaskCompleted. */
function keepPipelineState(): void {
  const completed = new Set<string>();
  api.on("GET", /\/_apis\/distributedtask\/hubs\/build\/plans\/plan-(\d+)$/, (request) => ({
    status: 200,
    body: { planId: request.path.split("/").at(-1), state: "inProgress", owner: { id: Number(/plan-(\d+)$/.exec(request.path)![1]) } },
  }));
  api.on("GET", /\/_apis\/build\/builds\/\d+\/timeline$/, (request) => {
    const n = Number(request.path.split("/").at(-2));
    return { status: 200, body: { records: [{ id: jobIdOf(n), state: completed.has(jobIdOf(n)) ? "completed" : "inProgress" }] } };
  });
  api.on("POST", /\/_apis\/distributedtask\/hubs\/build\/plans\/plan-\d+\/events$/, async (request) => {
    await Bun.sleep(20); // long enough to be in flight when a replica dies
    completed.add((request.body as { jobId: string }).jobId);
    return { status: 204 };
  });
}

// ---------------------------------------------------------------------------------------------- the run

describe("issue 17 acceptance: two replicas on one PostgreSQL, 5,000 webhooks over 100 commits", () => {
  test("SIGKILL of the scheduler's replica halfway: nothing acknowledged lost, order kept, tasks once, dispatches once but in flight", async () => {
    api.on("POST", /\/statuses(\/[^/]+)?$/, async (request) => {
      await Bun.sleep(5);
      return { status: 201, body: { state: isStatusPost(request) ? "success" : "succeeded" } };
    });
    api.on("POST", /\/dispatches$/, async () => {
      await Bun.sleep(20);
      return { status: 204 };
    });
    keepPipelineState();
    for (let n = 0; n < COMMITS; n++) {
      if (instanceOf(n) === "gh") api.setCommitMessage(commitOf(n), `Merge pull request #${n} from org/deploy/${runIdOf(n)}/${"0a1b2c3d".repeat(5)}/dev`);
      else {
        api.setCommitMessage(commitOf(n), `Merged PR ${pullRequestOf(n)}: Deploy app-src ${runIdOf(n)} to dev`);
        api.setPipelineCallback(pullRequestOf(n), { taskid: `task-${n}`, jobid: jobIdOf(n), planurl: api.azureCollectionUrl(), planid: `plan-${n}`, projectid: PROJECT_ID, pr_num: String(pullRequestOf(n)) });
      }
    }

    const a = await startDaemon({ configPath, env, dryRun: false });
    const b = await startDaemon({ configPath, env, dryRun: false });
    daemons.push(a, b);
    await a.waitForLine((line) => line.includes("this replica runs the scheduler now"));
    const startedAt = Date.now();
    // A few sweeps with both replicas up before the traffic, so the window in which only one may sweep is long.
    await api.waitForCount(3, (request) => isAzurePullRequestList(request) && request.at >= startedAt, 10_000);

    // Each sender takes the next commit and sends its 50 webhooks in order, step by step over the Kustomizations.
    const webhooks = COMMITS * KUSTOMIZATIONS * STEPS;
    let nextCommit = 0;
    let sent = 0;
    let resent = 0;
    let killedAt = Number.POSITIVE_INFINITY;
    const alive = () => (Number.isFinite(killedAt) ? [b] : [a, b]);
    async function deliver(body: unknown, path: string): Promise<void> {
      for (let attempt = 0; attempt < 50; attempt++) {
        const daemons = alive();
        const daemon = daemons[(sent + attempt) % daemons.length]!;
        const response = await fetch(`${daemon.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).catch(() => undefined);
        if (response?.status === 202) return;
        resent += 1;
        if (response && response.status !== 503) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
        if (response) await Bun.sleep(100);
      }
      throw new Error("a webhook was not acknowledged after 50 tries");
    }
    async function sender(): Promise<void> {
      for (let n = nextCommit++; n < COMMITS; n = nextCommit++) {
        for (let s = 0; s < STEPS; s++) {
          for (let k = 0; k < KUSTOMIZATIONS; k++) {
            if (sent === webhooks / 2 && !Number.isFinite(killedAt)) {
              killedAt = Date.now();
              a.proc.kill("SIGKILL");
            }
            sent += 1;
            await deliver(eventOf(n, k, s), `/gitopsphase/${instanceOf(n)}`);
          }
        }
      }
    }
    await Promise.all(Array.from({ length: SENDERS }, sender));
    expect(sent).toBe(webhooks);
    const sentAt = Date.now();

    // Everything delivered: the newest status of every context has arrived and the outbox is empty.
    const lastContexts = COMMITS * KUSTOMIZATIONS;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const newest = deliveredStatuses().filter((status) => status.description.includes(`step ${STEPS - 1}`));
      const metrics = await (await fetch(`${b.url}/metrics`)).text();
      if (new Set(newest.map((status) => `${status.commit} ${status.context}`)).size === lastContexts && /^gitops_connector_outbox_depth 0$/m.test(metrics)) break;
      if (Date.now() > deadline) throw new Error(`not delivered in time: ${new Set(newest.map((status) => `${status.commit} ${status.context}`)).size} of ${lastContexts} contexts at their newest; depth ${/^gitops_connector_outbox_depth (\d+)/m.exec(metrics)?.[1]}; b:\n${b.lines.slice(-10).join("\n")}`);
      await Bun.sleep(100);
    }
    const deliveredAt = Date.now();

    // Per context, in arrival order: a subsequence of the steps sent (one repeated only back to back), newest last.
    const byContext = new Map<string, Delivered[]>();
    for (const status of deliveredStatuses()) {
      const key = `${status.commit} ${status.context}`;
      byContext.set(key, [...(byContext.get(key) ?? []), status]);
    }
    const violations: string[] = [];
    let repeatedStatuses = 0; // sent by the dead replica, then again by the survivor once its lease ran out
    for (const [key, arrivals] of byContext) {
      repeatedStatuses += arrivals.filter((arrival, i) => i > 0 && /step \d+/.test(arrival.description) && arrival.description === arrivals[i - 1]!.description).length;
      let step = 0;
      for (const arrival of arrivals) {
        const matches = stepsMatching(arrival.description);
        let found = step;
        while (found < STEPS && !matches(found)) found += 1;
        if (found === STEPS) violations.push(`${key}: "${arrival.description}" arrived after step ${step}`);
        else step = found;
      }
      const main = key.split(" ")[1]!.split("/").length === 2;
      if (main && !arrivals.at(-1)!.description.includes(`step ${STEPS - 1}`)) violations.push(`${key}: the last to arrive is "${arrivals.at(-1)!.description}"`);
    }
    expect(violations).toEqual([]);
    expect(byContext.size).toBe(COMMITS * KUSTOMIZATIONS * 2); // each Kustomization's status and its Deployment part

    // Azure Pipelines: each task completed exactly once, as succeeded.
    const azureCommits = Array.from({ length: COMMITS }, (_, n) => n).filter((n) => instanceOf(n) === "az");
    const completions = api.requests((request) => isPlanEvent(request) && request.answeredWith === 204).map((request) => request.body as { jobId: string; result: string });
    expect(completions.map((event) => event.jobId).sort()).toEqual(azureCommits.map(jobIdOf).sort());
    expect(new Set(completions.map((event) => event.result))).toEqual(new Set(["succeeded"]));

    // GitHub Actions: each commit's dispatch once; a second copy only of one whose first arrived before the kill.
    const githubCommits = Array.from({ length: COMMITS }, (_, n) => n).filter((n) => instanceOf(n) === "gh");
    const dispatches = api.requests(isDispatch).map((request) => ({ runid: (request.body as { client_payload: { runid: string } }).client_payload.runid, at: request.at }));
    expect([...new Set(dispatches.map((dispatch) => dispatch.runid))].sort()).toEqual(githubCommits.map(runIdOf).sort());
    const repeated = githubCommits.map(runIdOf).filter((runid) => dispatches.filter((dispatch) => dispatch.runid === runid).length > 1);
    // The survivor names every job it took over from the dead one's lapsed leases; each repeat is one of them.
    const takenOver = b.lines.flatMap((line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; kind?: string; commit?: string };
        return entry.msg?.startsWith("taking over a job") ? [entry] : [];
      } catch {
        return [];
      }
    });
    // (Not "its first copy arrived before the kill": the fake may read a request the dead replica sent just before
    // it died only after the test took the kill's time.)
    for (const runid of repeated) {
      const copies = dispatches.filter((dispatch) => dispatch.runid === runid).length;
      const commit = commitOf(Number(runid) - 7000);
      expect({ runid, copies, takenOver: takenOver.some((entry) => entry.kind === "orchestrator" && entry.commit === commit) }).toEqual({ runid, copies: 2, takenOver: true });
    }

    // The sweep: one replica's pace while both ran (two would sweep twice as often), then the survivor's after
    // it took the lease, within the lease's time to live (+ one renewal period and one sweep).
    const sweeps = api.requests(isAzurePullRequestList).map((request: RecordedRequest) => request.at);
    const before = sweeps.filter((at) => at >= startedAt && at < killedAt).length;
    const bothSeconds = (killedAt - startedAt) / 1000;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThanOrEqual(Math.ceil(bothSeconds / SWEEP_SECONDS) + 1);
    await b.waitForLine((line) => line.includes("this replica runs the scheduler now"), LEASE_TTL_MS + 10_000);
    const firstAfter = (await api.waitFor((request) => isAzurePullRequestList(request) && request.at > killedAt, 10_000)).at;
    expect(firstAfter - killedAt).toBeLessThan(LEASE_TTL_MS + 5_000 + 2 * SWEEP_SECONDS * 1000);

    console.log(
      `replicas acceptance: ${webhooks} webhooks sent in ${((sentAt - startedAt) / 1000).toFixed(1)} s (${resent} sent again after the kill), ` +
        `all delivered ${((deliveredAt - sentAt) / 1000).toFixed(1)} s later; ${deliveredStatuses().length} statuses (${repeatedStatuses} repeated), ${completions.length} tasks, ` +
        `${dispatches.length} dispatches (${repeated.length} repeated), ${takenOver.length} jobs taken over; sweeps ${before} in ${bothSeconds.toFixed(1)} s with both; survivor swept ${((firstAfter - killedAt) / 1000).toFixed(1)} s after the kill`,
    );
  }, 180_000);
});
