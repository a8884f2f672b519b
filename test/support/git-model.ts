/**
 * An in-memory git repository for the promotion fakes: commits with their whole file sets, branches, pull
 * requests that merge (a real three-way merge of file sets, a merge commit with two parents) and commit statuses.
 * The HTTP fronts (fake-github-git.ts, fake-azure-git.ts) translate vendor calls onto it, so a promotion test runs
 * through real Octokit and fetch against state that behaves like a repository.
 */
import { createHash } from "node:crypto";

export interface ModelCommit {
  readonly sha: string;
  readonly parents: readonly string[];
  readonly message: string;
  readonly files: ReadonlyMap<string, string>;
}

export interface ModelPullRequest {
  readonly number: number;
  title: string;
  body: string;
  readonly branch: string;
  readonly base: string;
  state: "open" | "closed" | "merged";
  mergeCommit?: string;
  mergedAt?: string;
  autoMerge?: { method: string; by?: string; deleteSourceBranch?: boolean };
  /** Azure DevOps PR properties. */
  properties: Record<string, string>;
  createdBy?: string;
}

export interface ModelStatus {
  readonly context: string;
  readonly state: string;
  readonly description?: string;
  readonly genre?: string;
}

export function gitSha(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

export class GitModel {
  readonly commits = new Map<string, ModelCommit>();
  readonly branches = new Map<string, string>();
  readonly pullRequests: ModelPullRequest[] = [];
  /** Newest first per commit, as vendors list them. */
  readonly statuses = new Map<string, ModelStatus[]>();
  private clock = Date.parse("2026-12-01T10:00:00Z");

  constructor(files: Record<string, string>, branch = "main") {
    const root = this.commit([], "Initial commit", new Map(Object.entries(files)));
    this.branches.set(branch, root);
  }

  commit(parents: readonly string[], message: string, files: ReadonlyMap<string, string>): string {
    const sha = gitSha(`${parents.join(",")}\n${message}\n${[...files].map(([p, t]) => `${p}\0${t}`).join("\n")}\n${this.commits.size}`);
    this.commits.set(sha, { sha, parents, message, files: new Map(files) });
    return sha;
  }

  tip(branch: string): string {
    const sha = this.branches.get(branch);
    if (sha === undefined) throw new Error(`no branch ${branch}`);
    return sha;
  }

  files(sha: string): ReadonlyMap<string, string> {
    const commit = this.commits.get(sha);
    if (commit === undefined) throw new Error(`no commit ${sha}`);
    return commit.files;
  }

  /** A direct commit to a branch (what a person pushing does). */
  push(branch: string, message: string, changes: Record<string, string>): string {
    const parent = this.tip(branch);
    const files = new Map(this.files(parent));
    for (const [path, text] of Object.entries(changes)) files.set(path, text);
    const sha = this.commit([parent], message, files);
    this.branches.set(branch, sha);
    return sha;
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    const seen = new Set<string>();
    const queue = [descendant];
    while (queue.length > 0) {
      const sha = queue.pop()!;
      if (sha === ancestor) return true;
      if (seen.has(sha)) continue;
      seen.add(sha);
      queue.push(...(this.commits.get(sha)?.parents ?? []));
    }
    return false;
  }

  mergeBase(a: string, b: string): string | undefined {
    const ancestorsOfA = new Set<string>();
    const queue = [a];
    while (queue.length > 0) {
      const sha = queue.pop()!;
      if (ancestorsOfA.has(sha)) continue;
      ancestorsOfA.add(sha);
      queue.push(...(this.commits.get(sha)?.parents ?? []));
    }
    const order = [b];
    const seen = new Set<string>();
    while (order.length > 0) {
      const sha = order.shift()!;
      if (ancestorsOfA.has(sha)) return sha;
      if (seen.has(sha)) continue;
      seen.add(sha);
      order.push(...(this.commits.get(sha)?.parents ?? []));
    }
    return undefined;
  }

  openPullRequest(branch: string, base: string, title: string, body: string, createdBy?: string): ModelPullRequest {
    const pr: ModelPullRequest = { number: this.pullRequests.length + 1, title, body, branch, base, state: "open", properties: {}, createdBy };
    this.pullRequests.push(pr);
    return pr;
  }

  pull(number: number): ModelPullRequest {
    const pr = this.pullRequests.find((candidate) => candidate.number === number);
    if (pr === undefined) throw new Error(`no pull request ${number}`);
    return pr;
  }

  /** Merge a PR as the vendor would: a merge commit on the base with the head's changes since the merge base. */
  merge(number: number, deleteBranch = false): string {
    const pr = this.pull(number);
    if (pr.state !== "open") throw new Error(`pull request ${number} is ${pr.state}`);
    const base = this.tip(pr.base);
    const head = this.tip(pr.branch);
    const since = this.mergeBase(base, head);
    const files = new Map(this.files(base));
    const before = since === undefined ? new Map<string, string>() : this.files(since);
    for (const [path, text] of this.files(head)) if (before.get(path) !== text) files.set(path, text);
    const sha = this.commit([base, head], `Merge pull request #${number} from org/${pr.branch}\n\n${pr.title}`, files);
    this.branches.set(pr.base, sha);
    pr.state = "merged";
    pr.mergeCommit = sha;
    pr.mergedAt = this.now();
    if (deleteBranch) this.branches.delete(pr.branch);
    return sha;
  }

  addStatus(sha: string, status: ModelStatus): void {
    this.statuses.set(sha, [status, ...(this.statuses.get(sha) ?? [])]);
  }

  /** The latest status per context, newest first. */
  latestStatuses(sha: string): ModelStatus[] {
    const seen = new Set<string>();
    return (this.statuses.get(sha) ?? []).filter((status) => {
      const key = `${status.genre ?? ""}/${status.context}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  now(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }
}
