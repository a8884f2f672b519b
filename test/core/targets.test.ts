import { expect, test } from "bun:test";
import { gitTargetOf, orchestratorTargetOf } from "../../src/core/targets.ts";

test("targets name host and path, never the scheme or credentials written into a URL", () => {
  const instance = {
    name: "apps-dev",
    gitRepositoryType: "GITHUB",
    ciCdOrchestratorType: "AZDO",
    gitHubOrgUrl: "https://x-access-token:ghp_secretInUrl@ghe.example.com/api/v3/repos/org/",
    gitHubGitOpsManifestsRepoName: "manifests",
    azdoOrgUrl: "https://user:azdoSecret@dev.azure.com/org/project",
  } as const;
  expect(gitTargetOf(instance)).toBe("github:ghe.example.com/api/v3/repos/org/manifests");
  expect(orchestratorTargetOf(instance)).toBe("azure-pipelines:dev.azure.com/org/project");
});
