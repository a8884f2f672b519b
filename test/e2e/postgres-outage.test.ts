/**
 * The daemon on a PostgreSQL that goes away and comes back (a cluster of this test's own, stopped and started
 * under the running daemon): while it is down, webhooks get 503 with Retry-After and /readyz says why, never a
 * 202 for what could not be stored; once it is back, webhooks are taken again and every acknowledged status is
 * delivered, without a restart of the daemon.
 * The second test restarts it under a stream of webhooks with deliveries held, so acknowledged jobs wait in the
 * outbox (some in flight) while it is gone.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../support/daemon.ts";
import { isStatusPost, startFakeApi } from "../support/fake-api.ts";
import { ownCluster } from "../support/postgres.ts";

const api = startFakeApi();
const cluster = ownCluster("gitops-outage", 55433);
const FIXTURE = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "flux", "kustomization-reconciliation-succeeded.json"), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "pg-outage-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, `server: { host: 127.0.0.1 }
outbox: { driver: postgres, url: "\${OUTBOX_URL}", initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    pat: \${PAT}
`);
const daemon = await startDaemon({ configPath, dryRun: false, env: { PAT: "ghp_outageTestToken0123456789abcdef", OUTBOX_URL: cluster.url } });
afterAll(async () => {
  daemon.proc.kill("SIGKILL");
  cluster.drop();
  await api.stop();
});

const post = (commit: string) =>
  fetch(`${daemon.url}/gitopsphase`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...FIXTURE, metadata: { ...FIXTURE.metadata, revision: `main@sha1:${commit}` } }) });

describe("PostgreSQL goes away and comes back", () => {
  test("503 + Retry-After and /readyz saying why while it is down; taken and delivered again once it is back", async () => {
    const before = "1".repeat(40);
    expect((await post(before)).status).toBe(202);
    await api.waitFor((request) => isStatusPost(request) && request.path.endsWith(before), 10_000);

    cluster.stop();
    const refused = await post("2".repeat(40));
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: string }).error).toContain("outbox storage failing");
    const ready = await fetch(`${daemon.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: string }).error).toContain("outbox storage failing");

    cluster.start();
    const after = "3".repeat(40);
    let status = 0;
    for (let tries = 0; tries < 100 && status !== 202; tries += 1) {
      status = (await post(after)).status;
      if (status !== 202) await Bun.sleep(100);
    }
    expect(status).toBe(202);
    await api.waitFor((request) => isStatusPost(request) && request.path.endsWith(after), 10_000);
    expect(api.requests(isStatusPost).some((request) => request.path.endsWith("2".repeat(40)))).toBe(false);
  }, 30_000);

  test("restarted in the middle of a stream of webhooks, with deliveries held: every 202 is delivered once it is back, no 503 ever is", async () => {
    api.hang(isStatusPost); // acknowledged jobs wait in the outbox, some in flight, while the database goes away
    const answers: { commit: string; status: number }[] = [];
    let streaming = true;
    const stream = (async () => {
      for (let n = 0; streaming; n++) {
        const commit = (0xabc00000 + n).toString(16) + "f".repeat(32);
        const response = await post(commit).catch(() => undefined);
        answers.push({ commit, status: response?.status ?? 0 });
        if (response && response.status !== 202) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
        await Bun.sleep(5);
      }
    })();
    const count = (status: number) => answers.filter((answer) => answer.status === status).length;
    const until = async (done: () => boolean) => {
      while (!done()) await Bun.sleep(10);
    };
    await until(() => count(202) >= 20);
    cluster.stop();
    await until(() => count(503) >= 20);
    const acknowledgedWhileDown = count(202);
    await until(() => count(503) >= 40);
    expect(count(202)).toBe(acknowledgedWhileDown); // not one 202 while it was down
    cluster.start();
    await until(() => count(202) >= acknowledgedWhileDown + 20);
    streaming = false;
    await stream;
    api.unhang();

    const acknowledged = answers.filter((answer) => answer.status === 202).map((answer) => answer.commit);
    const refused = answers.filter((answer) => answer.status !== 202).map((answer) => answer.commit);
    expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([202, 503]));
    const delivered = (commit: string) => api.requests((request) => isStatusPost(request) && request.answeredWith === 201 && request.path.endsWith(commit)).length > 0;
    const deadline = Date.now() + 20_000;
    while (!acknowledged.every(delivered)) {
      if (Date.now() > deadline) throw new Error(`${acknowledged.filter((commit) => !delivered(commit)).length} of ${acknowledged.length} acknowledged statuses never arrived`);
      await Bun.sleep(50);
    }
    expect(refused.filter(delivered)).toEqual([]);
  }, 60_000);
});
