/**
 * The Octokit client both GitHub parts (commit statuses, Actions dispatches) share, and the parse of the
 * original's `gitHubOrgUrl` into Octokit's base URL and owner. No retry or throttle plugins: the outbox
 * retries, honouring the rate-limit headers (src/http-failure.ts), so Octokit must fail fast and say why.
 */
import { Octokit } from "@octokit/rest";
import * as v from "valibot";
import { DeliveryError } from "../core/delivery.ts";
import type { Logger } from "../observability/logger.ts";
import { optionalHttpUrl } from "../schema/parts.ts";
import type { Credentials } from "./credentials.ts";
import type { FetchLike } from "../core/http.ts";

export type { FetchLike };

export interface GitHubApiLocation {
  /** Octokit's `baseUrl`: `https://api.github.com`, or `https://ghe.example.com/api/v3` on GitHub Enterprise. */
  readonly baseUrl: string;
  readonly owner: string;
}

/**
 * `https://api.github.com/repos/<owner>` → `{ baseUrl: "https://api.github.com", owner }`; on GitHub Enterprise
 * `https://ghe.example.com/api/v3/repos/<owner>` → baseUrl `https://ghe.example.com/api/v3`. Undefined when the
 * URL does not end in `/repos/<owner>`.
 */
export function parseGitHubOrgUrl(orgUrl: string): GitHubApiLocation | undefined {
  let url: URL;
  try {
    url = new URL(orgUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  const match = /^(.*)\/repos\/([^/]+)\/*$/.exec(url.pathname);
  if (!match || !match[2]) return undefined;
  return { baseUrl: `${url.origin}${match[1] ?? ""}`, owner: decodeURIComponent(match[2]) };
}

const ORG_URL_FORM = "https://api.github.com/repos/<owner> (GitHub Enterprise: https://<host>/api/v3/repos/<owner>)";

/**
 * The `gitHubOrgUrl` config key, shared by the GitHub repository and GitHub Actions: checked at load, so a URL
 * that cannot name a repository fails `check-config` instead of the first delivery.
 */
export const GitHubOrgUrl = v.pipe(
  optionalHttpUrl("https://api.github.com/repos/org"),
  v.check((url) => url === undefined || !URL.canParse(url) || parseGitHubOrgUrl(url) !== undefined, `must look like ${ORG_URL_FORM}`),
);

/** The location, or a permanent error that says how the URL should look (a config mistake, not a network one). */
export function requireGitHubLocation(instanceName: string, orgUrl: string | undefined): GitHubApiLocation {
  const location = orgUrl ? parseGitHubOrgUrl(orgUrl) : undefined;
  if (location) return location;
  throw new DeliveryError(
    `instance ${instanceName}: gitHubOrgUrl ${orgUrl ? `"${orgUrl}" ` : ""}must look like ${ORG_URL_FORM}`,
    { permanent: true },
  );
}

export interface GitHubClientOptions {
  readonly baseUrl: string;
  readonly credentials: Credentials;
  readonly userAgent: string;
  readonly fetch?: FetchLike;
  /** Receives Octokit's own warnings (deprecated endpoints); failures are reported by the caller instead. */
  readonly logger?: Logger;
}

const ignore = () => {};

export function createGitHubClient(options: GitHubClientOptions): Octokit {
  return new Octokit({
    auth: options.credentials.token || undefined,
    baseUrl: options.baseUrl,
    userAgent: options.userAgent,
    // Octokit's request log would print every failure to the console; the outbox worker logs them, once.
    log: { debug: ignore, info: ignore, error: ignore, warn: (message: string) => options.logger?.warn(message) },
    ...(options.fetch ? { request: { fetch: options.fetch } } : {}),
  });
}

/** Sent explicitly on every POST so the body's type does not depend on Octokit's defaults. */
export const JSON_CONTENT_TYPE = { "content-type": "application/json" } as const;
