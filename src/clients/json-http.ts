/**
 * The fetch every REST API without an SDK of ours goes through (Azure DevOps, Gitea, GitLab): JSON both ways, our
 * User-Agent, the provider's authorization header, the delivery's AbortSignal, redirects not followed (a token must
 * not follow a redirect to another host), and failures classified by src/clients/http-failure.ts like GitHub's.
 */
import type { FetchLike, OutboundRequest } from "../core/http.ts";
import type { DeliveryError } from "../core/delivery.ts";
import { apiMessageOf, classifyHttpFailure, toDeliveryError, type FailureParty } from "./http-failure.ts";

export interface JsonHttpOptions {
  /** The authorization header(s): `authorization: token …`, `private-token: …`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly userAgent: string;
  readonly fetch?: FetchLike;
  /** An answer the vendor means as a failure although its status does not say so (Azure DevOps' sign-in page). */
  readonly refuse?: (response: Response, body: unknown) => DeliveryError | undefined;
}

export interface SendOptions {
  /** A failure the caller counts as done (GitLab: a status already in the state asked for). */
  readonly tolerate?: (status: number, body: unknown) => boolean;
}

export interface JsonHttp {
  /** Sends the request; resolves with the parsed JSON body (undefined when there is none, the text when not JSON). */
  send(request: OutboundRequest, who: FailureParty, signal: AbortSignal, options?: SendOptions): Promise<unknown>;
}

export function isJsonResponse(response: Response): boolean {
  return /\bjson\b/i.test(response.headers.get("content-type") ?? "");
}

/** The answer's body: parsed JSON when it says it is JSON and parses, else the text; undefined when empty. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  if (!isJsonResponse(response)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function createJsonHttp(options: JsonHttpOptions): JsonHttp {
  const fetch = options.fetch ?? globalThis.fetch;
  return {
    async send(request, who, signal, sendOptions = {}) {
      const headers: Record<string, string> = { accept: "application/json", "user-agent": options.userAgent, ...options.headers };
      if (request.body !== undefined) headers["content-type"] = request.contentType ?? "application/json";
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
      const refused = options.refuse?.(response, body);
      if (refused) throw refused;
      if (!response.ok && !sendOptions.tolerate?.(response.status, body)) {
        throw classifyHttpFailure({ status: response.status, headers: response.headers, message: apiMessageOf(body), who });
      }
      return body;
    },
  };
}
