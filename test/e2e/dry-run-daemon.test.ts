/**
 * The acceptance sequences of the foundation issue, against the real daemon process in --dry-run:
 * statuses, subscriber posts and exactly one orchestrator job for a Flux Progressing + ReconciliationSucceeded
 * sequence; no new jobs for five repeats; distinct contexts for two Kustomizations on one commit; no token in
 * any output of the whole run; SIGHUP reload; /metrics parses and counts the run; SIGTERM exit 0.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLines, startDryRunDaemon } from "../support/daemon.ts";

const COMMIT = "1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e";
const PAT = "ghp_TESTTOKENshouldNeverBeLogged0123456789";
const ORCHESTRATOR_PAT = "azdo-orchestrator-token-never-logged-42";
const HMAC_KEY = "hmac-key-never-logged-7f3a";

const dir = mkdtempSync(join(tmpdir(), "gitops-connector-e2e-"));
const configPath = join(dir, "config.yaml");
const config = (subscriberUrl: string) => `
server: { host: 127.0.0.1 }
auth: { bearerToken: "\${WEBHOOK_TOKEN}" }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/org
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"
    orchestratorPat: "${ORCHESTRATOR_PAT}"
    subscribers: { spektate: "${subscriberUrl}" }
`;

function fluxEvent(reason: string, message: string, name = "apps-dev") {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name, uid: "5f0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-11-20T10:15:00Z",
    message,
    reason,
    metadata: { revision: `main@sha1:${COMMIT}` },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
  };
}

let daemon: Awaited<ReturnType<typeof startDryRunDaemon>>;
const env = { PAT, WEBHOOK_TOKEN: HMAC_KEY };

async function send(event: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${daemon.url}/gitopsphase`, {
    method: "POST",
    body: JSON.stringify(event),
    headers: { "content-type": "application/json", authorization: `Bearer ${HMAC_KEY}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const dryRunJobs = () => jsonLines(daemon.lines).filter((entry) => entry.component === "dry-run");

beforeAll(async () => {
  writeFileSync(configPath, config("http://spektate.local:5000/api/flux"));
  daemon = await startDryRunDaemon(configPath, env);
});
afterAll(() => daemon?.proc.kill("SIGKILL"));

describe("dry-run daemon", () => {
  test("Progressing + ReconciliationSucceeded: statuses, subscriber posts, exactly one orchestrator job; repeats add nothing", async () => {
    const progressing = await send(fluxEvent("Progressing", "Deployment/default/podinfo configured\nService/default/podinfo created\nHorizontalPodAutoscaler/default/podinfo configured"));
    expect(progressing.status).toBe(202);
    const succeeded = await send(fluxEvent("ReconciliationSucceeded", "Reconciliation finished in 2.1s, next run in 10m0s"));
    expect(succeeded.status).toBe(202);
    await daemon.waitForLine((line) => line.includes('"dry-run orchestrator job"'));

    const jobs = dryRunJobs();
    const statusContexts = jobs.filter((entry) => entry.job.kind === "status").map((entry) => entry.request.body.context);
    expect(statusContexts).toContain("kustomization/apps-dev");
    expect(statusContexts).toContain("kustomization/apps-dev/deployment");
    expect(statusContexts).toContain("kustomization/apps-dev/service");
    expect(statusContexts.filter((context) => context === "kustomization/apps-dev")).toHaveLength(2); // pending, then success
    const mainStates = jobs.filter((entry) => entry.job.kind === "status" && entry.request.body.context === "kustomization/apps-dev").map((entry) => entry.request.body.state);
    expect(mainStates).toEqual(["pending", "success"]);
    expect(jobs.filter((entry) => entry.job.kind === "subscriber").length).toBe(statusContexts.length);
    const orchestrator = jobs.filter((entry) => entry.job.kind === "orchestrator");
    expect(orchestrator).toHaveLength(1);
    expect(orchestrator[0]?.request.url).toBe("https://api.github.com/repos/org/app-src/dispatches");
    expect(orchestrator[0]?.reads).toEqual([`GET https://api.github.com/repos/org/manifests/commits/${COMMIT}`]);

    const before = dryRunJobs().length;
    for (let repeat = 0; repeat < 5; repeat += 1) {
      const again = await send(fluxEvent("ReconciliationSucceeded", "Reconciliation finished in 2.1s, next run in 10m0s"));
      expect(again).toEqual({ status: 202, body: { accepted: true, instance: "apps-dev", commit: COMMIT, jobs: 0 } });
    }
    await daemon.waitForLine((line) => line.includes('"result":"accepted"') && line.includes('"jobs":0'));
    expect(dryRunJobs().length).toBe(before);
  });

  test("two Kustomizations on one commit produce distinct contexts", async () => {
    await send(fluxEvent("ReconciliationSucceeded", "Reconciliation finished", "infra"));
    await send(fluxEvent("ReconciliationSucceeded", "Reconciliation finished", "apps-prod"));
    await daemon.waitForLine((line) => line.includes("kustomization/apps-prod"));
    const contexts = new Set(dryRunJobs().filter((entry) => entry.job.kind === "status").map((entry) => entry.request.body.context));
    expect(contexts.has("kustomization/infra")).toBe(true);
    expect(contexts.has("kustomization/apps-prod")).toBe(true);
    expect(contexts.has("kustomization/apps-dev")).toBe(true);
  });

  test("SIGHUP reloads a changed config; a bad config keeps the running one", async () => {
    writeFileSync(configPath, config("http://reloaded.local:9000/hook"));
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes('"msg":"config reloaded"'));
    await send(fluxEvent("ReconciliationFailed", "kustomize build failed", "after-reload"));
    await daemon.waitForLine((line) => line.includes("http://reloaded.local:9000/hook"));

    writeFileSync(configPath, "instances: [ { name: 3 } ]\n");
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes('"level":"error"') && line.includes("instances[0]"));
    const kept = await send(fluxEvent("ReconciliationSucceeded", "still served", "kept"));
    expect(kept.status).toBe(202);
  });

  test("/metrics counts the run: webhooks, planned and delivered jobs, reloads; the dry run calls out to nobody", async () => {
    type Family = { name: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> };
    const parse = require("parse-prometheus-text-format") as (text: string) => Family[];
    const sum = (families: Family[], name: string, labels: Record<string, string> = {}) =>
      (families.find((family) => family.name === name)?.metrics ?? [])
        .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value))
        .reduce((total, sample) => total + Number(sample.value), 0);
    let families: Family[] = [];
    for (let tries = 0; tries < 200; tries += 1) {
      families = parse(await (await fetch(`${daemon.url}/metrics`)).text());
      if (sum(families, "gitops_connector_outbox_depth") === 0) break;
      await Bun.sleep(25);
    }
    expect(sum(families, "gitops_connector_outbox_depth")).toBe(0);
    expect(sum(families, "gitops_connector_webhooks_total", { operator: "FLUX", instance: "apps-dev", result: "accepted" })).toBeGreaterThanOrEqual(10);
    const planned = sum(families, "gitops_connector_jobs_planned_total");
    expect(planned).toBeGreaterThan(0);
    // A status still pending when a newer one for its context arrives is replaced, never delivered.
    const delivered = sum(families, "gitops_connector_jobs_total", { outcome: "delivered" });
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThanOrEqual(planned);
    expect(sum(families, "gitops_connector_outbound_responses_total")).toBe(0);
    expect(sum(families, "gitops_connector_config_reloads_total", { result: "success" })).toBeGreaterThanOrEqual(1);
    expect(sum(families, "gitops_connector_config_reloads_total", { result: "failure" })).toBeGreaterThanOrEqual(1);
    const labelValues = families.flatMap((family) => family.metrics.flatMap((sample) => Object.values(sample.labels ?? {})));
    for (const value of labelValues) for (const secret of [PAT, ORCHESTRATOR_PAT, HMAC_KEY]) expect(value).not.toContain(secret);
  });

  test("no token or key appears in any output of the whole run, and SIGTERM exits 0", async () => {
    // An event that carries the token in its message would print it in the dry-run lines, were it not redacted.
    await send(fluxEvent("ReconciliationFailed", `git clone https://x:${PAT}@github.com failed`, "leaky"));
    await daemon.waitForLine((line) => line.includes("kustomization/leaky") && line.includes("[REDACTED]"));
    daemon.proc.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    const output = daemon.lines.join("\n");
    expect(output.length).toBeGreaterThan(1000);
    for (const secret of [PAT, ORCHESTRATOR_PAT, HMAC_KEY]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(Buffer.from(`:${secret}`).toString("base64"));
    }
  });
});
