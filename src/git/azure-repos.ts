/**
 * Azure Repos commit statuses
 * (https://learn.microsoft.com/rest/api/azure/devops/git/statuses/create). The pure half: a status job
 * becomes the request Azure DevOps expects. The delivery half joins it with the providers issue.
 */
import type { StatusJobPayload } from "../model.ts";
import { apiBase, type OutboundRequest } from "../http-request.ts";
import { toAzureReposState } from "./state-tables.ts";

export const AZDO_API_VERSION = "7.1";

export interface AzureReposFields {
  /** `https://dev.azure.com/<org>/<project>` */
  readonly azdoOrgUrl?: string;
  readonly azdoGitOpsRepoName?: string;
}

/**
 * Azure Repos shows `genre/name` under each status. Default contexts put our unique context in `name` and
 * the genre gitops-promotion looks for (`fluxcd`, `argocd`) in `genre`; legacy keeps the original's pair.
 */
export function toAzureReposContext(job: StatusJobPayload): { name: string; genre: string } {
  if (job.statusContext === "legacy") return { name: job.status.name, genre: job.genre };
  return { name: job.status.context, genre: job.operator === "FLUX" ? "fluxcd" : "argocd" };
}

export function toAzureReposStatusRequest(instance: AzureReposFields, job: StatusJobPayload): OutboundRequest {
  const base = apiBase(instance.azdoOrgUrl);
  const context = toAzureReposContext(job);
  return {
    method: "POST",
    url: `${base}/_apis/git/repositories/${instance.azdoGitOpsRepoName}/commits/${job.commit}/statuses?api-version=${AZDO_API_VERSION}`,
    body: {
      state: toAzureReposState(job.status.state),
      description: `${job.status.name}: ${job.status.description}`,
      // Azure Repos merges statuses whose context and targetUrl are equal, so the noop parameter keeps them apart.
      targetUrl: `${job.callbackUrl}?noop=${encodeURIComponent(context.name)}`,
      context,
    },
  };
}
