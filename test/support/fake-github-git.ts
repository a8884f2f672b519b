/**
 * A loopback GitHub that keeps a real repository (git-model.ts): the Git Data API (refs, trees, blobs, commits),
 * contents, compare, pulls (list, create, get, update, merge), the PRs of a commit, combined statuses, and the two
 * GraphQL operations promotion sends. It behaves like GitHub where promotion's safety depends on it: creating an
 * existing ref is 422, a non-forced move that is not a fast forward is 422, a PR whose head is moved into its base
 * is closed, a second PR for one head is 422, `commits/{sha}/pulls` can lag behind a merge. With `mirrorTo`, each
 * request is also sent to a contract peer (see `mirror`).
 */
import { gitSha, GitModel, type ModelPullRequest } from "./git-model.ts";

export interface GitHubSettings {
  autoMergeAllowed: boolean;
  /** A protection rule with a required check on the base (auto-merge needs one). */
  protectedBase: boolean;
  /** What GraphQL says of a PR's mergeability. */
  mergeStateStatus: string;
  /** `commits/{sha}/pulls` answers [] this many more times. */
  pullsOfCommitLag: number;
}

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly body: any;
}

export interface FakeGitHub {
  readonly url: string;
  readonly model: GitModel;
  readonly settings: GitHubSettings;
  readonly calls: RecordedCall[];
  readonly graphqlBodies: { query: string; variables: Record<string, unknown> }[];
  /** Calls that change something: what --dry-run must never make. */
  writes(): RecordedCall[];
  /** Fail the next request whose `METHOD /path` matches, with this status (and optional headers). */
  failNext(pattern: RegExp, status: number, headers?: Record<string, string>, message?: string): void;
  stop(): void;
}

const OWNER = "org";

/**
 * A copy of a request sent to a contract peer (Prism serving the vendor's description), whose journal then says
 * whether the vendor would accept it: the fake keeps the state, the peer judges the call. GraphQL is not mirrored
 * (no OpenAPI describes it); its bodies are checked against GitHub's published schema instead.
 */
/** A loopback server that records each request (and mirrors it when told) before `answer` answers it. */
export function serveRecording(calls: RecordedCall[], mirrorTo: string | undefined, answer: (request: Request, url: URL, body: any) => Response) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const text = await request.text();
      const body = text === "" ? undefined : JSON.parse(text);
      calls.push({ method: request.method, path: url.pathname, body });
      if (mirrorTo !== undefined) await mirror(mirrorTo, request, url, text);
      return answer(request, url, body);
    },
  });
}

async function mirror(peerUrl: string, request: Request, url: URL, body: string): Promise<void> {
  if (/graphql$/.test(url.pathname)) return;
  const headers: Record<string, string> = {};
  for (const name of ["authorization", "content-type", "accept", "user-agent"]) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const answer = await fetch(`${peerUrl}${url.pathname}${url.search}`, { method: request.method, headers, body: body === "" ? undefined : body });
  await answer.arrayBuffer();
}

