/** Instance settings for tests, shaped like the validated config. */
import type { ServedInstance } from "../../src/server/webhook.ts";

export function githubInstance(overrides: Partial<ServedInstance> = {}): ServedInstance {
  return {
    name: "apps-dev",
    gitOpsOperatorType: "FLUX",
    gitRepositoryType: "GITHUB",
    ciCdOrchestratorType: "GITHUB",
    gitOpsAppURL: "https://github.com/org/manifests/commit",
    gitHubOrgUrl: "https://api.github.com/repos/org",
    gitHubGitOpsManifestsRepoName: "manifests",
    gitHubGitOpsRepoName: "app-src",
    subscribers: { spektate: "http://spektate.local:5000/api/flux" },
    statusContext: "default",
    dispatchOnFailure: false,
    completionReconcilers: ["*"],
    ...overrides,
  };
}

export function azureInstance(overrides: Partial<ServedInstance> = {}): ServedInstance {
  return {
    name: "apps-azdo",
    gitOpsOperatorType: "ARGOCD",
    gitRepositoryType: "AZDO",
    ciCdOrchestratorType: "AZDO",
    gitOpsAppURL: "https://dev.azure.com/org/project/_git/manifests",
    azdoOrgUrl: "https://dev.azure.com/org/project",
    azdoGitOpsRepoName: "manifests",
    azdoPrRepoName: "manifests",
    subscribers: {},
    statusContext: "default",
    dispatchOnFailure: false,
    completionReconcilers: ["*"],
    ...overrides,
  };
}
