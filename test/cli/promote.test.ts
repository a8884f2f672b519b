/**
 * `gitops-connector promote` as a real process (the source, or the compiled binary under GITOPS_CONNECTOR_BIN)
 * against the stateful fake GitHub: their single-dash flags, the gitops-promotion name, --dry-run, --output json,
 * exit codes, and no token in any output.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { daemonCommand } from "../support/daemon.ts";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github-git.ts";
import { promotionModel } from "../support/promotion-repo.ts";

const TOKEN = "ghp_cliSecretToken_DoNotPrint_0123456789";
let fake: FakeGitHub | undefined;
afterEach(() => fake?.stop());

async function run(args: string[], options: { env?: Record<string, string>; argv0?: string; command?: string[] } = {}) {
  const proc = Bun.spawn([...(options.command ?? daemonCommand()), ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    cwd: mkdtempSync(join(tmpdir(), "promote-cli-")),
    ...(options.argv0 ? { argv0: options.argv0 } : {}),
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

function repoUrl(f: FakeGitHub): string {
  return `${f.url}/org/manifests`; // not github.com: GitHub Enterprise, API under /api/v3
}

describe("gitops-connector promote", () => {
  test("new with gitops-promotion's single-dash flags opens the PR; the token is never printed", async () => {
    fake = startFakeGitHub(promotionModel());
    const { code, stdout, stderr } = await run(["promote", "new", "-provider", "github", "-token", TOKEN, "-group", "apps", "-app", "web", "-tag=2.0.0", "--repo", repoUrl(fake)]);
    expect({ code, stderr: stderr.replace(/warning: .*\n/g, "") }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(/^created branch promote\/apps-web with pull request #1 on commit [0-9a-f]{7}: auto-merge \(merge\) enabled\n$/);
    expect(stdout + stderr).not.toContain(TOKEN);
    expect(fake.model.pullRequests[0]!.title).toBe("Promote apps/web version 2.0.0 to environment dev");
  });

  test("--dry-run --output json reads, writes nothing, and gives the diff and the calls", async () => {
    fake = startFakeGitHub(promotionModel());
    const { code, stdout, stderr } = await run(["promote", "new", "--group", "apps", "--app", "web", "--tag", "2.0.0", "--repo", repoUrl(fake), "--dry-run", "--output", "json"], { env: { GITHUB_TOKEN: TOKEN } });
    expect(code).toBe(0);
    expect(fake.writes()).toEqual([]);
    expect(fake.calls.length).toBeGreaterThan(3);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ command: "new", outcome: "created", branch: "promote/apps-web", pullRequest: { number: 0 } });
    expect(result.diff).toContain("--- a/apps/dev/deployment.yaml\n+++ b/apps/dev/deployment.yaml\n@@ -12 +12 @@\n-          image: ghcr.io/org/web:1.0.0 # {\"$imagepolicy\": \"apps:web\"}\n+          image: ghcr.io/org/web:2.0.0 # {\"$imagepolicy\": \"apps:web\"}");
    expect(result.calls).toEqual([
      expect.stringMatching(/^would commit "Promote apps\/web version 2.0.0 to environment dev" on [0-9a-f]{7} changing apps\/dev\/deployment.yaml, apps\/dev\/kustomization.yaml, then create branch promote\/apps-web to it$/),
      'would open a pull request promote/apps-web → main: "Promote apps/web version 2.0.0 to environment dev"',
      "would enable auto-merge (merge) on pull request #0, or merge it if it is already mergeable",
    ]);
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  test("a link named gitops-promotion runs promote, with the repository from GitHub Actions' environment", async () => {
    fake = startFakeGitHub(promotionModel());
    const env = { GITHUB_REPOSITORY: "org/manifests", GITHUB_API_URL: fake.url, GITHUB_TOKEN: TOKEN };
    const binary = process.env.GITOPS_CONNECTOR_BIN;
    let invocation: { command?: string[]; argv0?: string };
    if (binary) {
      const dir = mkdtempSync(join(tmpdir(), "gitops-promotion-link-"));
      symlinkSync(binary, join(dir, "gitops-promotion"));
      invocation = { command: [join(dir, "gitops-promotion")] };
    } else {
      invocation = { argv0: "gitops-promotion" };
    }
    const { code, stdout } = await run(["new", "-provider", "github", "-group", "apps", "-app", "web", "-tag", "2.0.0"], { env, ...invocation });
    expect(code).toBe(0);
    expect(stdout).toContain("created branch promote/apps-web with pull request #1");
  });

  test("exit codes: 2 for usage, 1 for an API failure (naming the token's key, not its value), 0 for nothing to do", async () => {
    fake = startFakeGitHub(promotionModel());
    const missing = await run(["promote", "new", "--group", "apps", "--tag", "1", "--repo", repoUrl(fake), "--token", TOKEN]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--app is required");

    const badTag = await run(["promote", "new", "--group", "apps", "--app", "web", "--tag", "not a tag", "--repo", repoUrl(fake), "--token", TOKEN]);
    expect(badTag.code).toBe(2);

    const noToken = await run(["promote", "new", "--group", "apps", "--app", "web", "--tag", "1", "--repo", repoUrl(fake)]);
    expect({ code: noToken.code, message: noToken.stderr.split("\n")[0] }).toEqual({ code: 2, message: "gitops-connector promote: no token: give --token or set GITHUB_TOKEN" });

    fake.failNext(/git\/ref\//, 401);
    const refused = await run(["promote", "new", "--group", "apps", "--app", "web", "--tag", "2", "--repo", repoUrl(fake), "--token", TOKEN]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("gitops-connector promote new:");
    expect(refused.stdout + refused.stderr).not.toContain(TOKEN);

    const nothing = await run(["promote", "new", "--group", "apps", "--app", "web", "--tag", "1.0.0", "--repo", repoUrl(fake), "--token", TOKEN]);
    expect({ code: nothing.code, stdout: nothing.stdout }).toEqual({ code: 0, stdout: "nothing to do: apps/web is already at 1.0.0 in dev on main\n" });
  });

  test("status exits 1 after its timeout, with the reason; --instance reads a config's instance and its pat", async () => {
    fake = startFakeGitHub(promotionModel());
    const created = await run(["promote", "new", "--group", "apps", "--app", "web", "--tag", "2.0.0", "--repo", repoUrl(fake), "--token", TOKEN]);
    expect(created.code).toBe(0);
    const merge = fake.model.merge(1, true);
    const dir = mkdtempSync(join(tmpdir(), "promote-instance-"));
    mkdirSync(dir, { recursive: true });
    const config = join(dir, "config.yaml");
    writeFileSync(config, [
      "instances:",
      "  - name: manifests",
      "    gitOpsOperatorType: FLUX",
      "    gitRepositoryType: GITHUB",
      "    ciCdOrchestratorType: NONE",
      "    gitOpsAppURL: https://github.com/org/manifests/commit",
      `    gitHubOrgUrl: ${fake.url}/api/v3/repos/org`,
      "    gitHubGitOpsManifestsRepoName: manifests",
      "    pat: ${PROMOTE_PAT}",
      "",
    ].join("\n"));
    const promoted = await run(["promote", "promote", "--instance", "manifests", "--config", config, "--sha", merge], { env: { PROMOTE_PAT: TOKEN } });
    expect({ code: promoted.code, stdout: promoted.stdout }).toEqual({ code: 0, stdout: expect.stringContaining("created branch promote/apps-web with pull request #2") });

    const status = await run(["promote", "status", "--instance", "manifests", "--config", config, "--branch", "promote/apps-web", "--timeout", "1ms"], { env: { PROMOTE_PAT: TOKEN } });
    expect(status.code).toBe(1);
    expect(status.stdout).toContain("timed out waiting for kustomization/apps-dev to succeed");
    expect(status.stdout + status.stderr).not.toContain(TOKEN);
  });
});
