import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  describeInstance,
  formatConfigErrors,
  loadConfig,
  resolveConfigSource,
  type ConfigSource,
  type LoadResult,
} from "../../src/config/load.ts";

const root = resolve(import.meta.dir, "../..");
const fixtures = join(root, "test/fixtures/config");
const temp = mkdtempSync(join(tmpdir(), "gitops-connector-load-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

let counter = 0;
/** Writes a file in a fresh temp directory and returns its path. */
function writeTemp(content: string, name = "config.yaml"): string {
  const dir = join(temp, String(counter++));
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function fileSource(path: string): ConfigSource {
  return { kind: "file", path, description: path };
}

function load(path: string, env: Record<string, string> = {}): LoadResult {
  return loadConfig({ source: fileSource(path), env });
}

function errorLines(result: LoadResult): string[] {
  if (result.ok) throw new Error("expected errors, got a valid config");
  return formatConfigErrors(result.errors);
}

function configOf(result: LoadResult) {
  if (!result.ok) throw new Error(formatConfigErrors(result.errors).join("\n"));
  return result.config;
}

const minimalYaml = readFileSync(join(fixtures, "minimal.yaml"), "utf8");

describe("loadConfig from a file", () => {
  test("config.example.yaml loads with no environment variables set", () => {
    const config = configOf(load(join(root, "config.example.yaml")));
    expect(config.instances.map((instance) => instance.name)).toEqual(["apps-dev", "payments-prod"]);
    expect(config.instances[0]).toMatchObject({ default: true, gitOpsOperatorType: "FLUX", gitRepositoryType: "GITHUB", ciCdOrchestratorType: "GITHUB" });
    expect(config.instances[1]).toMatchObject({ gitOpsOperatorType: "ARGOCD", gitRepositoryType: "AZDO", ciCdOrchestratorType: "AZDO" });
    expect(Object.keys(config.instances[0]?.subscribers ?? {})).toHaveLength(1);
    expect(config.secrets).toEqual([]);
    expect(config.source).toBe(join(root, "config.example.yaml"));
  });

  test("the example's tokens come from the environment when set", () => {
    const config = configOf(load(join(root, "config.example.yaml"), { GITHUB_TOKEN: "ghp_example", AZDO_PAT: "azdo_example" }));
    expect(config.instances[0]?.pat).toBe("ghp_example");
    expect(config.instances[0]?.orchestratorPat).toBe("ghp_example");
    expect(config.secrets).toEqual(["ghp_example", "azdo_example"]);
  });

  test("a minimal file takes every default", () => {
    const config = configOf(load(join(fixtures, "minimal.yaml")));
    expect(config.server.port).toBe(8080);
    expect(config.outbox.path).toBe("outbox.db");
    expect(config.instances[0]?.completionReconcilers).toEqual(["*"]);
    expect(config.source).toBe(join(fixtures, "minimal.yaml"));
  });

  test("three independent mistakes are all reported, by path", () => {
    const lines = errorLines(load(join(fixtures, "three-mistakes.yaml")));
    expect(lines).toEqual([
      "server.port: must be a whole number from 1 to 65535 (got 70000)",
      'instances[0].gitOpsOperatorType: must be FLUX or ARGOCD (got "flux"); write FLUX',
      "instances[1].azdoOrgUrl: required when gitRepositoryType is AZDO; set it to the organization/project URL, e.g. https://dev.azure.com/org/project",
    ]);
  });

  test("unknown keys name the key and suggest the right one", () => {
    const lines = errorLines(load(join(fixtures, "unknown-keys.yaml")));
    expect(lines).toEqual([
      "servr: unknown key; did you mean server?",
      "instances[0].orchestratorPAT: unknown key; did you mean orchestratorPat?",
      "instances[0].subscriberz: unknown key; did you mean subscribers?",
    ]);
  });

  test("a YAML syntax error is reported with line:column", () => {
    const path = join(fixtures, "yaml-syntax-error.yaml");
    const lines = errorLines(load(path));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${path.replaceAll(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:4:\\d+: YAML syntax error: `));
  });

  test("duplicate YAML keys and several documents are syntax errors", () => {
    expect(errorLines(load(writeTemp("instances: []\ninstances: []\n")))[0]).toMatch(/:2:1: YAML syntax error: Map keys must be unique$/);
    expect(errorLines(load(writeTemp(`${minimalYaml}---\n${minimalYaml}`)))[0]).toContain("several YAML documents");
  });

  test("an empty file and a missing file", () => {
    expect(errorLines(load(writeTemp("# nothing here\n")))[0]).toContain("the file is empty");
    const missing = join(temp, "missing.yaml");
    expect(errorLines(load(missing))).toEqual([`${missing}: cannot read the config file (ENOENT)`]);
  });

  test("YAML anchors and merge keys share settings between instances", () => {
    const yaml = `
x-github: &github
  gitOpsOperatorType: FLUX
  gitRepositoryType: GITHUB
  ciCdOrchestratorType: NONE
  gitOpsAppURL: https://github.com/contoso/m/commit
  gitHubOrgUrl: https://api.github.com/repos/contoso
  gitHubGitOpsManifestsRepoName: m
instances:
  - { <<: *github, name: dev }
  - { <<: *github, name: prod }
`;
    // x-github is not a key of the file: anchors must live where keys are allowed, so this is an error...
    expect(errorLines(load(writeTemp(yaml)))).toEqual(["x-github: unknown key; remove it or use one of: server, ui, auth, outbox, scheduler, logLevel, secretFileRoots, instances"]);
    // ...while an anchor on the first instance works.
    const inline = `
instances:
  - &github
    name: dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/contoso/m/commit
    gitHubOrgUrl: https://api.github.com/repos/contoso
    gitHubGitOpsManifestsRepoName: m
  - { <<: *github, name: prod }
`;
    expect(configOf(load(writeTemp(inline))).instances.map((i) => i.name)).toEqual(["dev", "prod"]);
  });
});

describe("expansion in a file", () => {
  test("env, defaults and ${file:} secrets (systemd credentials) resolve", () => {
    const credentials = join(temp, "credentials");
    mkdirSync(credentials);
    writeFileSync(join(credentials, "pat"), "ghp_fromCredentialFile\n");
    const yaml = minimalYaml
      .replace("ciCdOrchestratorType: NONE", 'ciCdOrchestratorType: NONE\n    pat: "${file:${CREDENTIALS_DIRECTORY}/pat}"')
      .replace("instances:", 'server:\n  port: "${PORT:-9000}"\ninstances:');
    const config = configOf(load(writeTemp(yaml), { CREDENTIALS_DIRECTORY: credentials }));
    expect(config.server.port).toBe(9000);
    expect(config.instances[0]?.pat).toBe("ghp_fromCredentialFile");
    expect(config.secrets).toEqual(["ghp_fromCredentialFile"]);
  });

  test("${file:} reads only under the config's directory, /run/secrets, /var/run/secrets, $CREDENTIALS_DIRECTORY and secretFileRoots", () => {
    const outside = join(temp, "elsewhere");
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, "repo-name"), "root:$6$hash:19000:0:99999:7:::\n");
    const asRepoName = (path: string, top = "") => minimalYaml.replace("gitHubGitOpsManifestsRepoName: gitops-manifests", `gitHubGitOpsManifestsRepoName: "\${file:${path}}"`).replace("instances:", `${top}instances:`);
    const refused = errorLines(load(writeTemp(asRepoName("/etc/shadow"))));
    expect(refused).toEqual([expect.stringMatching(/^instances\[0\]\.gitHubGitOpsManifestsRepoName: file \/etc\/shadow is outside the directories \$\{file:…\} may read from \(/)]);
    const outsideRefused = errorLines(load(writeTemp(asRepoName(join(outside, "repo-name")))));
    expect(outsideRefused[0]).toContain("is outside the directories");
    expect(outsideRefused.join("\n")).not.toContain("root:$6$");
    // A symlink beside the config that points outside is followed, and refused.
    const path = writeTemp(asRepoName("./link"));
    symlinkSync(join(outside, "repo-name"), join(dirname(path), "link"));
    writeFileSync(path, asRepoName(join(dirname(path), "link")));
    expect(errorLines(load(path))[0]).toContain("is outside the directories");
    // Beside the config, or under a listed root: read.
    const beside = writeTemp(asRepoName("PLACEHOLDER"));
    writeFileSync(join(dirname(beside), "repo"), "manifests-from-file\n");
    writeFileSync(beside, asRepoName(join(dirname(beside), "repo")));
    expect(configOf(load(beside)).instances[0]?.gitHubGitOpsManifestsRepoName).toBe("manifests-from-file");
    writeFileSync(join(outside, "repo"), "manifests-from-root\n");
    expect(configOf(load(writeTemp(asRepoName(join(outside, "repo"), `secretFileRoots: [${outside}]\n`)))).instances[0]?.gitHubGitOpsManifestsRepoName).toBe("manifests-from-root");
  });

  test("a config file over 1 MiB is refused before it is read; subscribers are capped at 20 per instance", () => {
    const big = writeTemp(`${minimalYaml}\n# ${"x".repeat(1024 * 1024)}\n`);
    expect(errorLines(load(big))).toEqual([`${big}: the config file is ${statSync(big).size} bytes, over the limit of 1048576 (set GITOPS_CONNECTOR_MAX_CONFIG_BYTES to allow more)`]);
    const subscribers = Array.from({ length: 21 }, (_, n) => `s${n}: http://s${n}.local/hook`).join(", ");
    const many = writeTemp(minimalYaml.replace("ciCdOrchestratorType: NONE", `ciCdOrchestratorType: NONE\n    subscribers: { ${subscribers} }`));
    expect(errorLines(load(many))).toEqual(["instances[0].subscribers: lists 21 subscribers; at most 20 per instance (each status is posted to every one)"]);
  });

  test("a missing variable names it and the path; the unexpanded value adds no noise", () => {
    const yaml = minimalYaml
      .replace("gitHubOrgUrl: https://api.github.com/repos/contoso", "gitHubOrgUrl: ${GITHUB_ORG_URL}")
      .replace("ciCdOrchestratorType: NONE", "ciCdOrchestratorType: NONE\n    pat: ${PAT}\n    orchestratorPat: ${file:/run/secrets/nonexistent-token}");
    expect(errorLines(load(writeTemp(yaml)))).toEqual([
      "instances[0].pat: environment variable PAT is not set (set it, or write ${PAT:-} for an empty default)",
      "instances[0].orchestratorPat: cannot read file /run/secrets/nonexistent-token named in ${file:…}: it does not exist",
      "instances[0].gitHubOrgUrl: environment variable GITHUB_ORG_URL is not set (set it, or write ${GITHUB_ORG_URL:-} for an empty default)",
    ]);
  });

  test("expansion errors and schema errors come out together, in file order (a missing key with its parent)", () => {
    const yaml = readFileSync(join(fixtures, "three-mistakes.yaml"), "utf8").replace(
      "azdoGitOpsRepoName: payments-manifests",
      "azdoGitOpsRepoName: ${AZDO_REPO}",
    );
    const lines = errorLines(load(writeTemp(yaml)));
    expect(lines.map((line) => line.split(":")[0])).toEqual([
      "server.port",
      "instances[0].gitOpsOperatorType",
      "instances[1].azdoOrgUrl",
      "instances[1].azdoGitOpsRepoName",
    ]);
  });
});

describe("secrets", () => {
  const env = { HMAC_KEY_2: "hmac-env-secret-2", WEBHOOK_TOKEN: "bearer-env-secret", ORCHESTRATOR_PAT: "ghp_orchestratorSecret02", AZDO_PAT: "azdoPatSecret0003", ARGO_INSTANCE_TOKEN: "argo-instance-bearer-secret" };
  const tokens = ["hmac-inline-secret-1", ...Object.values(env), "ghp_inlinePatSecret0001"];

  test("every pat, orchestratorPat, HMAC key and bearer token is listed, an instance's own keys included", () => {
    const config = configOf(load(join(fixtures, "secrets.yaml"), env));
    expect([...config.secrets].sort()).toEqual([...tokens].sort());
    expect(config.hmacKeys).toEqual(["hmac-inline-secret-1", "hmac-env-secret-2"]);
    expect(config.bearerTokens).toEqual(["bearer-env-secret"]);
    for (const instance of config.instances) for (const token of tokens) expect(describeInstance(instance)).not.toContain(token);
  });

  test("no error message contains a token", () => {
    const broken = readFileSync(join(fixtures, "secrets.yaml"), "utf8")
      .replace("pat: ghp_inlinePatSecret0001", "pat: [ghp_inlinePatSecret0001]")
      .replace("gitHubOrgUrl: https://api.github.com/repos/contoso", 'gitHubOrgUrl: "${ORCHESTRATOR_PAT}"')
      .replace("azdoOrgUrl: https://dev.azure.com/contoso/payments", 'azdoOrgUrl: "https://user:${AZDO_PAT}@"')
      .replace('bearerToken: "${WEBHOOK_TOKEN}"', 'bearerToken: { token: "${WEBHOOK_TOKEN}" }')
      .replace("gitOpsOperatorType: FLUX", "gitOpsOperatorType: FLUX\n    default: ${AZDO_PAT}")
      .replace("gitOpsOperatorType: ARGOCD", "gitOpsOperatorType: ghp_inlinePatSecret0001");
    const lines = errorLines(load(writeTemp(broken), env));
    expect(lines).toEqual([
      "auth.bearerToken: must be a token given as quoted text (got a mapping)",
      "instances[0].default: must be true or false (got a value from ${…})",
      "instances[0].gitHubOrgUrl: must be an absolute http(s) URL such as https://api.github.com/repos/org",
      "instances[0].pat: must be a token given as quoted text (got a list)",
      'instances[1].gitOpsOperatorType: must be FLUX or ARGOCD (got "[REDACTED]")',
      "instances[1].azdoOrgUrl: must be an absolute http(s) URL such as https://dev.azure.com/org/project",
    ]);
    for (const line of lines) for (const token of tokens) expect(line).not.toContain(token);
  });

  test("a YAML syntax error next to a token does not quote it", () => {
    const broken = readFileSync(join(fixtures, "secrets.yaml"), "utf8").replace(
      "gitHubGitOpsRepoName: app-src",
      "gitHubGitOpsRepoName: app-src\n  ghp_inlinePatSecret0001\n    'hmac-inline-secret-1' x: [",
    );
    const lines = errorLines(load(writeTemp(broken), env));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const line of lines) {
      expect(line).toMatch(/:\d+:\d+: YAML syntax error: /);
      for (const token of tokens) expect(line).not.toContain(token);
    }
  });
});

describe("resolveConfigSource", () => {
  const cwd = join(temp, "cwd");
  mkdirSync(cwd, { recursive: true });
  const local = join(cwd, "config.yaml");
  const other = join(cwd, "other.yaml");
  writeFileSync(local, minimalYaml);
  writeFileSync(other, minimalYaml);
  const legacy = { GIT_REPOSITORY_TYPE: "GITHUB" };

  function resolved(flag: string | undefined, env: Record<string, string>, directory = cwd) {
    const result = resolveConfigSource({ flag, env, cwd: directory });
    if (!result.ok) return `error: ${result.error}`;
    return result.source.kind === "file" ? result.source.path : "environment";
  }

  test("--config wins over everything, relative to the working directory", () => {
    expect(resolved("other.yaml", { GITOPS_CONNECTOR_CONFIG: local, ...legacy })).toBe(other);
  });

  test("then $GITOPS_CONNECTOR_CONFIG", () => {
    expect(resolved(undefined, { GITOPS_CONNECTOR_CONFIG: other, ...legacy })).toBe(other);
  });

  test("then ./config.yaml when it exists", () => {
    expect(resolved(undefined, { GITOPS_CONNECTOR_CONFIG: "", ...legacy })).toBe(local);
  });

  test("then legacy environment mode when GIT_REPOSITORY_TYPE is set", () => {
    expect(resolved(undefined, legacy, temp)).toBe("environment");
  });

  test("otherwise an error listing the four options", () => {
    const error = resolved(undefined, {}, temp);
    for (const option of ["--config", "GITOPS_CONNECTOR_CONFIG", "./config.yaml", "GIT_REPOSITORY_TYPE"]) expect(error).toContain(option);
  });

  test("an explicitly named file that does not exist is an error, not a fallback", () => {
    expect(resolved("nope.yaml", legacy)).toBe(`error: --config names ${join(cwd, "nope.yaml")}, which does not exist; fix the path or create the file`);
    expect(resolved(undefined, { GITOPS_CONNECTOR_CONFIG: "/nope.yaml" })).toStartWith("error: $GITOPS_CONNECTOR_CONFIG names /nope.yaml");
    expect(resolved("", {})).toBe("error: --config needs a file path");
  });

  test("the description says where the path came from", () => {
    const result = resolveConfigSource({ flag: "other.yaml", env: {}, cwd });
    expect(result.ok && result.source.description).toBe(`${other} (from --config)`);
  });
});

describe("describeInstance", () => {
  test("one line: name, operator → repository → orchestrator, subscriber count", () => {
    const config = configOf(load(join(root, "config.example.yaml"), { GITHUB_TOKEN: "ghp_hidden" }));
    expect(config.instances.map(describeInstance)).toEqual([
      "apps-dev (default): FLUX → GITHUB contoso/gitops-manifests → GITHUB contoso/app-src, 1 subscriber",
      "payments-prod: ARGOCD → AZDO payments/payments-manifests → AZDO payments/payments-hld, 0 subscribers",
    ]);
  });
});
