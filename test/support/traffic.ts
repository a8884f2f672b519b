/**
 * The harness of the end-to-end tests of real Flux and Argo CD traffic (issue 11): a loopback fake API for the
 * file's tests, the daemon processes they start (killed after each test), a GitHub instance's config, and the
 * captured Flux success event to replay. `useTraffic()` registers the hooks; call it once at the top of a file.
 */
import { afterAll, afterEach, beforeAll } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "./daemon.ts";
import { startFakeApi, type FakeApi } from "./fake-api.ts";

const ROOT = join(import.meta.dir, "..", "..");
export const PAT = "ghp_e2eRealTrafficTokenThatMustNeverLeak01";
export type Daemon = Awaited<ReturnType<typeof startDaemon>>;

export const COMMIT = "1197955e4244c18bdb9b375076bcb6ca05414672";
export const OTHER_COMMIT = "2f22765d04931a078909145ca628d2264c852d7d";

export interface ConfigOptions {
  /** More keys of `outbox:`, e.g. `maxAttempts: 3`. */
  readonly outbox?: string;
  /** More lines of the instance, indented by four spaces. */
  readonly instanceExtra?: string;
  /** A subscriber at the fake API's /api/flux (default true). */
  readonly subscribers?: boolean;
}

export interface Traffic {
  readonly api: FakeApi;
  configText(options?: ConfigOptions): string;
  /** Writes `configText(options)` to a fresh file and returns its path. */
  writeConfig(options?: ConfigOptions): string;
  /** A live daemon (unless `dryRun`) with PAT set, killed after the test. */
  daemonWith(configPath: string, options?: { dataDir?: string; dryRun?: boolean }): Promise<Daemon>;
  /** Forgets a daemon the test stopped itself. */
  forget(daemon: Daemon): void;
}

export function useTraffic(): Traffic {
  let api: FakeApi | undefined;
  const children: Daemon[] = [];
  beforeAll(() => {
    api = startFakeApi();
  });
  afterAll(() => api?.stop());
  afterEach(() => {
    for (const child of children.splice(0)) child.proc.kill("SIGKILL");
    api?.reset();
  });
  const fake = () => {
    if (!api) throw new Error("useTraffic: the fake API starts in beforeAll");
    return api;
  };
  const configText = (options: ConfigOptions = {}) => `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, timeoutMs: 30000${options.outbox ? `, ${options.outbox}` : ""} }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${fake().orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"
${options.subscribers === false ? "" : `    subscribers: { spektate: ${fake().url}/api/flux }\n`}${options.instanceExtra ?? ""}`;
  return {
    get api() {
      return fake();
    },
    configText,
    writeConfig(options) {
      const path = join(mkdtempSync(join(tmpdir(), "gitops-connector-traffic-")), "config.yaml");
      writeFileSync(path, configText(options));
      return path;
    },
    async daemonWith(configPath, options = {}) {
      const daemon = await startDaemon({ configPath, env: { PAT }, dryRun: options.dryRun ?? false, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
      children.push(daemon);
      return daemon;
    },
    forget(daemon) {
      children.splice(children.indexOf(daemon), 1);
    },
  };
}

/** The captured `commit_status: update` re-send, pointed at `commit`, with `message`, of Kustomization `name`. */
export function resend(commit: string, message: string, name = "apps-dev"): Record<string, unknown> {
  const event = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "flux", "kustomization-reconciliation-succeeded-commit-status-update.json"), "utf8")) as Record<string, any>;
  return { ...event, involvedObject: { ...event.involvedObject, name }, message, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } };
}

/** POSTs to /gitopsphase (or /gitopsphase/<instance>); the answer's status and JSON body. */
export async function post(daemon: Daemon, event: unknown, instance?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = `${daemon.url}/gitopsphase${instance ? `/${instance}` : ""}`;
  const response = await fetch(url, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export const isSubscriberPost = (request: { method: string; path: string }) => request.method === "POST" && request.path === "/api/flux";

/** Matches the worker's line for an attempt of `kind` that ended in `outcome`. */
export const workerLine = (kind: string, outcome: string) => (line: string) =>
  line.includes('"component":"worker"') && line.includes(`"kind":"${kind}"`) && line.includes(`"outcome":"${outcome}"`);
