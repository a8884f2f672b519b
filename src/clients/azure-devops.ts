/**
 * The HTTP client every Azure DevOps call goes through (Azure Repos statuses, commits and pull requests; Azure
 * Pipelines plans, timelines and events): src/clients/json-http.ts with a PAT as Basic auth, and Azure DevOps'
 * sign-in page recognised as the 401 it means.
 *
 * Plain fetch rather than azure-devops-node-api (reasons in README "Why not azure-devops-node-api"): that
 * client resolves every route through extra discovery calls (OPTIONS `_apis/Location`, resource areas) that
 * are in no published Azure DevOps API description, turns a 404 into a null result (a status posted to a
 * misspelt repository would count as delivered), and cannot be aborted, so the outbox's timeout and shutdown
 * could not cut a hung call.
 */
import { DeliveryError } from "../core/delivery.ts";
import { optionalHttpUrl, optionalText } from "../schema/parts.ts";
import { tokenOf, type Credentials } from "./credentials.ts";
import { classifyHttpFailure, type FailureParty } from "./http-failure.ts";
import { createJsonHttp, isJsonResponse, type JsonHttp } from "./json-http.ts";
import type { FetchLike, OutboundRequest } from "../core/http.ts";

/** The `azdoOrgUrl` config key, shared by Azure Repos and Azure Pipelines. */
export const AzureDevOpsOrgUrl = optionalHttpUrl("https://dev.azure.com/org/project");
/** The `azdoPrRepoName` config key: where the pipeline's PRs live (Azure Repos reads them, Azure Pipelines names them). */
export const AzurePrRepoName = optionalText("a repository name");

export interface AzureDevOpsHttpOptions {
  /** A personal access token (`pat` or `orchestratorPat`). */
  readonly credentials: Credentials;
  readonly userAgent: string;
  readonly fetch?: FetchLike;
}

export type AzureDevOpsHttp = JsonHttp;

/** Azure DevOps takes a PAT as the password of Basic auth with an empty user name. */
export function basicAuthorization(token: string): string {
  return `Basic ${Buffer.from(`:${token}`).toString("base64")}`;
}

/** A rejected PAT is not always a 401: Azure DevOps may answer 203 or redirect to its sign-in page. */
function signInPage(who: FailureParty) {
  return (response: Response, body: unknown) => {
    const isSignIn = response.status === 203 || (response.status >= 300 && response.status < 400) || (response.ok && body !== undefined && !isJsonResponse(response));
    return isSignIn ? classifyHttpFailure({ status: 401, headers: response.headers, message: "Azure DevOps answered with a sign-in page instead of JSON", who }) : undefined;
  };
}

export function createAzureDevOpsHttp(options: AzureDevOpsHttpOptions): AzureDevOpsHttp {
  const authorization = basicAuthorization(tokenOf(options.credentials));
  return {
    send(request, who, signal, sendOptions) {
      const http = createJsonHttp({ headers: { authorization }, userAgent: options.userAgent, fetch: options.fetch, refuse: signInPage(who) });
      return http.send(request, who, signal, sendOptions);
    },
  };
}

/** A 2xx body that is not what the vendor documents: a permanent error naming who answered it. */
export function unexpectedAnswer(who: FailureParty, what: string): DeliveryError {
  return new DeliveryError(`Azure DevOps for instance ${who.instance} answered ${who.resource} with ${what}`, { permanent: true });
}
