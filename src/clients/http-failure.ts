/**
 * The one place that decides whether a failed outbound call is worth retrying (in the manner of
 * argoproj/notifications-engine): 408, 409, 429 and 5xx are retried; any other 4xx is permanent; a rate limit
 * (any 429, a GitHub 403 with `x-ratelimit-remaining: 0` or naming a secondary rate limit, and any retryable
 * answer with `Retry-After`) is retried after the wait it names and never goes dead
 * (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api); network errors and
 * timeouts are retried. Messages name the instance, the service and the resource, and say what to check; they
 * are built from config keys and the API's own message, never from a token.
 */
import { DeliveryError } from "../core/delivery.ts";
import { cutText } from "../observability/logger.ts";

/** Who was called, for the message: never a token, only names. */
export interface FailureParty {
  /** Who answered: `GitHub`, `subscriber spektate`. */
  readonly service: string;
  readonly instance: string;
  /** What was called: `org/manifests`, `http://spektate:5000/api/flux` (without credentials or query). */
  readonly resource: string;
  /** The config key holding the token that was sent, when one was; 401/403 name it as what to check. */
  readonly tokenKey?: string;
  /** What the call needs from the token, said on a 403: `repo:status scope for statuses`. */
  readonly permission?: string;
  /** What a 404 means here and what to check (default: a repository behind gitHubOrgUrl). */
  readonly notFound?: string;
}

export type HeaderBag = Headers | Readonly<Record<string, string | number | readonly string[] | undefined>>;

export interface HttpFailure {
  /** The HTTP status; absent when no answer came (connection refused, DNS, reset, timeout). */
  readonly status?: number;
  readonly headers?: HeaderBag;
  /** The API's own message from the response body, or the network error's message. */
  readonly message?: string;
  readonly who: FailureParty;
  /** True when the call was cut off by the delivery's AbortSignal (timeout or shutdown). */
  readonly aborted?: boolean;
  /** Epoch ms; tests pin it. */
  readonly now?: number;
}

/** GitHub: "If you exceed a secondary rate limit … wait for at least one minute" when no header says how long. */
const SECONDARY_RATE_LIMIT_WAIT_MS = 60_000;
/** An API message is context, not a novel: a proxy's HTML error page is cut here. */
const MESSAGE_LIMIT = 300;

function header(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    return Array.isArray(value) ? value.join(", ") : String(value);
  }
  return undefined;
}

