/** A described outbound HTTP call: what the dry run logs and what providers send. */
export interface OutboundRequest {
  readonly method: "GET" | "POST" | "PATCH";
  readonly url: string;
  readonly body?: unknown;
  /** When the body is not plain JSON: Azure DevOps' JSON Patch wants `application/json-patch+json`. */
  readonly contentType?: string;
}

/** A configured API root (`gitHubOrgUrl`, `azdoOrgUrl`) without trailing slashes, ready for `${base}/path`. */
export function apiBase(url: string | undefined): string {
  return (url ?? "").replace(/\/+$/, "");
}

/** The fetch a provider calls; tests and the loopback fake pass their own. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
