/**
 * A GitHub App instead of a PAT, end to end: the real daemon process (the compiled binary in CI) reads the app's
 * private key with `${file:…}`, mints an installation token on its first call and reuses it for the next ones,
 * mints again when the token is near its expiry, refreshes once when GitHub answers 401, and shares the app with
 * GitHub Actions. Neither the private key nor any minted token appears in the daemon's output or its outbox.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TOKEN_EXPIRY_MARGIN_MS } from "../../src/clients/github-app.ts";
import { spawnConnector, startDaemon } from "../support/daemon.ts";
import { isCommitRead, isDispatch, isStatusPost, isTokenExchange, startFakeApi, type FakeApi } from "../support/fake-api.ts";
import { testGitHubApp } from "../support/github-app.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "flux");
const app = testGitHubApp();
let api: FakeApi;
type Daemon = Awaited<ReturnType<typeof startDaemon>>;
const children: Daemon[] = [];
beforeAll(() => {
  api = startFakeApi();
});
afterAll(() => api.stop());
afterEach(() => {
  for (const child of children.splice(0)) child.proc.kill("SIGKILL");
  api.reset();
});

function writeConfig(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-github-app-"));
  writeFileSync(join(dir, "app.pem"), app.privateKey);
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, shutdownGraceMs: 2000 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, concurrency: 1 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    gitHubAppId: ${app.appId}
    gitHubAppInstallationId: ${app.installationId}
    gitHubAppPrivateKey: "\${file:${join(dir, "app.pem")}}"
`,
  );
  return { path, dir };
}

function event(file: string, commit: string): string {
  const parsed = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as { metadata: Record<string, unknown> };
  return JSON.stringify({ ...parsed, metadata: { ...parsed.metadata, revision: `main@sha1:${commit}` } });
}

async function post(daemon: Daemon, body: string): Promise<number> {
  return (await fetch(`${daemon.url}/gitopsphase`, { method: "POST", headers: { "content-type": "application/json" }, body })).status;
}

const COMMITS = ["1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"];

function expectNoSecretIn(text: string) {
  for (const line of app.privateKey.split("\n").filter((piece) => piece.length > 20)) expect(text).not.toContain(line);
  for (const token of api.issuedTokens()) expect(text).not.toContain(token);
}

describe("GitHub App", () => {
  test("check-config accepts the app without any pat, and says which app", async () => {
    const { path } = writeConfig();
    const child = spawnConnector(["check-config", "--config", path]);
    expect(await child.exited).toBe(0);
    expect(child.lines.join("\n")).toContain(`apps-dev: FLUX → GITHUB org/manifests (GitHub App ${app.appId}) → GITHUB org/app-src`);
  });

  test("first call mints, the next reuse it, GitHub Actions shares it; a 401 refreshes once; no secret in the output", async () => {
    api.setGitHubApp({ appId: app.appId, installationId: app.installationId, publicKey: app.publicKey });
    const { path, dir } = writeConfig();
    const daemon = await startDaemon({ configPath: path, env: {}, dryRun: false, dataDir: join(dir, "data") });
    children.push(daemon);

    expect(await post(daemon, event("kustomization-reconciliation-succeeded.json", COMMITS[0]!))).toBe(202);
    await api.waitFor((request) => isDispatch(request) && request.answeredWith !== undefined, 10_000);
    expect(api.requests(isTokenExchange)).toHaveLength(1);
    const [first] = api.issuedTokens();
    // The status, the commit read and the dispatch (GitHub Actions on the same app) all carried the one token.
    const calls = api.requests((request) => !isTokenExchange(request));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const call of calls) expect(call.headers.authorization).toBe(`token ${first}`);
    expect(api.requests(isCommitRead)).toHaveLength(1);

    // The token is revoked: the next call gets 401, a new token is minted once, the call goes through.
    api.revokeTokens();
    expect(await post(daemon, event("kustomization-reconciliation-succeeded.json", COMMITS[1]!))).toBe(202);
    await api.waitForCount(2, (request) => isDispatch(request) && request.answeredWith === 204, 10_000);
    expect(api.issuedTokens()).toHaveLength(2);
    const second = api.issuedTokens()[1]!;
    const refused = api.requests((request) => request.answeredWith === 401);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.headers.authorization).toBe(`token ${first}`);
    expect(api.requests((request) => request.answeredWith !== 401 && !isTokenExchange(request)).slice(-3).map((request) => request.headers.authorization)).toEqual([`token ${second}`, `token ${second}`, `token ${second}`]);

    daemon.proc.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expectNoSecretIn(daemon.lines.join("\n"));
    const dead = spawnConnector(["outbox", "dead", "--json", "--data-dir", join(dir, "data"), "--config", path]);
    await dead.exited;
    expectNoSecretIn(dead.lines.join("\n"));
  }, 20_000);

  test("a token near its expiry is replaced before it is used again", async () => {
    api.setGitHubApp({ appId: app.appId, installationId: app.installationId, publicKey: app.publicKey, tokenLifetimeMs: TOKEN_EXPIRY_MARGIN_MS - 30_000 });
    const { path, dir } = writeConfig();
    const daemon = await startDaemon({ configPath: path, env: {}, dryRun: false, dataDir: join(dir, "data") });
    children.push(daemon);
    expect(await post(daemon, event("kustomization-progressing.json", COMMITS[2]!))).toBe(202);
    const statuses = await api.waitForCount(2, (request) => isStatusPost(request) && request.answeredWith === 201, 10_000);
    // Each call found the last token within the margin, so each minted its own.
    expect(statuses[0]?.headers.authorization).not.toBe(statuses[1]?.headers.authorization);
    expect(api.issuedTokens().length).toBeGreaterThanOrEqual(2);
    daemon.proc.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expectNoSecretIn(daemon.lines.join("\n"));
  });
});
