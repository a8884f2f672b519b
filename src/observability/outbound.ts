/**
 * Outbound HTTP accounting. Every call a provider or subscriber makes goes through one wrapped `fetch`, which
 * reports the answer's class for the call's target (`gitops_connector_outbound_responses_total`). fetch has no
 * argument for the target, so it travels in an AsyncLocalStorage scope: the outbox worker opens one around each
 * delivery attempt (the job's target, src/core/targets.ts) and the abandoned-PR sweep one around each listing (the
 * git target it lists). The scope also keeps the attempt's last HTTP status for the worker's log line.
 * AsyncLocalStorage follows the awaits through Octokit into fetch, in the compiled binary too.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { FetchLike } from "../core/http.ts";

/** An answer's status class; `error` when no answer came, `timeout` when the caller's signal cut the call off. */
export type OutboundClass = "2xx" | "3xx" | "4xx" | "5xx" | "error" | "timeout";
export const OUTBOUND_CLASSES: readonly OutboundClass[] = ["2xx", "3xx", "4xx", "5xx", "error", "timeout"];

/** What the calls made inside one delivery attempt (or sweep listing) are counted under. */
export interface OutboundScope {
  readonly target: string;
  /** The status of the scope's most recent answer; written by the observed fetch. */
  lastStatus?: number;
}

/** Where calls made outside any scope are counted, so they show up instead of vanishing. */
export const NO_TARGET = "none";

const scopes = new AsyncLocalStorage<OutboundScope>();

/** Runs `fn` with the outbound calls it makes (awaited or not) counted under `scope.target`. */
export function withOutboundScope<T>(scope: OutboundScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

export function statusClassOf(status: number): OutboundClass {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

function signalOf(input: string | URL | Request, init: RequestInit | undefined): AbortSignal | undefined {
  return init?.signal ?? (input instanceof Request ? input.signal : undefined);
}

/**
 * Wraps fetch so each call reports its target and class; the call itself is unchanged. A call cut off by its
 * signal is a `timeout`: the outbox's per-attempt timeout or the sweep's, and also a shutdown's abort.
 */
export function observeFetch(report: (target: string, outcome: OutboundClass) => void, fetch?: FetchLike): FetchLike {
  return async (input, init) => {
    const scope = scopes.getStore();
    const target = scope?.target ?? NO_TARGET;
    let response: Response;
    try {
      response = await (fetch ?? globalThis.fetch)(input, init);
    } catch (error) {
      const cutOff = signalOf(input, init)?.aborted === true || (error instanceof Error && error.name === "TimeoutError");
      report(target, cutOff ? "timeout" : "error");
      throw error;
    }
    if (scope) scope.lastStatus = response.status;
    report(target, statusClassOf(response.status));
    return response;
  };
}
