/**
 * Names of delivery targets. A target is the unit retries and rate limits apply to (one repository API, one
 * orchestrator, one subscriber), so one failing target never holds up another. Each git provider and
 * orchestrator names its own (src/git/<provider>.ts, src/orchestrators/<name>.ts).
 */

/** Host and path only: a scheme says nothing, and user info (`user:token@`) must never reach a label or log. */
export const withoutScheme = (url: string | undefined) =>
  (url ?? "").replace(/^[a-z]+:\/\//i, "").replace(/^[^/@]*@/, "").replace(/\/+$/, "");

/** `subscriber:spektate`. */
export function subscriberTargetOf(subscriberName: string): string {
  return `subscriber:${subscriberName}`;
}

/** `org/repo` from an org URL's last path segment and a repository name, for one-line descriptions. */
export function shortRepoLabel(orgUrl: string | undefined, repo: string | undefined): string {
  const owner = orgUrl && URL.canParse(orgUrl) ? new URL(orgUrl).pathname.split("/").filter(Boolean).at(-1) : undefined;
  return [owner, repo].filter(Boolean).join("/") || "?";
}
