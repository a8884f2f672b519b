/**
 * A loopback fake of the GitHub and Azure DevOps REST APIs (and of any subscriber): a real HTTP server on
 * 127.0.0.1 that records every request and answers by programmable rules, so providers are tested through real
 * Octokit and fetch.
 *
 * Answer order for each request: `hang()` (wait) → `failNext()` queue → `setHandler()` → routes (`on()`, newest
 * first) → defaults. Defaults, under any path prefix (GitHub Enterprise's `/api/v3` included):
 *   GitHub
 *   POST …/repos/:owner/:repo/statuses/:sha            → 201 with the created status
 *   GET  …/repos/:owner/:repo/commits/:ref             → 200 `{sha, commit: {message}}` (message from `setCommitMessage`)
 *   POST …/repos/:owner/:repo/dispatches               → 204
 *   GET  …/repos/:owner/:repo/commits/:sha/pulls       → 200 `[]`
 *   GET  …/repos/:owner/:repo/pulls                    → 200 `[]`
 *   Azure DevOps (`azureOrgUrl()` is `<url>/org/project`)
 *   POST …/_apis/git/repositories/:repo/commits/:sha/statuses → 201 with the created status
 *   GET  …/_apis/git/repositories/:repo/commits/:sha   → 200 `{commitId, comment}` (comment from `setCommitMessage`,
 *                                                         else DEFAULT_AZURE_COMMIT_MESSAGE)
 *   GET  …/_apis/git/repositories/:repo/pullrequests   → 200 `{count: 0, value: []}`
 *   GET  …/pullRequests/:id/properties                 → 200 the wire format of `setPipelineCallback(id, …)`, else empty
 *   GET  …/_apis/distributedtask/hubs/build/plans/:id  → 200 `{planId, state: "inProgress", owner: {id: 501}}`
 *   GET  …/_apis/build/builds/:id/timeline             → 200 `{records: []}`
 *   POST …/_apis/distributedtask/hubs/build/plans/:id/events → 204
 *   Gitea (`giteaOrgUrl()` is `<url>/api/v1/repos/<owner>`)
 *   POST /api/v1/repos/:owner/:repo/statuses/:sha      → 201 with the created status
 *   GET  /api/v1/repos/:owner/:repo/git/commits/:sha   → 200 `{sha, commit: {message, committer}, parents}` (history or setCommitMessage)
 *   GET  /api/v1/repos/:owner/:repo/commits/:sha/pull  → 404 (no pull request)
 *   GET  /api/v1/repos/:owner/:repo/pulls              → 200 `[]`
 *   GitLab (`gitLabUrl()` is `<url>`)
 *   POST /api/v4/projects/:id/statuses/:sha            → 201 with the created status; like GitLab, 400 "Cannot
 *                                                         transition status via :x from :y" when that status (sha,
 *                                                         name) already has the state asked for
 *   GET  /api/v4/projects/:id/repository/commits/:sha  → 200 `{id, message, parent_ids, committed_date}`
 *   A git history (`setHistory`, oldest first), for every vendor:
 *   GET  …/repos/:owner/:repo/compare/:base...:head    → 200 `git log base..head`, oldest first, paged (per_page,
 *                                                         page), with parents and committer dates; 404 for an unknown commit
 *   GET  …/_apis/git/repositories/:repo/commits?searchCriteria.itemVersion.version=H&…compareVersion.version=B
 *                                                      → 200 `{count, value}` newest first, `parents` unless told not to
 *   (commit reads of a commit in the history answer its message)
 *   GitHub Apps (`setGitHubApp`)
 *   POST …/app/installations/:id/access_tokens        → 201 `{token: "ghs_…", expires_at}` for a JWT the app's key
 *                                                         signed (RS256, iss = app id), else 401; 404 for another
 *                                                         installation. A call with a revoked token (`revokeTokens`)
 *                                                         gets 401 "Bad credentials".
 *   Anything
 *   any other POST/PUT/PATCH                           → 200 `{"ok":true}` (subscribers)
 *   anything else                                      → 404 `{"message":"Not Found"}`
 */

import { createVerify } from "node:crypto";

