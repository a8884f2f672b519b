/**
 * GitHub Actions: a `repository_dispatch` (`sync-success`, optionally `sync-failure`) to the workflow
 * repository once a deployment finished (https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event).
 * The payload's `sha` and `runid` come from the manifests commit message, so delivery first reads that commit.
 * Each outcome is told once, a failure only with `dispatchOnFailure`.
 */
import * as v from "valibot";
import { createGitHubCalls, credentialKey, gitHubRepositoryLocation, type GitHubCalls, GitHubOrgUrl, JSON_CONTENT_TYPE, requireGitHubLocation } from "../clients/github.ts";
import { checkGitHubApp, gitHubAppCredentials, gitHubAppKeyNames, privateKeySchema } from "../clients/github-app.ts";
import { apiBase } from "../core/http.ts";
import { toDeliveryError } from "../clients/http-failure.ts";
import type { OrchestratorJobPayload } from "../core/model.ts";
import { shortRepoLabel, withoutScheme } from "../core/targets.ts";
import { cutText } from "../observability/logger.ts";
import { flag, optionalNumericId, optionalText } from "../schema/parts.ts";
import { CommitMessagePattern } from "./commit-message-pattern.ts";
import type { Orchestrator, OrchestratorDeps, OrchestratorModule, OrchestratorPlan } from "./orchestrator.ts";

const KEYS = {
  gitHubOrgUrl: GitHubOrgUrl,
  gitHubGitOpsRepoName: optionalText("a repository name"),
  dispatchOnFailure: v.optional(flag(), false),
  commitMessagePattern: CommitMessagePattern,
  /** A GitHub App instead of `orchestratorPat`; unset, GitHub Actions uses the repository's app when it has one. */
  orchestratorGitHubAppId: optionalNumericId("the GitHub App's id"),
  orchestratorGitHubAppInstallationId: optionalNumericId("the id of the app's installation"),
  orchestratorGitHubAppPrivateKey: privateKeySchema(),
};

const APP_KEYS = gitHubAppKeyNames("orchestratorGitHub");

export type GitHubActionsFields = Partial<v.InferOutput<v.ObjectSchema<typeof KEYS, undefined>>> & { readonly orchestratorPat?: string };

export function describeGitHubDispatch(instance: GitHubActionsFields, job: OrchestratorJobPayload, readCommitMessage: string): OrchestratorPlan {
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

/** The Octokit call GitHub Actions needs. */
export interface GitHubActionsCalls {
  readonly repos: Pick<GitHubCalls["repos"], "createDispatchEvent">;
}

export interface GitHubActionsOrchestratorOptions extends OrchestratorDeps {
  readonly instance: GitHubActionsFields & { readonly name: string };
  /** Octokit's, authenticated with `credentials`, unless given. */
  readonly calls?: GitHubActionsCalls;
}

/** `github-actions:api.github.com/repos/org/app-src`. */
export function gitHubActionsTarget(instance: GitHubActionsFields): string {
  return `github-actions:${withoutScheme(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsRepoName}`;
}

/** Dispatches the event; a commit message without runid/sha is a logged skip, not a failure. */
export function createGitHubActionsOrchestrator(options: GitHubActionsOrchestratorOptions): Orchestrator {
  const { instance, logger, repository } = options;
  const location = requireGitHubLocation(instance.name, instance.gitHubOrgUrl);
  const repo = instance.gitHubGitOpsRepoName ?? "";
  const github = options.calls ?? createGitHubCalls({ ...options, baseUrl: location.baseUrl, instanceName: instance.name });
  const who = {
    service: "GitHub",
    instance: instance.name,
    resource: `${location.owner}/${repo}`,
    tokenKey: credentialKey(options.credentials, "orchestratorPat"),
    permission: "the repo scope (fine-grained: Contents read and write) for repository dispatches",
  } as const;

  return {
    target: gitHubActionsTarget(instance),
    policy: { once: "outcome", failures: instance.dispatchOnFailure ?? false },
    describe: (job) => describeGitHubDispatch(instance, job, repository.describeCommitRead(job.commit)),
    async notify(job, signal) {
      const message = await repository.readCommitMessage(job.commit, signal);
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
        await github.repos.createDispatchEvent({
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

export const gitHubActions = {
  type: "GITHUB",
  title: "GitHub Actions",
  keys: KEYS,
  requires: [
    { key: "gitHubOrgUrl", fix: "the API URL of the org, e.g. https://api.github.com/repos/org" },
    { key: "gitHubGitOpsRepoName", fix: "the repository whose GitHub Actions workflow receives the dispatch" },
  ],
  needsPipelineCallbacks: false,
  check: (instance, report) => checkGitHubApp(instance, APP_KEYS, "orchestratorPat", report),
  // Its own app; else, with no orchestratorPat of its own, the repository's app (one installation for both).
  credentialsOf: (instance, context) =>
    gitHubAppCredentials(instance, APP_KEYS, context.onSecret) ?? (instance.orchestratorPat === undefined && context.repository.kind === "github-app" ? context.repository : undefined),
  describe: (instance) =>
    `GITHUB ${shortRepoLabel(instance.gitHubOrgUrl, instance.gitHubGitOpsRepoName)}${instance.orchestratorGitHubAppId ? ` (GitHub App ${instance.orchestratorGitHubAppId})` : ""}`,
  tokenUse: (instance) => `dispatches to ${gitHubRepositoryLocation(instance.gitHubOrgUrl, instance.gitHubGitOpsRepoName)}`,
  create: (instance, deps) => createGitHubActionsOrchestrator({ ...deps, instance }),
} satisfies OrchestratorModule<GitHubActionsFields, typeof KEYS>;
