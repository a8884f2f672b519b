/**
 * GitHub Actions: a `repository_dispatch` (`sync-success`, optionally `sync-failure`) to the workflow
 * repository once a deployment finished (https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event).
 * The payload's `sha` and `runid` come from the manifests commit message, so delivery first reads that commit.
 * `describeGitHubDispatch` is what the dry run logs; `createGitHubActionsOrchestrator` sends it.
 */
import { apiBase } from "../clients/http.ts";
import { toDeliveryError } from "../clients/http-failure.ts";
import type { OrchestratorJobPayload } from "../core/model.ts";
import { cutText, type Logger } from "../observability/logger.ts";
import { createGitHubClient, JSON_CONTENT_TYPE, requireGitHubLocation, type FetchLike } from "../clients/github.ts";
import type { OrchestratorPlan } from "./registry.ts";

export interface GitHubActionsFields {
  readonly gitHubOrgUrl?: string;
  readonly gitHubGitOpsRepoName?: string;
}

export function describeGitHubDispatch(
  instance: GitHubActionsFields,
  job: OrchestratorJobPayload,
  readCommitMessage: string,
): OrchestratorPlan {
  const base = apiBase(instance.gitHubOrgUrl);
  return {
    reads: [readCommitMessage],
    request: {
      method: "POST",
      url: `${base}/${instance.gitHubGitOpsRepoName}/dispatches`,
      body: {
        event_type: toDispatchEventType(job.outcome),
        client_payload: {
          sha: "<sha from the commit message>",
          runid: "<runid from the commit message>",
          commitmessage: "<commit message>",
          ...(job.supersededBy ? { superseded_by: job.supersededBy } : {}),
        },
      },
    },
  };
}

export function toDispatchEventType(outcome: OrchestratorJobPayload["outcome"]): "sync-success" | "sync-failure" {
  return outcome === "succeeded" ? "sync-success" : "sync-failure";
}

/**
 * The dispatch's `client_payload`: the original's `sha`, `runid` and `commitmessage`, plus `superseded_by` (the
 * deployed commit) when this commit was never deployed itself, so a workflow can tell the two apart.
 */
export function toClientPayload(ids: DispatchIds, message: string, supersededBy?: string) {
  return { sha: ids.sha, runid: ids.runid, commitmessage: message, ...(supersededBy ? { superseded_by: supersededBy } : {}) };
}

export interface DispatchIds {
  readonly runid: string;
  readonly sha: string;
}

/**
 * The workflow run id and source commit named by a manifests commit message.
 *
 * With `pattern` (the instance's `commitMessagePattern`), its named groups `runid` and `sha`.
 * Without, the original connector's rule: `message.split("/")[2]` and `[3]`. That rule was written for GitHub's
 * merge message of a branch named `deploy/<runid>/<sha>/…`:
 * `Merge pull request #42 from org/deploy/4183912345/0a1b2c3/dev` splits into
 * `["Merge pull request #42 from org", "deploy", "4183912345", "0a1b2c3", "dev"]`. The owner segment is what
 * puts runid at [2]: a bare `deploy/<runid>/<sha>` message would yield the sha as runid, so such repositories
 * set `commitMessagePattern: deploy/(?<runid>\d+)/(?<sha>[0-9a-f]+)`. Unlike the original (which sent
 * `<sha>\n\n<body>` when the sha ended the title), each value stops at the first whitespace.
 * Undefined when the message does not carry both values.
 */
export function extractDispatchIds(message: string, pattern?: RegExp): DispatchIds | undefined {
  const firstWord = (value: string | undefined) => value?.trim().split(/\s+/)[0] ?? "";
  let runid: string;
  let sha: string;
  if (pattern) {
    const groups = pattern.exec(message)?.groups;
    runid = firstWord(groups?.runid);
    sha = firstWord(groups?.sha);
  } else {
    const parts = message.split("/");
    runid = firstWord(parts[2]);
    sha = firstWord(parts[3]);
  }
  return runid && sha ? { runid, sha } : undefined;
}

export interface GitHubActionsOrchestrator {
  /** Dispatches the event; a commit message without runid/sha is a logged skip, not a failure. */
  notify(job: OrchestratorJobPayload, signal: AbortSignal): Promise<void>;
}

export interface GitHubActionsOrchestratorOptions {
  readonly instance: GitHubActionsFields & { readonly name: string; readonly commitMessagePattern?: RegExp };
  /** `orchestratorPat`, which defaults to `pat`. */
  readonly token: string;
  /** Reads the manifests commit through the instance's git repository provider (with its `pat`). */
  readonly readCommitMessage: (sha: string, signal: AbortSignal) => Promise<string>;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

export function createGitHubActionsOrchestrator(options: GitHubActionsOrchestratorOptions): GitHubActionsOrchestrator {
  const { instance, logger } = options;
  const location = requireGitHubLocation(instance.name, instance.gitHubOrgUrl);
  const repo = instance.gitHubGitOpsRepoName ?? "";
  const octokit = createGitHubClient({ ...options, baseUrl: location.baseUrl });
  const who = {
    service: "GitHub",
    instance: instance.name,
    resource: `${location.owner}/${repo}`,
    tokenKey: "orchestratorPat",
    permission: "the repo scope (fine-grained: Contents read and write) for repository dispatches",
  } as const;

  return {
    async notify(job, signal) {
      const message = await options.readCommitMessage(job.commit, signal);
      const ids = extractDispatchIds(message, instance.commitMessagePattern);
      if (!ids) {
        // A superseded commit is often no deployment commit at all (a direct push, a docs change): no warning.
        (job.supersededBy ? logger.info : logger.warn).call(
          logger,
          { instance: instance.name, commit: job.commit, outcome: job.outcome, commitMessage: cutText(message, 500) },
          `no GitHub Actions dispatch for commit ${job.commit} of instance ${instance.name}: its message names no run id and sha ` +
            (instance.commitMessagePattern
              ? `matching commitMessagePattern ${instance.commitMessagePattern.source}`
              : 'in the form "…/deploy/<runid>/<sha>" (set commitMessagePattern to match your commit messages)'),
        );
        return;
      }
      try {
        await octokit.request("POST /repos/{owner}/{repo}/dispatches", {
          owner: location.owner,
          repo,
          event_type: toDispatchEventType(job.outcome),
          client_payload: toClientPayload(ids, message, job.supersededBy),
          headers: JSON_CONTENT_TYPE,
          request: { signal },
        });
      } catch (error) {
        throw toDeliveryError(error, who, signal);
      }
    },
  };
}
