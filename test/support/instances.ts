/**
 * Instances for tests, made the way the daemon makes them: config keys → the config's own instance schema →
 * src/instances/compile.ts. Their providers are real but never called unless a test points them at a fake.
 */
import * as v from "valibot";
import { InstanceConfig } from "../../src/config/schema.ts";
import { compileInstance, type Instance } from "../../src/instances/compile.ts";
import { createLogger } from "../../src/observability/logger.ts";
import type { FetchLike } from "../../src/core/http.ts";
import { USER_AGENT } from "../../src/core/version.ts";

const quiet = createLogger({ level: "silent" });

/** A validated instance config: the given keys over a GitHub default. */
export function githubConfig(overrides: Record<string, unknown> = {}): InstanceConfig {
  return v.parse(InstanceConfig, {
    name: "apps-dev",
    gitOpsOperatorType: "FLUX",
    gitRepositoryType: "GITHUB",
    ciCdOrchestratorType: "GITHUB",
    gitOpsAppURL: "https://github.com/org/manifests/commit",
    gitHubOrgUrl: "https://api.github.com/repos/org",
    gitHubGitOpsManifestsRepoName: "manifests",
    gitHubGitOpsRepoName: "app-src",
    subscribers: { spektate: "http://spektate.local:5000/api/flux" },
    ...overrides,
  });
}

export function azureConfig(overrides: Record<string, unknown> = {}): InstanceConfig {
  return v.parse(InstanceConfig, {
    name: "apps-azdo",
    gitOpsOperatorType: "ARGOCD",
    gitRepositoryType: "AZDO",
    ciCdOrchestratorType: "AZDO",
    gitOpsAppURL: "https://dev.azure.com/org/project/_git/manifests",
    azdoOrgUrl: "https://dev.azure.com/org/project",
    azdoGitOpsRepoName: "manifests",
    azdoPrRepoName: "manifests",
    ...overrides,
  });
}

export function compiled(config: InstanceConfig, fetch?: FetchLike): Instance {
  return compileInstance(config, { userAgent: USER_AGENT, logger: quiet, ...(fetch ? { fetch } : {}) });
}

export const githubInstance = (overrides: Record<string, unknown> = {}) => compiled(githubConfig(overrides));
export const azureInstance = (overrides: Record<string, unknown> = {}) => compiled(azureConfig(overrides));
