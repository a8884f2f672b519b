/**
 * The CLI contract of DESIGN §3, run as a real process: subcommands, --help, exit codes, and
 * import-gitopsconfig (DESIGN §14) on the seed's GitOpsConfig example and a List of three.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { createSqliteOutboxStore } from "../../src/outbox/store.ts";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { daemonCommand, spawnConnector } from "../support/daemon.ts";

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

// ---------------------------------------------------------------------------------------------------------
// import-gitopsconfig: the original's GitOpsConfig objects → instances that check-config accepts.

const SEED_CHART_README = readFileSync(join(import.meta.dir, "..", "..", "..", "shared", "seeds", "002_728bfa5d86b5dbbc.txt"), "utf8");
/** The GitOpsConfig example the original chart's README prints, exactly. */
const SEED_GITOPSCONFIG = /See her for an example of a manifest:\n\n```\n([\s\S]*?)```/.exec(SEED_CHART_README)![1]!;
const LIST_OF_THREE = readFileSync(join(import.meta.dir, "..", "fixtures", "gitopsconfig", "list-of-three.yaml"), "utf8");

/** Runs the CLI with `input` on stdin. */
async function runWithStdin(args: string[], input: string) {
  const proc = Bun.spawn([...daemonCommand(), ...args], { stdin: new Blob([input]), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

async function importFile(text: string) {
  const result = await runWithStdin(["import-gitopsconfig", "-"], text);
  return { ...result, instances: result.code === 0 ? (parseYaml(result.stdout) as { instances: Record<string, string>[] }).instances : [] };
}

describe("gitops-connector import-gitopsconfig", () => {
  test("--help prints its usage; no file is a usage error", async () => {
    const help = await run(["import-gitopsconfig", "--help"]);
    expect(help.code).toBe(0);
    expect(help.output).toContain("Usage: gitops-connector import-gitopsconfig FILE|-");
    expect((await run(["import-gitopsconfig"])).code).toBe(2);
    const missing = await run(["import-gitopsconfig", join(dir, "no-such.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("ENOENT");
  });

  test("the seed's GitOpsConfig example becomes an instance that check-config accepts", async () => {
    const path = configFile("gitopsconfig.yaml", SEED_GITOPSCONFIG);
    const child = spawnConnector(["import-gitopsconfig", path]);
    expect(await child.exited).toBe(0);
    const output = child.lines.join("\n") + "\n";
    expect(output).toContain("create secret generic gitops-connector-tokens --from-literal=PAT=\"$PAT\"");
    const { instances } = parseYaml(output) as { instances: Record<string, string>[] };
    expect(instances).toEqual([
      {
        name: "my-gitops-repo-stage-dev",
        gitRepositoryType: "AZDO",
        ciCdOrchestratorType: "AZDO",
        gitOpsOperatorType: "ARGOCD",
        gitOpsAppURL: "https://dev.azure.com/myorg/MyProject/_git/my-gitops-repo",
        azdoGitOpsRepoName: "my-gitops-repo",
        azdoPrRepoName: "my-gitops-repo",
        azdoOrgUrl: "https://dev.azure.com/myorg/MyProject",
        pat: "${PAT}",
      },
    ]);
    const config = configFile("imported.yaml", output);
    const checked = await run(["check-config", "--config", config], { PAT: "azdo-pat-0123456789abcdef" });
    expect(checked.output).toContain("config ok");
    expect(checked.output).toContain("my-gitops-repo-stage-dev");
    expect(checked.code).toBe(0);
  });

  test("a List of three from kubectl -A, read from stdin: one instance each, a token per service", async () => {
    const { code, stdout, instances } = await importFile(LIST_OF_THREE);
    expect(code).toBe(0);
    expect(instances.map((instance) => instance.name)).toEqual(["payments-prod", "apps-dev", "web-stage"]);
    expect(instances.map((instance) => [instance.pat, instance.orchestratorPat])).toEqual([
      ["${AZDO_PAT}", undefined],
      ["${GITHUB_PAT}", undefined],
      ["${GITHUB_PAT}", "${AZDO_PAT}"], // a GitHub repository with Azure Pipelines
    ]);
    // Nothing of kubectl's bookkeeping comes along.
    for (const noise of ["uid:", "resourceVersion", "namespace:", "last-applied", "creationTimestamp"]) expect(stdout).not.toContain(noise);
    const config = configFile("imported-three.yaml", stdout);
    const env = { GITHUB_PAT: "ghp_importTestToken0123456789", AZDO_PAT: "azdo-import-test-token-0123" };
    const checked = await run(["check-config", "--config", config], env);
    expect(checked.code).toBe(0);
    for (const name of ["payments-prod", "apps-dev", "web-stage"]) expect(checked.output).toContain(name);
    const withoutAzdo = await run(["check-config", "--config", config], { GITHUB_PAT: env.GITHUB_PAT });
    expect(withoutAzdo.code).toBe(2);
    expect(withoutAzdo.output).toContain("AZDO_PAT");
  });

  test("multi-document YAML works like a List", async () => {
    const items = (parseYaml(LIST_OF_THREE) as { items: unknown[] }).items;
    const documents = items.map((item) => stringifyYaml(item)).join("---\n");
    const fromDocuments = await importFile(documents);
    const fromList = await importFile(LIST_OF_THREE);
    expect(fromDocuments.code).toBe(0);
    expect(fromDocuments.stdout).toBe(fromList.stdout);
  });

  test("anything it cannot map is exit 2 naming the object and the key, and nothing on stdout", async () => {
    const list = parseYaml(LIST_OF_THREE) as { items: Record<string, any>[] };
    list.items[0]!.spec.gitRepositoyType = "AZDO"; // a typo the original's CRD would have pruned
    list.items[1]!.spec.gitRepositoryType = "JENKINS";
    list.items[2]!.metadata.name = "payments-prod"; // the same name in another namespace
    list.items.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "stray", namespace: "flux-system" }, data: {} });
    const { code, stdout, stderr } = await runWithStdin(["import-gitopsconfig", "-"], stringifyYaml(list));
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain("GitOpsConfig payments/payments-prod: spec.gitRepositoyType is not a GitOpsConfig field this can map");
    expect(stderr).toContain('GitOpsConfig flux-system/apps-dev: spec.gitRepositoryType: must be GITHUB, AZDO, GITEA or GITLAB (got "JENKINS")');
    expect(stderr).toContain('GitOpsConfig flux-system/payments-prod: name "payments-prod" is also GitOpsConfig payments/payments-prod');
    expect(stderr).toContain('GitOpsConfig flux-system/stray: kind is "ConfigMap", not GitOpsConfig');
    expect(stderr).toContain("4 errors; nothing imported");
    const broken = await runWithStdin(["import-gitopsconfig", "-"], "items: [\n");
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("document 1: not YAML");
    const empty = await runWithStdin(["import-gitopsconfig", "-"], "apiVersion: v1\nkind: List\nitems: []\n");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("no GitOpsConfig found");
  });
});
