/**
 * GitHub Actions: a `repository_dispatch` (`sync-success`, optionally `sync-failure`) to the workflow
 * repository once a deployment finished. The payload's `sha` and `runid` come from the manifests commit
 * message, so delivery first reads that commit. Pure description here; delivery joins with the providers issue.
 */
import type { OrchestratorJobPayload } from "../model.ts";
import type { OrchestratorPlan } from "./registry.ts";

export interface GitHubActionsFields {
  readonly gitHubOrgUrl?: string;
  readonly gitHubGitOpsRepoName?: string;
}

export function describeGitHubDispatch(
  instance: GitHubActionsFields,
  job: OrchestratorJobPayload,
  readCommitMessage: string,
): OrchestratorPlan {
  const base = (instance.gitHubOrgUrl ?? "").replace(/\/+$/, "");
  return {
    reads: [readCommitMessage],
    request: {
      method: "POST",
      url: `${base}/${instance.gitHubGitOpsRepoName}/dispatches`,
      body: {
        event_type: job.outcome === "succeeded" ? "sync-success" : "sync-failure",
        client_payload: { sha: "<sha from the commit message>", runid: "<runid from the commit message>", commitmessage: "<commit message>" },
      },
    },
  };
}
