/**
 * A loopback Azure DevOps that keeps a real repository (git-model.ts) for promotion: refs, items (a folder
 * listed recursively, a file with its content), merge bases, pushes (checked like Azure checks them: a stale
 * `oldObjectId` is 409, `edit` of a missing file and `add` of an existing one are 400), PRs (lists cut
 * descriptions at 400 characters, as Azure's do; one active PR per source and target), PR properties,
 * `pullrequestquery`, and commit statuses with their genre.
 */
import type { GitModel, ModelPullRequest } from "./git-model.ts";
import { serveRecording } from "./fake-github-git.ts";
import type { RecordedCall } from "./fake-github-git.ts";

export interface FakeAzureRepos {
  readonly url: string;
  /** The instance's `azdoOrgUrl`. */
  readonly orgUrl: string;
  readonly model: GitModel;
  readonly calls: RecordedCall[];
  writes(): RecordedCall[];
  stop(): void;
}

const ZERO = "0".repeat(40);
const USER = "5a1b0c9e-1d2f-4e3a-8b7c-6d5e4f3a2b1c";

export function startFakeAzureRepos(model: GitModel, mirrorTo?: string): FakeAzureRepos {
  const calls: RecordedCall[] = [];
  const json = (status: number, body: unknown) => Response.json(body, { status });
  const notFound = (what: string) => json(404, { $id: "1", message: `TF401174: The item '${what}' could not be found in the repository 'manifests'.`, typeKey: "GitItemNotFoundException" });

  function prJson(pr: ModelPullRequest, truncate = false) {
    const head = model.branches.get(pr.branch) ?? pr.mergeCommit;
    return {
      pullRequestId: pr.number,
      title: pr.title,
      description: truncate && pr.body.length > 400 ? `${pr.body.slice(0, 397)}...` : pr.body,
      sourceRefName: `refs/heads/${pr.branch}`,
      targetRefName: `refs/heads/${pr.base}`,
      status: pr.state === "open" ? "active" : pr.state === "merged" ? "completed" : "abandoned",
      createdBy: { id: pr.createdBy ?? USER, displayName: "Build Service" },
      lastMergeSourceCommit: { commitId: head },
      ...(pr.mergeCommit ? { lastMergeCommit: { commitId: pr.mergeCommit } } : {}),
      ...(pr.autoMerge ? { autoCompleteSetBy: { id: pr.autoMerge.by }, completionOptions: { mergeStrategy: pr.autoMerge.method, deleteSourceBranch: pr.autoMerge.deleteSourceBranch } } : {}),
    };
  }

  function route(method: string, rest: string, query: URLSearchParams, body: any): Response {
    let m: RegExpExecArray | null;
    if (rest === "refs" && method === "GET") {
      const filter = `refs/${query.get("filter") ?? ""}`;
      const value = [...model.branches].filter(([name]) => `refs/heads/${name}`.startsWith(filter)).map(([name, objectId]) => ({ name: `refs/heads/${name}`, objectId }));
      return json(200, { count: value.length, value });
    }
    if (rest === "items" && method === "GET") {
      const commit = query.get("versionDescriptor.version") ?? model.tip("main");
      if (!model.commits.has(commit)) return json(404, { message: `TF401175: The version descriptor <Commit: ${commit}> could not be resolved` });
      const path = (query.get("path") ?? "/").replace(/^\//, "");
      const files = model.files(commit);
      const text = files.get(path);
      if (text !== undefined) return json(200, { objectId: String(Bun.hash(text)), gitObjectType: "blob", path: `/${path}`, ...(query.get("includeContent") === "true" ? { content: text } : {}) });
      const folder = path === "" ? "" : `${path}/`;
      const inside = [...files].filter(([file]) => file.startsWith(folder));
      if (inside.length === 0) return notFound(`/${path}`);
      const value = [{ objectId: "f", gitObjectType: "tree", path: `/${path}`, isFolder: true }, ...inside.map(([file, content]) => ({ objectId: String(Bun.hash(content)), gitObjectType: "blob", path: `/${file}` }))];
      return json(200, { count: value.length, value });
    }
    if ((m = /^commits\/([0-9a-f]{40})\/mergebases$/.exec(rest)) && method === "GET") {
      const other = query.get("otherCommitId") ?? "";
      if (!model.commits.has(m[1]!) || !model.commits.has(other)) return json(404, { message: "TF401029: commit not found" });
      const mergeBase = model.mergeBase(m[1]!, other);
      return json(200, { count: mergeBase ? 1 : 0, value: mergeBase ? [{ commitId: mergeBase }] : [] });
    }
    if (rest === "pushes" && method === "POST") {
      const [update] = body.refUpdates as { name: string; oldObjectId: string }[];
      const branch = update!.name.replace(/^refs\/heads\//, "");
      const current = model.branches.get(branch);
      if (current !== undefined && current !== update!.oldObjectId) return json(409, { message: `TF401028: The reference '${update!.name}' has already been updated by another client, so you cannot update it. Please try again.`, typeKey: "GitReferenceStaleException" });
      const parent = current ?? update!.oldObjectId;
      if (parent !== ZERO && !model.commits.has(parent)) return json(400, { message: `TF401035: The object '${parent}' does not exist.` });
      const files = new Map(parent === ZERO ? [] : model.files(parent));
      const [commit] = body.commits as { comment: string; changes: { changeType: string; item: { path: string }; newContent: { content: string; contentType: string } }[] }[];
      for (const change of commit!.changes) {
        const path = change.item.path.replace(/^\//, "");
        if (change.changeType === "edit" && !files.has(path)) return json(400, { message: `TF401174: The item '${change.item.path}' could not be found in the repository.` });
        if (change.changeType === "add" && files.has(path)) return json(400, { message: `TF402455: The item '${change.item.path}' already exists.` });
        files.set(path, change.newContent.contentType === "base64Encoded" ? Buffer.from(change.newContent.content, "base64").toString("utf8") : change.newContent.content);
      }
      const sha = model.commit(parent === ZERO ? [] : [parent], commit!.comment, files);
      model.branches.set(branch, sha);
      return json(201, { pushId: model.commits.size, commits: [{ commitId: sha, comment: commit!.comment }], refUpdates: [{ name: update!.name, oldObjectId: update!.oldObjectId, newObjectId: sha }] });
    }
    if (rest === "pullrequests" && method === "GET") {
      const source = query.get("searchCriteria.sourceRefName")?.replace(/^refs\/heads\//, "");
      const target = query.get("searchCriteria.targetRefName")?.replace(/^refs\/heads\//, "");
      const status = query.get("searchCriteria.status") ?? "active";
      const value = model.pullRequests
        .filter((pr) => (source === undefined || pr.branch === source) && (target === undefined || pr.base === target) && (status === "all" || prJson(pr).status === status))
        .map((pr) => prJson(pr, true))
        .reverse(); // newest first, as Azure DevOps lists them
      return json(200, { count: value.length, value });
    }
    if (rest === "pullrequests" && method === "POST") {
      const branch = String(body.sourceRefName).replace(/^refs\/heads\//, "");
      const base = String(body.targetRefName).replace(/^refs\/heads\//, "");
      if (!model.branches.has(branch)) return json(400, { message: `TF401398: The pull request cannot be activated because the source and/or the target branch no longer exists` });
      if (model.pullRequests.some((pr) => pr.state === "open" && pr.branch === branch && pr.base === base)) {
        return json(409, { message: "TF401179: An active pull request for the source and target branch already exists.", typeKey: "GitPullRequestExistsException" });
      }
      return json(201, prJson(model.openPullRequest(branch, base, body.title, body.description ?? "", USER)));
    }
    if ((m = /^pullrequests\/(\d+)$/.exec(rest))) {
      const pr = model.pullRequests.find((candidate) => candidate.number === Number(m![1]));
      if (pr === undefined) return json(404, { message: `TF401180: The requested pull request was not found.` });
      if (method === "PATCH") {
        if (typeof body.title === "string") pr.title = body.title;
        if (typeof body.description === "string") {
          if (body.description.length > 4000) return json(400, { message: "The description is limited to 4000 characters" });
          pr.body = body.description;
        }
        if (body.autoCompleteSetBy !== undefined) pr.autoMerge = { method: body.completionOptions?.mergeStrategy, by: body.autoCompleteSetBy.id, deleteSourceBranch: body.completionOptions?.deleteSourceBranch };
      }
      return json(200, prJson(pr));
    }
    if ((m = /^pullRequests\/(\d+)\/properties$/.exec(rest)) && method === "PATCH") {
      const pr = model.pull(Number(m[1]));
      for (const operation of body as { op: string; path: string; value: string }[]) pr.properties[operation.path.replace(/^\//, "")] = operation.value;
      return json(200, { count: Object.keys(pr.properties).length, value: Object.fromEntries(Object.entries(pr.properties).map(([k, v]) => [k, { $type: "System.String", $value: v }])) });
    }
    if (rest === "pullrequestquery" && method === "POST") {
      const [q] = body.queries as { type: string; items: string[] }[];
      const results = Object.fromEntries(q!.items.map((sha) => [sha, model.pullRequests.filter((pr) => pr.mergeCommit === sha).map((pr) => prJson(pr))]));
      return json(200, { queries: body.queries, results: [results] });
    }
    if ((m = /^commits\/([0-9a-f]{40})\/statuses$/.exec(rest))) {
      if (method === "POST") {
        model.addStatus(m[1]!, { context: body.context?.name, genre: body.context?.genre, state: ({ succeeded: "success", failed: "failure" } as Record<string, string>)[body.state] ?? body.state, description: body.description });
        return json(201, body);
      }
      const value = model.latestStatuses(m[1]!).map((status) => ({
        state: ({ success: "succeeded", failure: "failed" } as Record<string, string>)[status.state] ?? status.state,
        description: status.description,
        context: { name: status.context, genre: status.genre },
      }));
      return json(200, { count: value.length, value });
    }
    return json(404, { message: `no route ${method} ${rest}` });
  }

  const server = serveRecording(calls, mirrorTo, (request, url, body) => {
    const match = /^\/org\/project\/_apis\/git\/repositories\/manifests\/(.*)$/.exec(url.pathname);
    if (match === null) return json(404, { message: "unknown repository" });
    return route(request.method, match[1]!, url.searchParams, body);
  });
  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    orgUrl: `${url}/org/project`,
    model,
    calls,
    writes: () => calls.filter((call) => call.method !== "GET" && !call.path.endsWith("/pullrequestquery")),
    stop: () => server.stop(true),
  };
}
