/**
 * The HTTP client every Azure DevOps call goes through (Azure Repos statuses, commits and pull requests; Azure
 * Pipelines plans, timelines and events): a PAT as Basic auth, JSON both ways, our User-Agent, the delivery's
 * AbortSignal, and failures classified by src/http-failure.ts like GitHub's.
 *
 * Plain fetch rather than azure-devops-node-api (reasons in README "Why not azure-devops-node-api"): that
 * client resolves every route through extra discovery calls (OPTIONS `_apis/Location`, resource areas) that
 * are in no published Azure DevOps API description, turns a 404 into a null result (a status posted to a
 * misspelt repository would count as delivered), and cannot be aborted, so the outbox's timeout and shutdown
 * could not cut a hung call.
 */
import { DeliveryError } from "../core/delivery.ts";
import { optionalHttpUrl, optionalText } from "../schema/parts.ts";
import type { Credentials } from "./credentials.ts";
import { apiMessageOf, classifyHttpFailure, toDeliveryError, type FailureParty } from "./http-failure.ts";
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

export interface AzureDevOpsHttp {
  /** Sends the request; resolves with the parsed JSON body (undefined when there is none). */
  send(request: OutboundRequest, who: FailureParty, signal: AbortSignal): Promise<unknown>;
}

/** Azure DevOps takes a PAT as the password of Basic auth with an empty user name. */
export function basicAuthorization(token: string): string {
  return `Basic ${Buffer.from(`:${token}`).toString("base64")}`;
}

function isJson(response: Response): boolean {
  return /\bjson\b/i.test(response.headers.get("content-type") ?? "");
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  if (!isJson(response)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function createAzureDevOpsHttp(options: AzureDevOpsHttpOptions): AzureDevOpsHttp {
  const fetch = options.fetch ?? globalThis.fetch;
  const authorization = basicAuthorization(options.credentials.token);

  return {
    async send(request, who, signal) {
      const headers: Record<string, string> = { accept: "application/json", authorization, "user-agent": options.userAgent };
      if (request.body !== undefined) headers["content-type"] = "application/json";
      let response: Response;
      try {
        response = await fetch(request.url, {
          method: request.method,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          signal,
          redirect: "manual",
        });
      } catch (error) {
        throw toDeliveryError(error, who, signal);
      }
      let body: unknown;
      try {
        body = await readBody(response);
      } catch (error) {
        throw toDeliveryError(error, who, signal);
      }
      // A rejected PAT is not always a 401: Azure DevOps may answer 203 or redirect to its sign-in page.
      const signInPage = response.status === 203 || (response.status >= 300 && response.status < 400) || (response.ok && body !== undefined && !isJson(response));
      if (signInPage) {
        throw classifyHttpFailure({ status: 401, headers: response.headers, message: "Azure DevOps answered with a sign-in page instead of JSON", who });
      }
      if (!response.ok) {
        throw classifyHttpFailure({ status: response.status, headers: response.headers, message: apiMessageOf(body), who });
      }
      return body;
    },
  };
}

/** A 2xx body that is not what the vendor documents: a permanent error naming who answered it. */
export function unexpectedAnswer(who: FailureParty, what: string): DeliveryError {
  return new DeliveryError(`Azure DevOps for instance ${who.instance} answered ${who.resource} with ${what}`, { permanent: true });
}
