/**
 * maxDepth on PostgreSQL: the depth there is a count of the pending jobs, read at most every 250 ms rather than
 * per webhook (src/outbox/cached-read.ts), so a full outbox is still refused with 503 + Retry-After and /readyz
 * says so, a moment later than on SQLite at most.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../support/daemon.ts";
import { startFakeApi } from "../support/fake-api.ts";
import { freshSchema } from "../support/postgres.ts";

const api = startFakeApi();
const schema = await freshSchema("backpressure_e2e");
const dir = mkdtempSync(join(tmpdir(), "pg-backpressure-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, `server: { host: 127.0.0.1, shutdownGraceMs: 500 }
outbox: { driver: postgres, url: "\${OUTBOX_URL}", maxDepth: 5 }
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
const daemon = await startDaemon({ configPath, dryRun: false, env: { PAT: "ghp_backpressureTestToken0123456789ab", OUTBOX_URL: schema.url } });
afterAll(async () => {
  daemon.proc.kill("SIGKILL");
  api.unhang();
  await api.stop();
  await schema.drop();
});

const progressing = (n: number) => ({
  involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev" },
  severity: "info",
  message: "",
  reason: "Progressing",
  metadata: { revision: `main@sha1:${(0xbac0000 + n).toString(16).padStart(40, "0")}` },
  reportingController: "kustomize-controller",
});

describe("maxDepth on PostgreSQL", () => {
  test("deliveries held, webhooks one after another: refused with 503 + Retry-After once full, and /readyz says so", async () => {
    api.hang();
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let n = 0; n < 300 && !refused; n += 1) {
      const response = await fetch(`${daemon.url}/gitopsphase`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(progressing(n)) });
      statuses.push(response.status);
      if (response.status === 503) refused = response;
      else await Bun.sleep(10);
    }
    expect(statuses[0]).toBe(202);
    expect(refused?.status).toBe(503);
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await refused!.json()) as { error: string }).error).toContain("maxDepth 5");
    // One status job per webhook; what was taken past 5 is what arrived within one depth read (250 ms, 10 ms apart).
    expect(statuses.filter((status) => status === 202).length).toBeLessThanOrEqual(5 + 25);
    expect((await fetch(`${daemon.url}/readyz`)).status).toBe(503);
  }, 30_000);
});