export function startFakeGitHub(model: GitModel, settings: Partial<GitHubSettings> = {}, mirrorTo?: string): FakeGitHub {
  const config: GitHubSettings = { autoMergeAllowed: true, protectedBase: true, mergeStateStatus: "BLOCKED", pullsOfCommitLag: 0, ...settings };
  const calls: RecordedCall[] = [];
  const graphqlBodies: { query: string; variables: Record<string, unknown> }[] = [];
  const failures: { pattern: RegExp; status: number; headers: Record<string, string>; message?: string }[] = [];
  /** tree sha → the whole file set it stands for, and the folder it is. */
  const trees = new Map<string, { files: ReadonlyMap<string, string>; folder: string }>();
  const commitTree = new Map<string, string>();

  function rootTree(commit: string): string {
    let sha = commitTree.get(commit);
    if (sha === undefined) {
      sha = gitSha(`tree:${commit}`);
      trees.set(sha, { files: model.files(commit), folder: "" });
      commitTree.set(commit, sha);
    }
    return sha;
  }

  function subtree(files: ReadonlyMap<string, string>, folder: string): string {
    const sha = gitSha(`tree:${folder}:${[...files].filter(([p]) => p.startsWith(folder)).map(([p, t]) => `${p}\0${t}`).join("\n")}`);
    trees.set(sha, { files, folder });
    return sha;
  }

  function treeEntries(tree: { files: ReadonlyMap<string, string>; folder: string }, recursive: boolean) {
    const entries = new Map<string, { path: string; mode: string; type: string; sha: string }>();
    for (const [path, text] of tree.files) {
      if (!path.startsWith(tree.folder)) continue;
      const rest = path.slice(tree.folder.length);
      const parts = rest.split("/");
      if (parts.length === 1 || recursive) {
        for (let depth = 1; recursive && depth < parts.length; depth += 1) {
          const dir = parts.slice(0, depth).join("/");
          entries.set(dir, { path: dir, mode: "040000", type: "tree", sha: subtree(tree.files, `${tree.folder}${dir}/`) });
        }
        entries.set(rest, { path: rest, mode: "100644", type: "blob", sha: blobSha(text) });
      } else {
        entries.set(parts[0]!, { path: parts[0]!, mode: "040000", type: "tree", sha: subtree(tree.files, `${tree.folder}${parts[0]}/`) });
      }
    }
    return [...entries.values()];
  }

  const blobs = new Map<string, string>();
  function blobSha(text: string): string {
    const sha = gitSha(`blob ${Buffer.byteLength(text)}\0${text}`);
    blobs.set(sha, text);
    return sha;
  }

  function pullJson(pr: ModelPullRequest) {
    const headSha = model.branches.get(pr.branch) ?? pr.mergeCommit ?? "";
    return {
      number: pr.number,
      node_id: `PR_${pr.number}`,
      title: pr.title,
      body: pr.body,
      state: pr.state === "open" ? "open" : "closed",
      html_url: `https://github.com/${OWNER}/manifests/pull/${pr.number}`,
      merged_at: pr.mergedAt ?? null,
      merge_commit_sha: pr.mergeCommit ?? null,
      head: { ref: pr.branch, sha: headSha, label: `${OWNER}:${pr.branch}` },
      base: { ref: pr.base, sha: model.branches.get(pr.base) ?? "" },
    };
  }

  /** GitHub closes an open PR whose head becomes an ancestor of its base: it reads as merged. */
  function closeSwallowedPullRequests(): void {
    for (const pr of model.pullRequests) {
      const head = model.branches.get(pr.branch);
      const base = model.branches.get(pr.base);
      if (pr.state === "open" && head !== undefined && base !== undefined && model.isAncestor(head, base)) pr.state = "closed";
    }
  }

  const json = (status: number, body: unknown) => Response.json(body, { status });
  const notFound = () => json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });

  function graphql(body: { query: string; variables: Record<string, unknown> }): Response {
    graphqlBodies.push(body);
    const { query, variables } = body;
    if (query.includes("enablePullRequestAutoMerge")) {
      const number = Number(String(variables.pullRequestId).replace("PR_", ""));
      if (!config.autoMergeAllowed) return json(200, { data: { enablePullRequestAutoMerge: null }, errors: [{ type: "UNPROCESSABLE", message: "Auto merge is not allowed for this repository" }] });
      if (!config.protectedBase) return json(200, { data: { enablePullRequestAutoMerge: null }, errors: [{ type: "UNPROCESSABLE", message: "Pull request Protected branch rules not configured for this branch" }] });
      const pr = model.pull(number);
      pr.autoMerge = { method: String(variables.mergeMethod) };
      return json(200, { data: { enablePullRequestAutoMerge: { pullRequest: { number, autoMergeRequest: { enabledAt: model.now() } } } } });
    }
    if (query.includes("autoMergeAllowed")) {
      const pr = model.pull(Number(variables.number));
      return json(200, {
        data: {
          repository: {
            autoMergeAllowed: config.autoMergeAllowed,
            pullRequest: { id: `PR_${pr.number}`, mergeStateStatus: config.mergeStateStatus, viewerCanEnableAutoMerge: config.autoMergeAllowed, autoMergeRequest: pr.autoMerge ? { enabledAt: model.now() } : null },
          },
        },
      });
    }
    return json(200, { errors: [{ message: "unknown query" }] });
  }

  function route(method: string, fullPath: string, query: URLSearchParams, body: any): Response {
    // GitHub Enterprise: REST under /api/v3, GraphQL at /api/graphql.
    const path = fullPath.replace(/^\/api\/v3(?=\/)/, "").replace(/^\/api\/graphql$/, "/graphql");
    if (method === "POST" && path === "/graphql") return graphql(body);
    const match = /^\/repos\/[^/]+\/[^/]+\/(.*)$/.exec(path);
    if (match === null) return notFound();
    const rest = match[1]!;
    let m: RegExpExecArray | null;

    if ((m = /^git\/ref\/(.+)$/.exec(rest)) && method === "GET") {
      const branch = decodeURIComponent(m[1]!).replace(/^heads\//, "");
      const sha = model.branches.get(branch);
      return sha === undefined ? notFound() : json(200, { ref: `refs/heads/${branch}`, object: { sha, type: "commit" } });
    }
    if (rest === "git/refs" && method === "POST") {
      const branch = String(body.ref).replace(/^refs\/heads\//, "");
      if (model.branches.has(branch)) return json(422, { message: "Reference already exists" });
      if (!model.commits.has(body.sha)) return json(422, { message: "Object does not exist" });
      model.branches.set(branch, body.sha);
      closeSwallowedPullRequests();
      return json(201, { ref: `refs/heads/${branch}`, object: { sha: body.sha, type: "commit" } });
    }
    if ((m = /^git\/refs\/(.+)$/.exec(rest)) && method === "PATCH") {
      const branch = decodeURIComponent(m[1]!).replace(/^heads\//, "");
      const current = model.branches.get(branch);
      if (current === undefined) return json(422, { message: "Reference does not exist" });
      if (body.force !== true && !model.isAncestor(current, body.sha)) return json(422, { message: "Update is not a fast forward" });
      model.branches.set(branch, body.sha);
      closeSwallowedPullRequests();
      return json(200, { ref: `refs/heads/${branch}`, object: { sha: body.sha, type: "commit" } });
    }
    if ((m = /^git\/commits\/([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const commit = model.commits.get(m[1]!);
      return commit === undefined ? notFound() : json(200, { sha: commit.sha, message: commit.message, tree: { sha: rootTree(commit.sha) }, parents: commit.parents.map((sha) => ({ sha })) });
    }
    if ((m = /^git\/trees\/([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const tree = trees.get(m[1]!);
      return tree === undefined ? notFound() : json(200, { sha: m[1], truncated: false, tree: treeEntries(tree, query.get("recursive") !== null) });
    }
    if ((m = /^git\/blobs\/([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const text = blobs.get(m[1]!);
      return text === undefined ? notFound() : json(200, { sha: m[1], encoding: "base64", content: Buffer.from(text).toString("base64"), size: Buffer.byteLength(text) });
    }
    if (rest === "git/trees" && method === "POST") {
      const base = trees.get(body.base_tree);
      if (base === undefined) return json(422, { message: "base_tree is not a tree" });
      const files = new Map(base.files);
      for (const entry of body.tree as { path: string; content?: string; sha?: string | null }[]) {
        if (entry.sha === null) files.delete(entry.path);
        else files.set(entry.path, entry.content ?? "");
      }
      const sha = gitSha(`newtree:${[...files].map(([p, t]) => `${p}\0${t}`).join("\n")}`);
      trees.set(sha, { files, folder: "" });
      return json(201, { sha, truncated: false, tree: [] });
    }
    if (rest === "git/commits" && method === "POST") {
      const tree = trees.get(body.tree);
      if (tree === undefined || tree.folder !== "") return json(422, { message: "Tree SHA does not exist" });
      const sha = model.commit(body.parents, body.message, tree.files);
      commitTree.set(sha, body.tree);
      return json(201, { sha, tree: { sha: body.tree }, parents: body.parents.map((p: string) => ({ sha: p })), message: body.message });
    }
    if ((m = /^contents\/(.+)$/.exec(rest)) && method === "GET") {
      const file = decodeURIComponent(m[1]!);
      const ref = query.get("ref") ?? "main";
      const commit = model.commits.has(ref) ? ref : model.branches.get(ref);
      const text = commit === undefined ? undefined : model.files(commit).get(file);
      return text === undefined ? notFound() : json(200, { type: "file", path: file, encoding: "base64", content: Buffer.from(text).toString("base64"), sha: blobSha(text) });
    }
    if ((m = /^compare\/([0-9a-f]{40})\.\.\.([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const [base, head] = [m[1]!, m[2]!];
      if (!model.commits.has(base) || !model.commits.has(head)) return notFound();
      const status = base === head ? "identical" : model.isAncestor(base, head) ? "ahead" : model.isAncestor(head, base) ? "behind" : "diverged";
      return json(200, { status, ahead_by: 0, behind_by: 0, total_commits: 0, commits: [] });
    }
    if (rest === "pulls" && method === "GET") {
      const head = query.get("head")?.replace(/^[^:]+:/, "");
      const state = query.get("state") ?? "open";
      return json(200, model.pullRequests
        .filter((pr) => (state === "all" || (state === "open" ? pr.state === "open" : pr.state !== "open")) && (head === undefined || pr.branch === head) && (!query.get("base") || pr.base === query.get("base")))
        .map(pullJson));
    }
    if (rest === "pulls" && method === "POST") {
      if (!model.branches.has(body.head)) return json(422, { message: "Validation Failed", errors: [{ field: "head", code: "invalid" }] });
      if (model.pullRequests.some((pr) => pr.state === "open" && pr.branch === body.head)) return json(422, { message: `Validation Failed: A pull request already exists for ${OWNER}:${body.head}.` });
      if (model.isAncestor(model.tip(body.head), model.tip(body.base))) return json(422, { message: `Validation Failed: No commits between ${body.base} and ${body.head}` });
      return json(201, pullJson(model.openPullRequest(body.head, body.base, body.title, body.body ?? "")));
    }
    if ((m = /^pulls\/(\d+)$/.exec(rest))) {
      const pr = model.pullRequests.find((candidate) => candidate.number === Number(m![1]));
      if (pr === undefined) return notFound();
      if (method === "PATCH") {
        if (typeof body.title === "string") pr.title = body.title;
        if (typeof body.body === "string") pr.body = body.body;
      }
      return json(200, pullJson(pr));
    }
    if ((m = /^pulls\/(\d+)\/merge$/.exec(rest)) && method === "PUT") {
      const pr = model.pull(Number(m[1]));
      if (body.sha !== undefined && model.branches.get(pr.branch) !== body.sha) return json(409, { message: "Head branch was modified. Review and try the merge again." });
      const sha = model.merge(pr.number);
      return json(200, { sha, merged: true, message: "Pull Request successfully merged" });
    }
    if ((m = /^commits\/([0-9a-f]{40})\/pulls$/.exec(rest)) && method === "GET") {
      if (config.pullsOfCommitLag > 0) {
        config.pullsOfCommitLag -= 1;
        return json(200, []);
      }
      return json(200, model.pullRequests.filter((pr) => pr.mergeCommit === m![1]).map(pullJson));
    }
    if ((m = /^commits\/([^/]+)\/status$/.exec(rest)) && method === "GET") {
      const sha = model.commits.has(m[1]!) ? m[1]! : model.branches.get(decodeURIComponent(m[1]!));
      if (sha === undefined) return json(422, { message: `No commit found for SHA: ${m[1]}` });
      const all = model.latestStatuses(sha);
      const perPage = Number(query.get("per_page") ?? 30);
      const page = Number(query.get("page") ?? 1);
      const statuses = all.slice((page - 1) * perPage, page * perPage).map((status) => ({ context: status.context, state: status.state, description: status.description ?? null }));
      const state = all.some((s) => s.state === "failure" || s.state === "error") ? "failure" : all.length === 0 || all.some((s) => s.state === "pending") ? "pending" : "success";
      return json(200, { state, sha, total_count: all.length, statuses });
    }
    if ((m = /^statuses\/([0-9a-f]{40})$/.exec(rest)) && method === "POST") {
      model.addStatus(m[1]!, { context: body.context ?? "default", state: body.state, description: body.description });
      return json(201, { context: body.context, state: body.state });
    }
    return notFound();
  }

  const server = serveRecording(calls, mirrorTo, (request, url, body) => {
    const failure = failures.findIndex((candidate) => candidate.pattern.test(`${request.method} ${url.pathname}`));
    if (failure !== -1) {
      const [{ status, headers, message }] = failures.splice(failure, 1) as [(typeof failures)[number]];
      return Response.json({ message: message ?? `failed on purpose (${status})` }, { status, headers });
    }
    return route(request.method, url.pathname, url.searchParams, body);
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    model,
    settings: config,
    calls,
    graphqlBodies,
    writes: () => calls.filter((call) => call.method !== "GET" && !(/graphql$/.test(call.path) && !String(call.body?.query).includes("mutation"))),
    failNext(pattern, status, headers = {}, message) {
      failures.push({ pattern, status, headers, message });
    },
    stop: () => server.stop(true),
  };
}