/** `Retry-After` in ms from `now`: delta seconds or an HTTP date (RFC 9110 §10.2.3); undefined when unusable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined; // "-5", "1.5": not a delta and not a date
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function rateLimitResetMs(headers: HeaderBag | undefined, now: number): number | undefined {
  const reset = header(headers, "x-ratelimit-reset");
  if (!reset || !/^\d+$/.test(reset.trim())) return undefined;
  return Math.max(0, Number(reset) * 1000 - now);
}

/** Whitespace collapsed and cut, so one failure is one readable log line. */
function shorten(message: string | undefined): string | undefined {
  const flat = message?.replace(/\s+/g, " ").trim();
  if (!flat) return undefined;
  // Cut before anyone redacts it: the redactor also removes a piece of a secret left at the cut.
  return cutText(flat, MESSAGE_LIMIT);
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** How long a rate limit says to wait, or undefined when the answer is not a rate limit. */
function rateLimitWait(failure: HttpFailure, now: number): number | undefined {
  const { status, headers } = failure;
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = parseRetryAfter(header(headers, "retry-after"), now);
  if (retryAfter !== undefined) return retryAfter;
  if (header(headers, "x-ratelimit-remaining")?.trim() === "0") return rateLimitResetMs(headers, now) ?? SECONDARY_RATE_LIMIT_WAIT_MS;
  // A 429 is a rate limit by definition (RFC 6585), whatever its headers say.
  if (status === 429 || /secondary rate limit|rate limit exceeded/i.test(failure.message ?? "")) return SECONDARY_RATE_LIMIT_WAIT_MS;
  return undefined;
}

function statusExplanation(failure: HttpFailure & { status: number }): string {
  const { who, status } = failure;
  const apiMessage = shorten(failure.message);
  const said = apiMessage ? ` (${who.service} said: ${apiMessage})` : "";
  if (who.tokenKey) {
    if (status === 401) return `the token for instance ${who.instance} is invalid or expired (check ${who.tokenKey})${said}`;
    if (status === 403)
      return `the token lacks permission for ${who.resource}: it needs ${who.permission ?? "access to the repository"} (check ${who.tokenKey})${said}`;
    if (status === 404)
      return who.notFound
        ? `${who.notFound}${said}`
        : `repository ${who.resource} not found or not visible to the token of instance ${who.instance} (check the repository name, gitHubOrgUrl and ${who.tokenKey})`;
  } else {
    if (status === 401 || status === 403) return `${who.resource} refused the request; check whether it expects credentials${said}`;
    if (status === 404) return `${who.resource} not found; check the URL in the config`;
  }
  if (status === 422) return `${who.resource} rejected the request: ${apiMessage ?? "no reason given"}`;
  return `${who.resource}${apiMessage ? `: ${apiMessage}` : ""}`;
}

/** Decides retry versus dead for one failed call and says, for a person, who failed and what to check. */
export function classifyHttpFailure(failure: HttpFailure): DeliveryError {
  const { who, status } = failure;
  const now = failure.now ?? Date.now();
  const from = `${who.service} for instance ${who.instance}`;

  if (status === undefined) {
    const reason = shorten(failure.message) ?? "no response";
    const message = failure.aborted
      ? `no answer from ${from} (${who.resource}) before the delivery timed out or was cancelled; will retry`
      : `could not reach ${from} (${who.resource}): ${reason}; check the URL and that the host is reachable; will retry`;
    return new DeliveryError(message, { permanent: false });
  }

  const rateLimited = rateLimitWait(failure, now);
  if (rateLimited !== undefined) {
    const seconds = Math.ceil(rateLimited / 1000);
    return new DeliveryError(`${status} from ${from}: rate limited on ${who.resource}; waiting ${seconds}s before calling it again`, {
      permanent: false,
      status,
      retryAfterMs: rateLimited,
    });
  }

  const retryable = isRetryableStatus(status);
  const retryAfterMs = retryable ? parseRetryAfter(header(failure.headers, "retry-after"), now) : undefined;
  const next = retryAfterMs !== undefined ? `; waiting ${Math.ceil(retryAfterMs / 1000)}s before calling it again (Retry-After)` : retryable ? "; will retry" : "";
  const message = `${status} from ${from}: ${statusExplanation({ ...failure, status })}${next}`;
  return new DeliveryError(message, { permanent: !retryable, status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

/** A URL as it may appear in a message: no user info, no query (either may hold a credential). */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "<invalid URL>";
  }
}

interface OctokitLikeError {
  readonly status?: unknown;
  readonly message?: unknown;
  readonly response?: { readonly headers?: HeaderBag; readonly data?: unknown };
}

/** The API's own words from a response body: GitHub's `message` (+ `errors[].message`), or the text itself. */
export function apiMessageOf(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data && typeof data === "object" && "message" in data && typeof data.message === "string") {
    const errors = "errors" in data && Array.isArray(data.errors) ? data.errors : [];
    const details = errors
      .map((entry) => (entry && typeof entry === "object" && "message" in entry ? String(entry.message) : JSON.stringify(entry)))
      .filter(Boolean);
    return details.length > 0 ? `${data.message}: ${details.join("; ")}` : data.message;
  }
  return undefined;
}

/**
 * Anything a call threw → a DeliveryError: a DeliveryError passes through; an Octokit RequestError with a
 * response is classified by its status, headers and `response.data.message`; everything else (Octokit's
 * response-less "500" for a network error, fetch's TypeError, an AbortError/TimeoutError) is a network failure.
 */
export function toDeliveryError(error: unknown, who: FailureParty, signal?: AbortSignal): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const candidate = (typeof error === "object" && error !== null ? error : {}) as OctokitLikeError;
  const response = candidate.response;
  if (response && typeof candidate.status === "number") {
    return classifyHttpFailure({ status: candidate.status, headers: response.headers, message: apiMessageOf(response.data), who });
  }
  const aborted = signal?.aborted === true || (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError"));
  const cause = error instanceof Error && error.cause instanceof Error ? `${error.message} (${error.cause.message})` : undefined;
  const message = cause ?? (error instanceof Error ? error.message : String(error));
  return classifyHttpFailure({ message, who, aborted });
}
