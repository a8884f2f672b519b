/**
 * One line per instance for `check-config` and start-up logs: what talks to what, never a token.
 */
import type { InstanceConfig } from "./schema.ts";

/** The last path segment of an org URL (`https://api.github.com/repos/org` → `org`), for short display. */
function lastSegment(url: string | undefined): string | undefined {
  if (!url || !URL.canParse(url)) return undefined;
  return new URL(url).pathname.split("/").filter(Boolean).at(-1);
}

function repo(url: string | undefined, name: string | undefined): string {
  const owner = lastSegment(url);
  return [owner, name].filter(Boolean).join("/") || "?";
}

function gitRepository(instance: InstanceConfig): string {
  return instance.gitRepositoryType === "GITHUB"
    ? `GITHUB ${repo(instance.gitHubOrgUrl, instance.gitHubGitOpsManifestsRepoName)}`
    : `AZDO ${repo(instance.azdoOrgUrl, instance.azdoGitOpsRepoName)}`;
}

function orchestrator(instance: InstanceConfig): string {
  switch (instance.ciCdOrchestratorType) {
    case "GITHUB":
      return `GITHUB ${repo(instance.gitHubOrgUrl, instance.gitHubGitOpsRepoName)}`;
    case "AZDO":
      return `AZDO ${repo(instance.azdoOrgUrl, instance.azdoPrRepoName)}`;
    case "NONE":
      return "NONE";
  }
}

/** `apps-dev (default): FLUX → GITHUB org/manifests → GITHUB org/app-src, 1 subscriber`. */
export function describeInstance(instance: InstanceConfig): string {
  const count = Object.keys(instance.subscribers).length;
  const marker = [instance.default ? " (default)" : "", instance.environment ? ` [environment ${instance.environment}]` : ""].join("");
  return (
    `${instance.name}${marker}: ${instance.gitOpsOperatorType} → ${gitRepository(instance)} → ${orchestrator(instance)}, ` +
    `${count} subscriber${count === 1 ? "" : "s"}`
  );
}
