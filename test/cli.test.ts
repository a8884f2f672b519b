/**
 * The CLI contract of DESIGN §3, run as a real process: subcommands, --help, exit codes.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { createSqliteOutboxStore } from "../src/outbox/store.ts";
import { spawnConnector } from "./support/daemon.ts";

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnConnector(args, env);
  const code = await child.exited;
  return { code, output: child.lines.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "gitops-connector-cli-"));
function configFile(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

describe("gitops-connector CLI", () => {
  test("version prints the package version", async () => {
    const { code, output } = await run(["version"]);
    expect(code).toBe(0);
    expect(output.trim()).toBe(`gitops-connector ${packageJson.version}`);
  });

  test.each([["serve"], ["check-config"], ["version"]])("%s --help prints its usage and exits 0", async (command) => {
    const { code, output } = await run([command, "--help"]);
    expect(code).toBe(0);
    expect(output).toContain(`Usage: gitops-connector ${command}`);
  });

  test("no command or an unknown one is a usage error (2)", async () => {
    expect((await run([])).code).toBe(2);
    const { code, output } = await run(["deploy"]);
    expect(code).toBe(2);
    expect(output).toContain('unknown command "deploy"');
  });

  test("an unknown flag is a usage error (2)", async () => {
    const { code, output } = await run(["serve", "--dry-run", "--prot", "8080"]);
    expect(code).toBe(2);
    expect(output).toContain("--prot");
  });

  test("check-config exits 0 on config.example.yaml with its tokens set, one line per instance", async () => {
    const { code, output } = await run(["check-config", "--config", "config.example.yaml"], { GITHUB_TOKEN: "ghp_placeholder", AZDO_PAT: "azdo_placeholder" });
    expect(code).toBe(0);
    expect(output).toContain("config ok");
    expect(output).toContain("apps-dev");
  });

  test("a live instance without its token is a config error naming the path; --dry-run only warns", async () => {
    const live = await run(["check-config", "--config", "config.example.yaml"], { AZDO_PAT: "azdo_placeholder" });
    expect(live.code).toBe(2);
    expect(live.output).toContain("instances[0].pat: empty; statuses to github.com/contoso/gitops-manifests need it");
    expect(live.output).toContain("instances[0].orchestratorPat: not set and pat is empty; dispatches to github.com/contoso/app-src need one of them");
    expect(live.output).not.toContain("instances[1]");

    const dry = await run(["check-config", "--dry-run", "--config", "config.example.yaml"]);
    expect(dry.code).toBe(0);
    expect(dry.output).toContain("warning: instances[1].pat: empty; statuses to dev.azure.com/contoso/payments/_git/payments-manifests need it");
    expect(dry.output).toContain("config ok for --dry-run");

    const serve = await run(["serve", "--config", "config.example.yaml", "--port", "0", "--data-dir", join(dir, "no-token")], { AZDO_PAT: "azdo_placeholder" });
    expect(serve.code).toBe(2);
    expect(serve.output).toContain("instances[0].pat: empty; statuses to github.com/contoso/gitops-manifests need it");
    expect(serve.output).toContain("not starting");
  });

  test("legacy mode names the variable: PAT", async () => {
    const legacy = { GIT_REPOSITORY_TYPE: "GITHUB", CICD_ORCHESTRATOR_TYPE: "NONE", GITOPS_OPERATOR_TYPE: "FLUX", GITOPS_APP_URL: "https://github.com/org/manifests/commit", GITHUB_ORG_URL: "https://api.github.com/repos/org", GITHUB_GITOPS_MANIFEST_REPO_NAME: "manifests" };
    const { code, output } = await run(["check-config"], legacy);
    expect(code).toBe(2);
    expect(output).toContain("PAT: not set; statuses to github.com/org/manifests need it");
  });

  test("check-config names every one of three independent mistakes by path and exits 2", async () => {
    const path = configFile(
      "three-mistakes.yaml",
      `server: { port: 99999 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: AZDO
    ciCdOrchestratorType: NONE
    azdoGitOpsRepoName: manifests
    gitOpsAppURL: not a url
`,
    );
    const { code, output } = await run(["check-config", "--config", path]);
    expect(code).toBe(2);
    expect(output).toContain("server.port");
    expect(output).toContain("instances[0].azdoOrgUrl");
    expect(output).toContain("instances[0].gitOpsAppURL");
    expect(output).toContain("3 errors");
  });

  test("check-config names a missing environment variable", async () => {
    const path = configFile(
      "missing-var.yaml",
      `instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/org
    gitHubGitOpsManifestsRepoName: manifests
    pat: "\${NOT_SET_ANYWHERE}"
`,
    );
    const { code, output } = await run(["check-config", "--config", path]);
    expect(code).toBe(2);
    expect(output).toContain("NOT_SET_ANYWHERE");
  });

  test("check-config on a file that does not exist exits 2 naming it", async () => {
    const { code, output } = await run(["check-config", "--config", join(dir, "nope.yaml")]);
    expect(code).toBe(2);
    expect(output).toContain("nope.yaml");
  });

  test("serve creates a --data-dir that does not exist yet (the README's first command on a fresh clone)", async () => {
    const dataDir = join(dir, "fresh", "not", "there");
    const child = spawnConnector(["serve", "--dry-run", "--config", "config.example.yaml", "--port", "0", "--data-dir", dataDir]);
    await child.waitForLine((line) => line.includes('"msg":"gitops-connector listening"'));
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(existsSync(join(dataDir, "outbox.dry-run.db"))).toBe(true);
  });

  test("serve exits 1 naming the file when the outbox cannot be opened", async () => {
    const notADatabase = configFile("not-a-db/outbox.dry-run.db", "");
    writeFileSync(notADatabase, "this is not a SQLite database, just text that is long enough to have a header".repeat(20));
    const { code, output } = await run(["serve", "--dry-run", "--config", "config.example.yaml", "--port", "0", "--data-dir", join(dir, "not-a-db")]);
    expect(code).toBe(1);
    expect(output).toContain("outbox.dry-run.db");
  });

  test("serve exits 1 naming a damaged outbox file and what to do (SQLite's quick_check at open)", async () => {
    const dataDir = join(dir, "damaged");
    const path = join(dataDir, "outbox.dry-run.db");
    const store = createSqliteOutboxStore({ path });
    for (let n = 0; n < 200; n++) {
      store.submit("apps-dev", `c${n}`, (known) => ({ jobs: [{ kind: "subscriber", instance: "apps-dev", target: "subscriber:s", orderingKey: `k${n}`, payload: { url: "http://s.local", body: { pad: "x".repeat(500) } as never } }], known }), 1);
    }
    store.close();
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 3); // one page of garbage in the middle
    closeSync(fd);
    const { code, output } = await run(["serve", "--dry-run", "--config", "config.example.yaml", "--port", "0", "--data-dir", dataDir]);
    expect(code).toBe(1);
    expect(output).toContain(`outbox ${path} is not a valid database`);
    expect(output).toContain("move the file aside");
  });

  test("serve with a bad config logs every error as JSON and exits 2", async () => {
    const path = configFile("bad-serve.yaml", "instances: []\nserver: { port: -1 }\n");
    const { code, output } = await run(["serve", "--dry-run", "--config", path]);
    expect(code).toBe(2);
    const errors = output.split("\n").map((line) => JSON.parse(line) as { level: string; path?: string }).filter((entry) => entry.path);
    expect(errors.map((entry) => entry.path)).toEqual(expect.arrayContaining(["server.port", "instances"]));
  });

  test("serve rejects a --port that is not a port", async () => {
    const { code, output } = await run(["serve", "--dry-run", "--port", "eighty"]);
    expect(code).toBe(2);
    expect(output).toContain("--port");
  });
});
