/** A described outbound HTTP call: what the dry run logs and what providers send. */
export interface OutboundRequest {
  readonly method: "GET" | "POST" | "PATCH";
  readonly url: string;
  readonly body?: unknown;
}
