/**
 * Two daemons (the compiled binary under GITOPS_CONNECTOR_BIN) on one PostgreSQL outbox, webhooks spread over
 * both, a fake GitHub answering slowly: one daemon is killed with SIGKILL mid-run, and every acknowledged status
 * still arrives, per commit the last one to arrive is the newest state, each pipeline is told, and only a dispatch
 * the killed replica had in flight is told twice (delivery is at least once: the survivor takes over its claims
 * when their lease runs out, and cannot know the dead one's request went through).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../support/daemon.ts";
import { isDispatch, isStatusPost, startFakeApi } from "../support/fake-api.ts";
import { freshSchema } from "../support/postgres.ts";

const api = startFakeApi();
const schema = await freshSchema("replicas_e2e");
const PAT = "ghp_replicasTestToken0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "pg-replicas-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, `server: { host: 127.0.0.1, shutdownGraceMs: 1000 }
outbox: { driver: postgres, url: "\${OUTBOX_URL}", timeoutMs: 1000, initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: \${PAT}
`);
const env = { PAT, OUTBOX_URL: schema.url };
const daemons: { proc: { kill(signal?: number | NodeJS.Signals): void } }[] = [];
afterAll(async () => {
  for (const daemon of daemons) daemon.proc.kill("SIGKILL");
  await api.stop();
  await schema.drop();
});

const COMMITS = Array.from({ length: 20 }, (_, n) => (n + 1).toString(16).padStart(40, "a"));
const STATES = ["Progressing", "ReconciliationSucceeded"] as const;

function event(commit: string, reason: string) {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev" },
    severity: "info",
    timestamp: "2026-12-01T10:00:00Z",
    message: reason === "Progressing" ? "Reconciliation in progress" : "Reconciliation finished in 1s",
    reason,
    metadata: { revision: `main@sha1:${commit}`, commit_status: reason === "Progressing" ? "update" : undefined },
    reportingController: "kustomize-controller",
  };
}

describe("two replicas on one PostgreSQL outbox", () => {
  test("SIGKILL of one mid-run: every acknowledged status arrives, the newest last per context, each dispatch once", async () => {
    // Status posts take a while, so the daemon that dies has jobs in flight.
    api.on("POST", /\/statuses\//, async () => {
      await Bun.sleep(30);
      return { status: 201, body: { state: "success" } };
    });
    COMMITS.forEach((commit, n) => api.setCommitMessage(commit, `Merge pull request #${n + 1} from org/deploy/${1000 + n}/${"0a1b2c3d".repeat(5)}/dev`));
    const a = await startDaemon({ configPath, env, dryRun: false });
    const b = await startDaemon({ configPath, env, dryRun: false });
    daemons.push(a, b);
    // The first to start runs the scheduler; the second waits for the lease.
    await a.waitForLine((line) => line.includes("this replica runs the scheduler now"));
    expect(b.lines.some((line) => line.includes("this replica runs the scheduler now"))).toBe(false);
    const acknowledged: { commit: string; reason: string }[] = [];
    let sent = 0;
    let killedAt = Number.POSITIVE_INFINITY;
    for (const reason of STATES) {
      for (const commit of COMMITS) {
        const target = sent % 2 === 0 || sent > 25 ? b : a; // after the kill, only b
        if (sent === 25) {
          killedAt = Date.now();
          a.proc.kill("SIGKILL");
        }
        const response = await fetch(`${target.url}/gitopsphase`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(event(commit, reason)) }).catch(() => undefined);
        if (response?.status === 202) acknowledged.push({ commit, reason });
        sent += 1;
      }
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(COMMITS.length * 2 - 2);

    // Every acknowledged success reaches GitHub, and for each commit the last state to arrive is the newest.
    const succeeded = new Set(acknowledged.filter((entry) => entry.reason === "ReconciliationSucceeded").map((entry) => entry.commit));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const lastState = new Map<string, string>();
      for (const request of api.requests(isStatusPost)) lastState.set(request.path.split("/").at(-1)!, (request.body as { state: string }).state);
      if ([...succeeded].every((commit) => lastState.get(commit) === "success")) break;
      if (Date.now() > deadline) throw new Error(`not every success arrived: ${[...succeeded].filter((commit) => lastState.get(commit) !== "success").length} missing; b's output:\n${b.lines.slice(-15).join("\n")}`);
      await Bun.sleep(50);
    }
    // Each succeeded commit's pipeline is told once, by whichever replica delivered it: wait for the outbox to empty.
    for (;;) {
      const metrics = await (await fetch(`${b.url}/metrics`)).text();
      if (/^gitops_connector_outbox_depth 0$/m.test(metrics)) break;
      if (Date.now() > deadline) throw new Error("the outbox did not empty");
      await Bun.sleep(50);
    }
    // At least once by design: a dispatch the killed replica had sent but not yet recorded is sent again by the
    // survivor once the lease runs out. Only such a one may repeat: twice at most, and a job the survivor logged as
    // taken over. (Not "its first copy arrived before the kill": the fake may read a request the dead replica sent
    // just before it died only after the test took the kill's time.)
    const dispatches = api.requests(isDispatch).map((request) => ({ runid: (request.body as { client_payload: { runid: string } }).client_payload.runid, at: request.at }));
    const expected = [...succeeded].map((commit) => String(1000 + COMMITS.indexOf(commit))).sort();
    expect([...new Set(dispatches.map((dispatch) => dispatch.runid))].sort()).toEqual(expected);
    const takenOver = b.lines.filter((line) => line.includes("taking over a job")).map((line) => JSON.parse(line) as { kind: string; commit: string });
    for (const runid of expected) {
      const copies = dispatches.filter((dispatch) => dispatch.runid === runid).length;
      const commit = COMMITS[Number(runid) - 1000]!;
      if (copies > 1) expect({ runid, copies, takenOver: takenOver.some((entry) => entry.kind === "orchestrator" && entry.commit === commit) }).toEqual({ runid, copies: 2, takenOver: true });
    }

    // The leader was killed: the survivor takes the scheduler over within the lease's 15 s (+ one renewal period).
    await b.waitForLine((line) => line.includes("this replica runs the scheduler now"), 25_000);
    expect(Date.now() - killedAt).toBeLessThan(21_000);
  }, 60_000);
});