export interface RecordedRequest {
  readonly method: string;
  /** The URL path, without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON when the body is JSON, else the text; undefined when empty. */
  readonly body: unknown;
  readonly rawBody: string;
  /** Date.now() when the request arrived (its body read). */
  readonly at: number;
  /** The status it was answered with; undefined while it hangs or when the client went away first. */
  answeredWith?: number;
}

export interface FakeAnswer {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** An object/array is sent as JSON; a string as text; undefined as no body. */
  readonly body?: unknown;
}

export type RequestPredicate = (request: RecordedRequest) => boolean;
/** Returns an answer, or undefined to fall through to the routes and defaults. */
export type FakeHandler = (request: RecordedRequest) => FakeAnswer | undefined | Promise<FakeAnswer | undefined>;

/** One commit of the fake's git history. */
export interface FakeCommit {
  readonly sha: string;
  readonly parents: readonly string[];
  readonly message?: string;
  /** ISO 8601; default: now. */
  readonly date?: string;
}

export interface FakeApi {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** `<url>/repos/<owner>`: what an instance's gitHubOrgUrl points at. */
  orgUrl(owner?: string, prefix?: string): string;
  /** `<url>/api/v1/repos/<owner>`: what an instance's giteaOrgUrl points at. */
  giteaOrgUrl(owner?: string): string;
  /** `<url>`: what an instance's gitLabUrl points at (its API is `<url>/api/v4`). */
  gitLabUrl(): string;
  /** `<url>/<org>/<project>`: what an instance's azdoOrgUrl points at. */
  azureOrgUrl(org?: string, project?: string): string;
  /** `<url>/<org>/`: what a pipeline's $(System.CollectionUri) would be. */
  azureCollectionUrl(org?: string): string;
  /** Every request so far, oldest first, optionally filtered. */
  requests(filter?: RequestPredicate): RecordedRequest[];
  /** Resolves with the first recorded request matching (already arrived or arriving); rejects after timeoutMs. */
  waitFor(predicate: RequestPredicate, timeoutMs?: number): Promise<RecordedRequest>;
  /** Resolves once `count` matching requests have arrived. */
  waitForCount(count: number, predicate: RequestPredicate, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** A default answer for a method and path (`/repos/:owner/:repo/statuses/:sha`, `*` for one segment, or a RegExp). */
  on(method: string, path: string | RegExp, answer: FakeAnswer | FakeHandler): void;
  /** The next n requests (matching `when`, default all) get this answer. */
  failNext(n: number, answer: FakeAnswer, when?: RequestPredicate): void;
  /** Requests (matching `when`, default all) wait, recorded, until unhang() or the client aborts. */
  hang(when?: RequestPredicate): void;
  unhang(): void;
  /** Answers before routes and defaults; undefined removes it. */
  setHandler(handler: FakeHandler | undefined): void;
  /** The repository's history, oldest first; `azureParents: false` leaves `parents` out of Azure's commit lists. */
  setHistory(commits: readonly FakeCommit[], options?: { azureParents?: boolean }): void;
  /** The message the default GET commit answers (GitHub and Azure DevOps) carry for this sha. */
  setCommitMessage(sha: string, message: string): void;
  /** The `callback-task-id` property the default Azure PR properties answer carries for this PR (object → JSON text). */
  setPipelineCallback(pullRequest: number, callback: unknown): void;
  /** Issues installation tokens for this app: the JWT must verify with `publicKey` (PEM). */
  setGitHubApp(app: { appId: string; installationId: string; publicKey: string; tokenLifetimeMs?: number }): void;
  /** The installation tokens issued so far, oldest first. */
  issuedTokens(): string[];
  /** Every token issued so far now gets 401 "Bad credentials". */
  revokeTokens(): void;
  /** Forgets requests and every rule (routes, failNext, hang, handler, commit messages). */
  reset(): void;
  stop(): Promise<void>;
}

export const DEFAULT_COMMIT_MESSAGE = "Merge pull request #42 from org/deploy/4183912345/0a1b2c3d4e5f60718293a4b5c6d7e8f901234567/dev";
export const DEFAULT_AZURE_COMMIT_MESSAGE = "Merged PR 7: Deploy app-src 4183912345 to dev";

/** Matchers for the common GitHub calls, for waitFor/requests. */
export const isStatusPost: RequestPredicate = (r) => r.method === "POST" && /\/repos\/[^/]+\/[^/]+\/statuses\/[^/]+$/.test(r.path);
export const isCommitRead: RequestPredicate = (r) => r.method === "GET" && /\/repos\/[^/]+\/[^/]+\/commits\/[^/]+$/.test(r.path);
export const isDispatch: RequestPredicate = (r) => r.method === "POST" && /\/repos\/[^/]+\/[^/]+\/dispatches$/.test(r.path);
export const isPullsOfCommit: RequestPredicate = (r) => r.method === "GET" && /\/repos\/[^/]+\/[^/]+\/commits\/[^/]+\/pulls$/.test(r.path);
export const isPullRequestList: RequestPredicate = (r) => r.method === "GET" && /\/repos\/[^/]+\/[^/]+\/pulls$/.test(r.path);
export const isPullRequestRead: RequestPredicate = (r) => r.method === "GET" && /\/repos\/[^/]+\/[^/]+\/pulls\/\d+$/.test(r.path);
export const isGiteaStatusPost: RequestPredicate = (r) => r.method === "POST" && /^\/api\/v1\/repos\/[^/]+\/[^/]+\/statuses\/[^/]+$/.test(r.path);
export const isGiteaCommitRead: RequestPredicate = (r) => r.method === "GET" && /^\/api\/v1\/repos\/[^/]+\/[^/]+\/git\/commits\/[^/]+$/.test(r.path);
export const isGitLabStatusPost: RequestPredicate = (r) => r.method === "POST" && /^\/api\/v4\/projects\/[^/]+\/statuses\/[^/]+$/.test(r.path);
export const isGitLabCommitRead: RequestPredicate = (r) => r.method === "GET" && /^\/api\/v4\/projects\/[^/]+\/repository\/commits\/[^/]+$/.test(r.path);
export const isTokenExchange: RequestPredicate = (r) => r.method === "POST" && /\/app\/installations\/[^/]+\/access_tokens$/.test(r.path);
export const isAzureStatusPost: RequestPredicate = (r) => r.method === "POST" && /\/_apis\/git\/repositories\/[^/]+\/commits\/[^/]+\/statuses$/.test(r.path);
export const isAzureCommitRead: RequestPredicate = (r) => r.method === "GET" && /\/_apis\/git\/repositories\/[^/]+\/commits\/[^/]+$/.test(r.path);
export const isAzurePullRequestList: RequestPredicate = (r) => r.method === "GET" && /\/_apis\/git\/repositories\/[^/]+\/pullrequests$/i.test(r.path);
export const isAzurePropertiesRead: RequestPredicate = (r) => r.method === "GET" && /\/pullRequests\/\d+\/properties$/i.test(r.path);
export const isPlanRead: RequestPredicate = (r) => r.method === "GET" && /\/_apis\/distributedtask\/hubs\/build\/plans\/[^/]+$/.test(r.path);
export const isTimelineRead: RequestPredicate = (r) => r.method === "GET" && /\/_apis\/build\/builds\/[^/]+\/timeline$/.test(r.path);
export const isPlanEvent: RequestPredicate = (r) => r.method === "POST" && /\/_apis\/distributedtask\/hubs\/build\/plans\/[^/]+\/events$/.test(r.path);

interface Route {
  readonly method: string;
  readonly path: RegExp;
  readonly answer: FakeAnswer | FakeHandler;
}

function toPathPattern(path: string | RegExp): RegExp {
  if (path instanceof RegExp) return path;
  const escaped = path
    .split("/")
    .map((segment) => (segment.startsWith(":") || segment === "*" ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${escaped}$`);
}

function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toResponse(answer: FakeAnswer): Response {
  const status = answer.status ?? 200;
  const headers = new Headers(answer.headers);
  if (answer.body === undefined || status === 204 || status === 304) return new Response(null, { status, headers });
  if (typeof answer.body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(answer.body, { status, headers });
  }
  if (!headers.has("content-type")) headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(answer.body), { status, headers });
}

export function startFakeApi(): FakeApi {
  let recorded: RecordedRequest[] = [];
  let routes: Route[] = [];
  let failures: Array<{ remaining: number; answer: FakeAnswer; when: RequestPredicate }> = [];
  let hangWhen: RequestPredicate | undefined;
  let hanging = new Set<() => void>();
  let handler: FakeHandler | undefined;
  let commitMessages = new Map<string, string>();
  let pipelineCallbacks = new Map<number, unknown>();
  let history: readonly FakeCommit[] = [];
  /** `history` by sha: a benchmark's history of thousands of commits made every lookup a walk of it. */
  let historyBySha = new Map<string, FakeCommit>();
  let azureParents = true;

  /** Every commit reachable from `sha` (itself included). */
  const ancestorsOf = (sha: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [sha];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(historyBySha.get(next)?.parents ?? []));
    }
    return seen;
  };
  /** `git log base..head` in history order (oldest first); undefined when either commit is unknown. */
  const logBetween = (base: string, head: string): FakeCommit[] | undefined => {
    const known = (sha: string) => historyBySha.has(sha);
    if (!known(base) || !known(head)) return undefined;
    const excluded = ancestorsOf(base);
    const included = ancestorsOf(head);
    return history.filter((commit) => included.has(commit.sha) && !excluded.has(commit.sha));
  };
  const messageOf = (sha: string) => historyBySha.get(sha)?.message ?? commitMessages.get(sha);
  /** Each is told of a request when it is recorded and again when it is answered (predicates may look at answeredWith). */
  let waiters = new Set<(request: RecordedRequest) => void>();
  let statusIds = 1;
  let gitHubApp: { appId: string; installationId: string; publicKey: string; tokenLifetimeMs?: number } | undefined;
  let issued: string[] = [];
  let revoked = new Set<string>();
  /** An RS256 JWT signed by the app's key, issued by the app, not expired. */
  const isAppJwt = (authorization: string | undefined): boolean => {
    const jwt = /^bearer (.+)$/i.exec(authorization ?? "")?.[1];
    if (!jwt || !gitHubApp) return false;
    const [header = "", payload = "", signature = ""] = jwt.split(".");
    const verifier = createVerify("RSA-SHA256");
    verifier.update(`${header}.${payload}`);
    if (!verifier.verify(gitHubApp.publicKey, Buffer.from(signature, "base64url"))) return false;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { iss?: unknown; exp?: number };
    return String(claims.iss) === gitHubApp.appId && typeof claims.exp === "number" && claims.exp * 1000 > Date.now();
  };
  /** GitHub's last state per `project|sha|name`, for its same-state refusal. */
  let gitLabStates = new Map<string, string>();
  const dateOf = (sha: string) => historyBySha.get(sha)?.date ?? new Date().toISOString();
  const parentsOf = (sha: string) => historyBySha.get(sha)?.parents ?? [];

  const defaults: Route[] = [
    {
      method: "POST",
      path: /\/app\/installations\/[^/]+\/access_tokens$/,
      answer: (request) => {
        if (!isAppJwt(request.headers.authorization)) return { status: 401, body: { message: "A JSON web token could not be decoded", documentation_url: "https://docs.github.com/rest" } };
        if (request.path.split("/").at(-2) !== gitHubApp?.installationId) return { status: 404, body: { message: "Not Found" } };
        const token = `ghs_fake${String(issued.length + 1).padStart(4, "0")}${"x".repeat(28)}`;
        issued.push(token);
        const expiresAt = new Date(Date.now() + (gitHubApp?.tokenLifetimeMs ?? 3_600_000)).toISOString();
        return { status: 201, body: { token, expires_at: expiresAt, permissions: { statuses: "write", contents: "read" }, repository_selection: "all" } };
      },
    },
    {
      method: "GET",
      path: /^\/api\/v1\/repos\/[^/]+\/[^/]+\/git\/commits\/[^/]+$/,
      answer: (request) => {
        const sha = decodeURIComponent(request.path.split("/").pop() ?? "");
        const message = messageOf(sha) ?? DEFAULT_COMMIT_MESSAGE;
        return { status: 200, body: { sha, commit: { message, committer: { name: "fake", email: "fake@example.com", date: dateOf(sha) } }, parents: parentsOf(sha).map((parent) => ({ sha: parent })) } };
      },
    },
    { method: "GET", path: /^\/api\/v1\/repos\/[^/]+\/[^/]+\/commits\/[^/]+\/pull$/, answer: { status: 404, body: { message: "pull request does not exist", url: "https://gitea.example.com/api/swagger" } } },
    { method: "GET", path: /^\/api\/v1\/repos\/[^/]+\/[^/]+\/pulls$/, answer: { status: 200, body: [] } },
    {
      method: "POST",
      path: /^\/api\/v4\/projects\/[^/]+\/statuses\/[^/]+$/,
      answer: (request) => {
        const body = (request.body ?? {}) as { state?: string; name?: string };
        const key = `${request.path}|${body.name ?? "default"}`;
        const last = gitLabStates.get(key);
        if (last !== undefined && last === body.state) return { status: 400, body: { message: `Cannot transition status via :${body.state} from :${last}` } };
        gitLabStates.set(key, body.state ?? "pending");
        return { status: 201, body: { id: statusIds++, sha: request.path.split("/").pop(), status: body.state, name: body.name, created_at: new Date().toISOString() } };
      },
    },
    {
      method: "GET",
      path: /^\/api\/v4\/projects\/[^/]+\/repository\/commits\/[^/]+$/,
      answer: (request) => {
        const sha = decodeURIComponent(request.path.split("/").pop() ?? "");
        return { status: 200, body: { id: sha, short_id: sha.slice(0, 8), message: messageOf(sha) ?? DEFAULT_COMMIT_MESSAGE, parent_ids: parentsOf(sha), committed_date: dateOf(sha) } };
      },
    },
    {
      method: "POST",
      path: /\/repos\/[^/]+\/[^/]+\/statuses\/[^/]+$/,
      answer: (request) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        return { status: 201, body: { id: statusIds++, url: `${base}${request.path}`, created_at: new Date().toISOString(), ...body } };
      },
    },
    {
      method: "GET",
      path: /\/repos\/[^/]+\/[^/]+\/commits\/[^/]+$/,
      answer: (request) => {
        const sha = decodeURIComponent(request.path.split("/").pop() ?? "");
        return { status: 200, body: { sha, commit: { message: messageOf(sha) ?? DEFAULT_COMMIT_MESSAGE } } };
      },
    },
    {
      method: "GET",
      path: /\/repos\/[^/]+\/[^/]+\/compare\/[^/]+$/,
      answer: (request) => {
        const [base = "", head = ""] = decodeURIComponent(request.path.split("/").pop() ?? "").split("...");
        const commits = logBetween(base, head);
        if (!commits) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest/commits/commits#compare-two-commits" } };
        const perPage = Number(request.query.per_page ?? 250);
        const page = Number(request.query.page ?? 1);
        const behind = logBetween(head, base)?.length ?? 0;
        return {
          status: 200,
          body: {
            status: commits.length === 0 ? (behind === 0 ? "identical" : "behind") : behind === 0 ? "ahead" : "diverged",
            ahead_by: commits.length,
            behind_by: behind,
            total_commits: commits.length,
            commits: commits.slice((page - 1) * perPage, page * perPage).map((commit) => ({
              sha: commit.sha,
              commit: { message: commit.message ?? "", committer: { name: "fake", email: "fake@example.com", date: commit.date ?? new Date().toISOString() } },
              parents: commit.parents.map((sha) => ({ sha })),
            })),
            files: [],
          },
        };
      },
    },
    { method: "POST", path: /\/repos\/[^/]+\/[^/]+\/dispatches$/, answer: { status: 204 } },
    { method: "GET", path: /\/repos\/[^/]+\/[^/]+\/commits\/[^/]+\/pulls$/, answer: { status: 200, body: [] } },
    { method: "GET", path: /\/repos\/[^/]+\/[^/]+\/pulls$/, answer: { status: 200, body: [] } },
    {
      method: "POST",
      path: /\/_apis\/git\/repositories\/[^/]+\/commits\/[^/]+\/statuses$/,
      answer: (request) => ({ status: 201, body: { id: statusIds++, creationDate: new Date().toISOString(), ...(request.body as object) } }),
    },
    {
      method: "GET",
      path: /\/_apis\/git\/repositories\/[^/]+\/commits\/[^/]+$/,
      answer: (request) => {
        const sha = decodeURIComponent(request.path.split("/").pop() ?? "");
        return { status: 200, body: { commitId: sha, comment: messageOf(sha) ?? DEFAULT_AZURE_COMMIT_MESSAGE } };
      },
    },
    {
      method: "GET",
      path: /\/_apis\/git\/repositories\/[^/]+\/commits$/,
      answer: (request) => {
        const head = request.query["searchCriteria.itemVersion.version"] ?? "";
        const base = request.query["searchCriteria.compareVersion.version"] ?? "";
        const commits = logBetween(base, head);
        if (!commits) return { status: 404, body: { message: `TF401175: The version descriptor <Commit: ${head}> could not be resolved to a version in the repository` } };
        const top = Number(request.query["searchCriteria.$top"] ?? 100);
        const value = [...commits].reverse().slice(0, top).map((commit) => ({
          commitId: commit.sha,
          comment: commit.message ?? "",
          committer: { name: "fake", email: "fake@example.com", date: commit.date ?? new Date().toISOString() },
          ...(azureParents ? { parents: commit.parents } : {}),
        }));
        return { status: 200, body: { count: value.length, value } };
      },
    },
    { method: "GET", path: /\/_apis\/git\/repositories\/[^/]+\/pullrequests$/i, answer: { status: 200, body: { count: 0, value: [] } } },
    {
      method: "GET",
      path: /\/pullRequests\/\d+\/properties$/i,
      answer: (request) => {
        const pullRequest = Number(request.path.split("/").at(-2));
        const callback = pipelineCallbacks.get(pullRequest);
        if (callback === undefined) return { status: 200, body: { count: 0, value: {} } };
        const value = typeof callback === "string" ? callback : JSON.stringify(callback);
        return { status: 200, body: { count: 1, value: { "callback-task-id": { $type: "System.String", $value: value } } } };
      },
    },
    {
      method: "GET",
      path: /\/_apis\/distributedtask\/hubs\/build\/plans\/[^/]+$/,
      answer: (request) => ({ status: 200, body: { planId: request.path.split("/").pop(), state: "inProgress", owner: { id: 501 } } }),
    },
    { method: "GET", path: /\/_apis\/build\/builds\/[^/]+\/timeline$/, answer: { status: 200, body: { records: [] } } },
    { method: "POST", path: /\/_apis\/distributedtask\/hubs\/build\/plans\/[^/]+\/events$/, answer: { status: 204 } },
    { method: "POST", path: /.*/, answer: { status: 200, body: { ok: true } } },
    { method: "PUT", path: /.*/, answer: { status: 200, body: { ok: true } } },
    { method: "PATCH", path: /.*/, answer: { status: 200, body: { ok: true } } },
  ];

  const notFound: FakeAnswer = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };

  async function answerFrom(route: Route, request: RecordedRequest): Promise<FakeAnswer | undefined> {
    return typeof route.answer === "function" ? route.answer(request) : route.answer;
  }

  async function decide(request: RecordedRequest): Promise<FakeAnswer> {
    const presented = /^token (.+)$/i.exec(request.headers.authorization ?? "")?.[1];
    if (presented && revoked.has(presented)) return { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" } };
    const failure = failures.find((entry) => entry.remaining > 0 && entry.when(request));
    if (failure) {
      failure.remaining--;
      failures = failures.filter((entry) => entry.remaining > 0);
      return failure.answer;
    }
    const handled = handler ? await handler(request) : undefined;
    if (handled) return handled;
    for (const route of [...routes].reverse()) {
      if (route.method !== request.method || !route.path.test(request.path)) continue;
      const answer = await answerFrom(route, request);
      if (answer) return answer;
    }
    for (const route of defaults) {
      if (route.method !== request.method || !route.path.test(request.path)) continue;
      const answer = await answerFrom(route, request);
      if (answer) return answer;
    }
    return notFound;
  }

  /** Waits until unhang() or the client's abort; true when the client is gone. */
  function waitWhileHanging(signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(true);
      const release = () => {
        hanging.delete(release);
        signal.removeEventListener("abort", onAbort);
        resolve(false);
      };
      const onAbort = () => {
        hanging.delete(release);
        resolve(true);
      };
      hanging.add(release);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(incoming) {
      const url = new URL(incoming.url);
      const rawBody = await incoming.text();
      const request: RecordedRequest = {
        method: incoming.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries([...incoming.headers].map(([name, value]) => [name.toLowerCase(), value])),
        body: parseBody(rawBody),
        rawBody,
        at: Date.now(),
      };
      recorded.push(request);
      for (const wake of [...waiters]) wake(request);
      if (hangWhen?.(request)) {
        const gone = await waitWhileHanging(incoming.signal);
        if (gone) return new Response(null, { status: 499 });
      }
      const answer = await decide(request);
      request.answeredWith = answer.status ?? 200;
      for (const wake of [...waiters]) wake(request); // predicates may look at answeredWith
      return toResponse(answer);
    },
  });

  const base = `http://127.0.0.1:${server.port}`;

  function waitForCount(count: number, predicate: RequestPredicate, timeoutMs = 2_000): Promise<RecordedRequest[]> {
    return new Promise((resolve, reject) => {
      // Only the request a wake-up names can have changed: looking at it alone keeps a wait for 10,000 requests
      // linear (a benchmark's fake answering 10,000 statuses spent most of its time re-filtering them all).
      const matched = new Set(recorded.filter(predicate));
      const settle = () => {
        if (matched.size < count) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(recorded.filter((request) => matched.has(request)).slice(0, count));
        return true;
      };
      const check = (request: RecordedRequest) => {
        if (predicate(request)) matched.add(request);
        else matched.delete(request);
        settle();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const seen = recorded.map((r) => `${r.method} ${r.path}`).join(", ") || "none";
        reject(new Error(`fake API: expected ${count} matching request(s) within ${timeoutMs}ms; got ${recorded.filter(predicate).length} (all requests: ${seen})`));
      }, timeoutMs);
      if (!settle()) waiters.add(check);
    });
  }

  return {
    url: base,
    port: server.port ?? 0,
    orgUrl: (owner = "org", prefix = "") => `${base}${prefix}/repos/${owner}`,
    giteaOrgUrl: (owner = "org") => `${base}/api/v1/repos/${owner}`,
    gitLabUrl: () => base,
    azureOrgUrl: (org = "org", project = "project") => `${base}/${org}/${project}`,
    azureCollectionUrl: (org = "org") => `${base}/${org}/`,
    requests: (filter) => (filter ? recorded.filter(filter) : [...recorded]),
    waitFor: async (predicate, timeoutMs) => (await waitForCount(1, predicate, timeoutMs))[0]!,
    waitForCount,
    on(method, path, answer) {
      routes.push({ method: method.toUpperCase(), path: toPathPattern(path), answer });
    },
    failNext(n, answer, when = () => true) {
      if (n > 0) failures.push({ remaining: n, answer, when });
    },
    hang(when = () => true) {
      hangWhen = when;
    },
    unhang() {
      hangWhen = undefined;
      for (const release of [...hanging]) release();
    },
    setHandler(next) {
      handler = next;
    },
    setHistory(commits, options = {}) {
      history = commits;
      historyBySha = new Map();
      for (const commit of commits) if (!historyBySha.has(commit.sha)) historyBySha.set(commit.sha, commit); // the first, as find() had it
      azureParents = options.azureParents ?? true;
    },
    setCommitMessage(sha, message) {
      commitMessages.set(sha, message);
    },
    setPipelineCallback(pullRequest, callback) {
      pipelineCallbacks.set(pullRequest, callback);
    },
    setGitHubApp(app) {
      gitHubApp = app;
    },
    issuedTokens: () => [...issued],
    revokeTokens() {
      for (const token of issued) revoked.add(token);
    },
    reset() {
      recorded = [];
      routes = [];
      failures = [];
      handler = undefined;
      commitMessages = new Map();
      pipelineCallbacks = new Map();
      history = [];
      historyBySha = new Map();
      azureParents = true;
      gitLabStates = new Map();
      gitHubApp = undefined;
      issued = [];
      revoked = new Set();
      hangWhen = undefined;
      for (const release of [...hanging]) release();
      hanging = new Set();
    },
    async stop() {
      hangWhen = undefined;
      for (const release of [...hanging]) release();
      waiters = new Set();
      await server.stop(true);
    },
  };
}
