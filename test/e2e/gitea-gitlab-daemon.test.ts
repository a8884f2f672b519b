/**
 * Flux → Gitea and Flux → GitLab end to end: the real daemon process (the compiled binary in CI), its outbox, and
 * the requests that reach a loopback fake answering as those servers do. A 5xx is retried until the status is
 * posted, a newer status replaces one still queued for the same context (coalesced), a repeated event plans
 * nothing, and the dry run logs exactly the requests the live run made. Waits are on the fake's requests and the
 * daemon's log, never on a sleep.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLines, startDaemon } from "../support/daemon.ts";
import { isGiteaStatusPost, isGitLabStatusPost, startFakeApi, type FakeApi, type RecordedRequest } from "../support/fake-api.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "flux");
const PAT = "e2eGiteaGitLabTokenThatMustNeverLeak0001";
const COMMIT = "7c1e5b9a3d2f4e6a8b0c1d2e3f4a5b6c7d8e9f01";

let api: FakeApi;
type Daemon = Awaited<ReturnType<typeof startDaemon>>;
const children: Daemon[] = [];
beforeAll(() => {
  api = startFakeApi();
});
afterAll(() => api.stop());
afterEach(async () => {
  const stopping = children.splice(0);
  for (const child of stopping) child.proc.kill("SIGKILL");
  await Promise.all(stopping.map((child) => child.proc.exited));
  api.reset();
});

function writeConfig(): string {
  const path = join(mkdtempSync(join(tmpdir(), "gitops-connector-gitea-gitlab-")), "config.yaml");
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, concurrency: 2 }
instances:
  - name: flux-gitea
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITEA
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://gitea.example.com/org/manifests/commit
    giteaOrgUrl: ${api.giteaOrgUrl("org")}
    giteaGitOpsManifestsRepoName: manifests
    pat: "\${PAT}"
  - name: flux-gitlab
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITLAB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://gitlab.example.com/platform/manifests/-/commit
    gitLabUrl: ${api.gitLabUrl()}
    gitLabGitOpsManifestsProject: platform/manifests
    pat: "\${PAT}"
`,
  );
  return path;
}

async function daemon(dryRun = false): Promise<Daemon> {
  const started = await startDaemon({ configPath: writeConfig(), env: { PAT }, dryRun });
  children.push(started);
  return started;
}

function fixture(file: string, commit = COMMIT): Record<string, unknown> {
  const event = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as { metadata: Record<string, unknown> };
  return { ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

async function post(target: Daemon, instance: string, event: unknown): Promise<{ status: number; jobs: number }> {
  const response = await fetch(`${target.url}/gitopsphase/${instance}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(event) });
  const body = (await response.json()) as { jobs?: number };
  return { status: response.status, jobs: body.jobs ?? 0 };
}

/** The main status of the Kustomization (not its per-resource parts), as each provider spells the context. */
const mainContext = (request: RecordedRequest) => {
  const body = request.body as { context?: string; name?: string };
  return (body.context ?? body.name) === "kustomization/apps-dev";
};

const providers = [
  { instance: "flux-gitea", isStatus: isGiteaStatusPost, success: "success", pending: "pending", failure: "failure", pathOf: `/api/v1/repos/org/manifests/statuses/${COMMIT}` },
  { instance: "flux-gitlab", isStatus: isGitLabStatusPost, success: "success", pending: "running", failure: "failed", pathOf: `/api/v4/projects/platform%2Fmanifests/statuses/${COMMIT}` },
] as const;

describe.each(providers)("Flux → $instance", ({ instance, isStatus, success, pending, failure, pathOf }) => {
  test("a 503 is retried until the status is posted; a repeat plans nothing", async () => {
    const connector = await daemon();
    api.failNext(2, { status: 503, body: { message: "Service Unavailable" } }, (request) => isStatus(request) && mainContext(request));
    const first = await post(connector, instance, fixture("kustomization-reconciliation-succeeded.json"));
    expect(first.status).toBe(202);
    expect(first.jobs).toBeGreaterThan(0);
    const answered = await api.waitForCount(3, (request) => isStatus(request) && mainContext(request) && request.answeredWith !== undefined, 10_000);
    expect(answered.map((request) => request.answeredWith)).toEqual([503, 503, 201]);
    for (const request of answered) {
      expect(request.path).toBe(pathOf);
      expect((request.body as { state: string }).state).toBe(success);
    }
    await connector.waitForLine((line) => line.includes('"outcome":"delivered"') && line.includes(instance));
    // The same event again (Flux re-sends on every interval): nothing new to say, no call made.
    const callsBefore = api.requests().length;
    expect(await post(connector, instance, fixture("kustomization-reconciliation-succeeded.json"))).toEqual({ status: 202, jobs: 0 });
    expect(api.requests().length).toBe(callsBefore);
    expect(JSON.stringify(api.requests().map((request) => request.headers))).toContain(PAT); // sent where it belongs…
    expect(connector.lines.join("\n")).not.toContain(PAT); // …and never logged
  });

  test("a newer status replaces one still queued for the same context: the older state never reaches the server", async () => {
    const connector = await daemon();
    api.hang((request) => isStatus(request) && mainContext(request));
    expect((await post(connector, instance, fixture("kustomization-progressing.json"))).status).toBe(202);
    await api.waitFor((request) => isStatus(request) && mainContext(request)); // in flight, held
    // Queued behind it for the same context: a failure, then a success that replaces it before it is sent.
    expect((await post(connector, instance, fixture("kustomization-health-check-failed.json"))).status).toBe(202);
    expect((await post(connector, instance, fixture("kustomization-reconciliation-succeeded.json"))).status).toBe(202);
    api.unhang();
    await api.waitForCount(2, (request) => isStatus(request) && mainContext(request) && request.answeredWith !== undefined, 10_000);
    await connector.waitForLine((line) => line.includes('"outcome":"delivered"') && line.includes('"kind":"status"'));
    const states = api.requests((request) => isStatus(request) && mainContext(request)).map((request) => (request.body as { state: string }).state);
    expect(states).toEqual([pending, success]);
    expect(states).not.toContain(failure);
  });

  test("the dry run logs exactly the requests the live run makes", async () => {
    const live = await daemon();
    // A commit of its own: a request an earlier test's killed daemon had sent may still be read after the reset.
    const commit = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e";
    const event = fixture("kustomization-progressing.json", commit);
    const accepted = await post(live, instance, event);
    const sent = await api.waitForCount(accepted.jobs, (request) => isStatus(request) && request.path.endsWith(commit), 10_000);
    const dry = await daemon(true);
    expect(await post(dry, instance, event)).toEqual(accepted);
    const logged = () => jsonLines(dry.lines).filter((entry) => entry.component === "dry-run" && entry.job?.kind === "status");
    await dry.waitForLine(() => logged().length >= accepted.jobs);
    const described = logged().map((entry) => ({ method: entry.request.method, url: entry.request.url, body: entry.request.body }));
    const actual = sent.map((request) => ({ method: request.method, url: `${api.url}${request.path}`, body: request.body }));
    const key = (request: { body: unknown }) => JSON.stringify(request.body);
    expect([...described].sort((a, b) => key(a).localeCompare(key(b)))).toEqual([...actual].sort((a, b) => key(a).localeCompare(key(b))));
  });
});
