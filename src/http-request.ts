/** A described outbound HTTP call: what the dry run logs and what providers send. */
export interface OutboundRequest {
  readonly method: "GET" | "POST" | "PATCH";
  readonly url: string;
  readonly body?: unknown;
}

/** A configured API root (`gitHubOrgUrl`, `azdoOrgUrl`) without trailing slashes, ready for `${base}/path`. */
export function apiBase(url: string | undefined): string {
  return (url ?? "").replace(/\/+$/, "");
}
