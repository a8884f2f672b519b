import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSubscriberFiles } from "../../src/config/legacy-env.ts";
import { formatConfigErrors, loadConfig, type LoadResult } from "../../src/config/load.ts";

const temp = mkdtempSync(join(tmpdir(), "gitops-connector-legacy-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** The original Helm chart's environment for Flux + GitHub + GitHub Actions. */
const githubEnv = {
  GIT_REPOSITORY_TYPE: "GITHUB",
  CICD_ORCHESTRATOR_TYPE: "GITHUB",
  GITOPS_OPERATOR_TYPE: "FLUX",
  GITOPS_APP_URL: "https://github.com/kaizentm/gitops-manifests/commit",
  GITHUB_GITOPS_REPO_NAME: "gitops-connector",
  GITHUB_GITOPS_MANIFEST_REPO_NAME: "gitops-manifests",
  GITHUB_ORG_URL: "https://api.github.com/repos/kaizentm",
  PAT: "ghp_legacyToken000001",
  // The chart renders unset values as empty strings.
  AZDO_GITOPS_REPO_NAME: "",
  AZDO_PR_REPO_NAME: "",
  AZDO_ORG_URL: "",
};

const azdoEnv = {
  GIT_REPOSITORY_TYPE: "AZDO",
  CICD_ORCHESTRATOR_TYPE: "AZDO",
  GITOPS_OPERATOR_TYPE: "ARGOCD",
  GITOPS_APP_URL: "https://github.com/microsoft/spektate",
  AZDO_GITOPS_REPO_NAME: "manifest-repo",
  AZDO_PR_REPO_NAME: "hld-repo",
  AZDO_ORG_URL: "https://dev.azure.com/MyOrg/MyProject",
  PAT: "azdoLegacyToken0002",
};

let counter = 0;
function directory(files: Record<string, string> = {}): string {
  const dir = join(temp, `subscribers-${counter++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

function loadEnv(env: Record<string, string>, subscribersDir: string): LoadResult {
  return loadConfig({ source: { kind: "environment", description: "environment" }, env, subscribersDir });
}

function configOf(result: LoadResult) {
  if (!result.ok) throw new Error(formatConfigErrors(result.errors).join("\n"));
  return result.config;
}

describe("legacy environment mode", () => {
  test("one instance named singleInstance from the original's variables", () => {
    const config = configOf(loadEnv(githubEnv, join(temp, "no-such-dir")));
    expect(config.source).toBe("environment");
    expect(config.instances).toHaveLength(1);
    expect(config.instances[0]).toMatchObject({
      name: "singleInstance",
      default: false,
      gitRepositoryType: "GITHUB",
      ciCdOrchestratorType: "GITHUB",
      gitOpsOperatorType: "FLUX",
      gitOpsAppURL: "https://github.com/kaizentm/gitops-manifests/commit",
      gitHubGitOpsRepoName: "gitops-connector",
      gitHubGitOpsManifestsRepoName: "gitops-manifests",
      gitHubOrgUrl: "https://api.github.com/repos/kaizentm",
      pat: "ghp_legacyToken000001",
      orchestratorPat: "ghp_legacyToken000001",
      subscribers: {},
    });
    expect(config.instances[0]?.azdoOrgUrl).toBeUndefined();
    expect(config.server.port).toBe(8080);
    expect(config.secrets).toEqual(["ghp_legacyToken000001"]);
  });

  test("Azure DevOps variables, with the PR repo", () => {
    const [instance] = configOf(loadEnv(azdoEnv, directory())).instances;
    expect(instance).toMatchObject({ azdoOrgUrl: azdoEnv.AZDO_ORG_URL, azdoGitOpsRepoName: "manifest-repo", azdoPrRepoName: "hld-repo" });
  });

  test("subscribers come from the files in the subscribers directory, as Kubernetes mounts a ConfigMap", () => {
    // A ConfigMap volume: ..<timestamp>/ holds the files, ..data links to it, each name links into ..data.
    const dir = directory();
    const snapshot = join(dir, "..2024_05_01_10_00_00.123456789");
    mkdirSync(snapshot);
    writeFileSync(join(snapshot, "spektate"), "http://spektate-server:5000/api/flux\n");
    writeFileSync(join(snapshot, "audit"), "  https://audit.example.com/hook  \n");
    symlinkSync("..2024_05_01_10_00_00.123456789", join(dir, "..data"));
    symlinkSync("..data/spektate", join(dir, "spektate"));
    symlinkSync("..data/audit", join(dir, "audit"));
    writeFileSync(join(dir, ".hidden"), "http://ignored");
    mkdirSync(join(dir, "nested"));
    const [instance] = configOf(loadEnv(githubEnv, dir)).instances;
    expect(instance?.subscribers).toEqual({ audit: "https://audit.example.com/hook", spektate: "http://spektate-server:5000/api/flux" });
  });

  test("a missing subscribers directory means no subscribers", () => {
    expect(readSubscriberFiles(join(temp, "absent"))).toEqual({ subscribers: {}, errors: [] });
  });

  test("errors name the environment variable, and every error is reported", () => {
    const { GITHUB_ORG_URL: _, GITOPS_APP_URL: __, ...env } = githubEnv;
    const result = loadEnv({ ...env, GITOPS_OPERATOR_TYPE: "flux" }, directory({ broken: "not a url" }));
    if (result.ok) throw new Error("expected errors");
    const lines = formatConfigErrors(result.errors);
    expect(lines).toContain('GITOPS_OPERATOR_TYPE: must be FLUX or ARGOCD (got "flux"); write FLUX');
    expect(lines).toContain("GITOPS_APP_URL: required; set it to the URL a commit status links to, e.g. https://github.com/org/manifests/commit");
    expect(lines).toContain(
      "GITHUB_ORG_URL: required when GIT_REPOSITORY_TYPE is GITHUB; set it to the API URL of the org, e.g. https://api.github.com/repos/org",
    );
    expect(lines.find((line) => line.startsWith(`${join(temp)}`) && line.includes("/broken: must be an absolute http(s) URL"))).toBeDefined();
    expect(lines).toHaveLength(4);
  });

  test("AZDO without its organization URL", () => {
    const { AZDO_ORG_URL: _, ...env } = azdoEnv;
    const result = loadEnv(env, directory());
    expect(result.ok ? [] : formatConfigErrors(result.errors)).toEqual([
      "AZDO_ORG_URL: required when GIT_REPOSITORY_TYPE is AZDO; set it to the organization/project URL, e.g. https://dev.azure.com/org/project",
    ]);
  });

  test("a token in the wrong variable is not echoed", () => {
    const result = loadEnv({ ...githubEnv, CICD_ORCHESTRATOR_TYPE: githubEnv.PAT }, directory());
    const lines = result.ok ? [] : formatConfigErrors(result.errors);
    expect(lines).toEqual(['CICD_ORCHESTRATOR_TYPE: must be GITHUB, AZDO or NONE (got "[REDACTED]")']);
  });
});
