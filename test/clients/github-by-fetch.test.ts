/**
 * The four calls of every deployment go by fetch (src/clients/github.ts `createRestByFetch`), everything else
 * through Octokit. Each must send what Octokit sends — method, path, query, body and the headers GitHub reads —
 * and fail as Octokit fails (status, response headers and data), or statuses, dispatches and their failure
 * handling would change with the transport. Both sides here against one recording server on loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createGitHubCalls, createGitHubClient, type GitHubCalls, type GitHubClientOptions } from "../../src/clients/github.ts";
import { tokenCredentials } from "../../src/clients/credentials.ts";

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | null>;
  readonly body: string;
}

const READ_HEADERS = ["accept", "user-agent", "authorization", "content-type"];
const TOKEN = "ghp_byFetchTestTokenNeverLogged0000000001";
const USER_AGENT = "gitops-connector/test";
let server: ReturnType<typeof Bun.serve>;
let seen: Seen[] = [];

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      seen.push({
        method: request.method,
        path: url.pathname + url.search,
        headers: Object.fromEntries(READ_HEADERS.map((name) => [name, request.headers.get(name)])),
        body: await request.text(),
      });
      if (url.pathname.includes("refused")) {
        return Response.json({ message: "Validation Failed", documentation_url: "https://docs.github.com/rest" }, { status: 422, headers: { "x-ratelimit-remaining": "4999" } });
      }
      if (url.pathname.endsWith("/dispatches")) return new Response(null, { status: 204 });
      return Response.json({ sha: "abc", commit: { message: "deploy/123/abc" }, total_commits: 0, commits: [] }, { status: url.pathname.includes("/statuses/") ? 201 : 200 });
    },
  });
});

afterAll(() => server.stop(true));

const options = (): GitHubClientOptions => ({ baseUrl: `http://127.0.0.1:${server.port}`, credentials: tokenCredentials(TOKEN), userAgent: USER_AGENT });

/** What each side sent for one call, and how it answered or failed. */
async function both(call: (repos: Pick<GitHubCalls["repos"], "createCommitStatus" | "getCommit" | "compareCommitsWithBasehead" | "createDispatchEvent">) => Promise<unknown>) {
  const outcome = async (repos: Parameters<typeof call>[0]) => {
    seen = [];
    try {
      const answer = (await call(repos)) as { status: number; data: unknown };
      return { sent: seen, status: answer.status, data: answer.data };
    } catch (error) {
      const failure = error as { status: number; response: { headers: Headers | Record<string, string>; data: unknown } };
      const headers = failure.response.headers;
      const remaining = headers instanceof Headers ? headers.get("x-ratelimit-remaining") : headers["x-ratelimit-remaining"];
      return { sent: seen, failed: failure.status, remaining, data: failure.response.data };
    }
  };
  const octokit = await outcome(createGitHubClient(options()).rest.repos);
  const byFetch = await outcome(createGitHubCalls(options()).repos);
  return { octokit, byFetch };
}

describe("a deployment's GitHub calls by fetch send and fail as Octokit does", () => {
  const SHA = "0123456789abcdef0123456789abcdef01234567";
  const cases: Record<string, Parameters<typeof both>[0]> = {
    "a status": (repos) => repos.createCommitStatus({ owner: "org", repo: "manifests", sha: SHA, state: "success", context: "flux/apps", description: "done", target_url: "https://example.com/x", headers: { "content-type": "application/json" } }),
    "the commit read": (repos) => repos.getCommit({ owner: "org", repo: "manifests", ref: SHA }),
    "a compare, paged": (repos) => repos.compareCommitsWithBasehead({ owner: "org", repo: "manifests", basehead: `${"a".repeat(40)}...${SHA}`, per_page: 100, page: 2 }),
    "a dispatch": (repos) =>
      repos.createDispatchEvent({ owner: "org", repo: "app-src", event_type: "sync-success", client_payload: { runid: "123", sha: SHA, commitmessage: "deploy/123/x" }, headers: { "content-type": "application/json" } }),
    "a refused status": (repos) => repos.createCommitStatus({ owner: "org", repo: "refused", sha: SHA, state: "failure", context: "flux/apps" }),
    "a refused commit read": (repos) => repos.getCommit({ owner: "org", repo: "refused", ref: SHA }),
  };
  for (const [name, call] of Object.entries(cases)) {
    test(name, async () => {
      const { octokit, byFetch } = await both(call);
      expect(octokit.sent).toHaveLength(1);
      // The user agent is ours alone: Octokit appends its own name and version to it.
      expect(octokit.sent[0]!.headers["user-agent"]).toStartWith(`${USER_AGENT} octokit`);
      expect(byFetch.sent[0]!.headers["user-agent"]).toBe(USER_AGENT);
      const withoutAgent = (side: typeof octokit) => ({ ...side, sent: side.sent.map((request) => ({ ...request, headers: { ...request.headers, "user-agent": null } })) });
      expect(withoutAgent(byFetch)).toEqual(withoutAgent(octokit));
      expect(byFetch.sent[0]!.headers.authorization).toBe(`token ${TOKEN}`);
    });
  }
});
