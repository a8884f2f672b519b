/**
 * The parts of an instance's schema that need more than a type: which keys each git repository and
 * orchestrator type requires (the original's README tables), subscribers, and the commit message pattern,
 * compiled once at load so a bad regex fails at start-up instead of at the first dispatch.
 */
import * as v from "valibot";
import { describeType } from "./errors.ts";
import { isHttpUrl, type ObjectRules } from "./schema-parts.ts";

interface Requirement {
  readonly when: "gitRepositoryType" | "ciCdOrchestratorType";
  readonly is: string;
  readonly key: string;
  readonly fix: string;
}

/** Order matters: when two rules require the same key, the first one names the reason. */
const REQUIREMENTS: readonly Requirement[] = [
  { when: "gitRepositoryType", is: "AZDO", key: "azdoOrgUrl", fix: "the organization/project URL, e.g. https://dev.azure.com/org/project" },
  { when: "gitRepositoryType", is: "AZDO", key: "azdoGitOpsRepoName", fix: "the Azure Repos repository holding the manifests" },
  { when: "gitRepositoryType", is: "GITHUB", key: "gitHubOrgUrl", fix: "the API URL of the org, e.g. https://api.github.com/repos/org" },
  { when: "gitRepositoryType", is: "GITHUB", key: "gitHubGitOpsManifestsRepoName", fix: "the GitHub repository holding the manifests" },
  { when: "ciCdOrchestratorType", is: "GITHUB", key: "gitHubOrgUrl", fix: "the API URL of the org, e.g. https://api.github.com/repos/org" },
  { when: "ciCdOrchestratorType", is: "GITHUB", key: "gitHubGitOpsRepoName", fix: "the repository whose GitHub Actions workflow receives the dispatch" },
  { when: "ciCdOrchestratorType", is: "AZDO", key: "azdoOrgUrl", fix: "the organization/project URL, e.g. https://dev.azure.com/org/project" },
];

/** Cross-field rules of one instance; they look only at the keys they name, so they run despite other errors. */
export const instanceRules: ObjectRules = (instance, report) => {
  const reported = new Set<string>();
  for (const rule of REQUIREMENTS) {
    if (instance[rule.when] !== rule.is || reported.has(rule.key)) continue;
    if (instance[rule.key] !== undefined) continue;
    reported.add(rule.key);
    report([rule.key], `required when ${rule.when} is ${rule.is}; set it to ${rule.fix}`);
  }
  if (instance.environment !== undefined && instance.statusContext === "legacy") {
    report(["environment"], "cannot go with statusContext: legacy, whose bare context names (Status, Phase, …) have no room for it; remove one of them");
  }
};

/** Subscribers per instance: every status is posted to each, so the jobs of one event grow with them. */
export const MAX_SUBSCRIBERS = 20;

/** Subscriber name → http(s) URL; an empty `subscribers:` means none. */
export const Subscribers = v.pipe(
  v.optional(v.nullable(v.unknown()), () => ({})),
  v.transform((value) => value ?? {}),
  v.check(
    (value) => typeof value !== "object" || value === null || Object.keys(value).length <= MAX_SUBSCRIBERS,
    (issue) => `lists ${Object.keys(issue.input as object).length} subscribers; at most ${MAX_SUBSCRIBERS} per instance (each status is posted to every one)`,
  ),
  v.record(
    v.pipe(v.string(), v.nonEmpty("subscriber names must not be empty")),
    v.pipe(
      v.string((issue) => `must be the subscriber's http(s) URL (got ${describeType(issue.input)})`),
      v.check(isHttpUrl, "must be an absolute http(s) URL such as http://spektate:5000/api/flux"),
    ),
    (issue) => `must be a mapping of subscriber name to URL (got ${describeType(issue.input)})`,
  ),
);

function compileError(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The regex that finds `runid` and `sha` in the manifests commit message (named groups), compiled here.
 * Left unset, the orchestrator uses its default (the original's `split("/")[2]` and `[3]`).
 */
export const CommitMessagePattern = v.optional(
  v.pipe(
    v.string((issue) => `must be a regular expression as text (got ${describeType(issue.input)})`),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const source = dataset.value;
      const error = compileError(source);
      if (error) {
        addIssue({ message: `is not a valid regular expression (${error}); fix the pattern or remove the key` });
        return;
      }
      const missing = ["runid", "sha"].filter((group) => !source.includes(`(?<${group}>`));
      if (missing.length > 0)
        addIssue({
          message: `needs the named group${missing.length > 1 ? "s" : ""} ${missing.map((g) => `(?<${g}>…)`).join(" and ")}, e.g. deploy/(?<runid>[^/]+)/(?<sha>[^/]+)`,
        });
    }),
    v.transform((source) => new RegExp(source)),
  ),
);
