/**
 * Azure Pipelines: resume or fail the agentless task waiting for the PR whose merge produced this commit.
 * Delivery reads the merge commit message (`Merged PR <n>: …`), the PR's `callback-task-id` property and the
 * plan, then posts `TaskCompleted`. Pure description here; delivery joins with the providers issue.
 */
import { apiBase } from "../http-request.ts";
import type { OrchestratorJobPayload } from "../model.ts";
import type { OrchestratorPlan } from "./registry.ts";

export interface AzurePipelinesFields {
  readonly azdoOrgUrl?: string;
  readonly azdoPrRepoName?: string;
}

export function describeAzurePipelinesCallback(
  instance: AzurePipelinesFields,
  job: OrchestratorJobPayload,
  readCommitMessage: string,
): OrchestratorPlan {
  const base = apiBase(instance.azdoOrgUrl);
  return {
    reads: [
      readCommitMessage,
      `GET ${base}/_apis/git/repositories/${instance.azdoPrRepoName}/pullRequests/<n from "Merged PR <n>:">/properties`,
      "GET {planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}",
    ],
    request: {
      method: "POST",
      url: "{planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}/events?api-version=2.0-preview.1",
      body: { name: "TaskCompleted", taskId: "{taskid}", jobId: "{jobid}", result: job.outcome },
    },
  };
}
