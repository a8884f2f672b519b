import { expect, test } from "bun:test";
import { githubInstance } from "../support/instances.ts";

test("targets name host and path, never the scheme or credentials written into a URL", () => {
  const instance = githubInstance({
    ciCdOrchestratorType: "AZDO",
    gitHubOrgUrl: "https://x-access-token:ghp_secretInUrl@ghe.example.com/api/v3/repos/org/",
    gitHubGitOpsManifestsRepoName: "manifests",
    azdoOrgUrl: "https://user:azdoSecret@dev.azure.com/org/project",
  });
  expect(instance.repository.target).toBe("github:ghe.example.com/api/v3/repos/org/manifests");
  expect(instance.orchestrator?.target).toBe("azure-pipelines:dev.azure.com/org/project");
  expect(instance.planning).toMatchObject({ gitTarget: instance.repository.target, orchestrator: { target: instance.orchestrator?.target } });
});
