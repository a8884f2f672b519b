/**
 * The parts of an instance's schema that need more than a type: the cross-field rules, and subscribers.
 */
import * as v from "valibot";
import { describeType } from "../schema/errors.ts";
import { GIT_REPOSITORY_TYPES, gitProviderOf, type GitRepositoryType } from "../git/registry.ts";
import { ORCHESTRATOR_TYPES, orchestratorOf, type OrchestratorType } from "../orchestrators/registry.ts";
import { isHttpUrl, oneOf, type ObjectRules } from "../schema/parts.ts";

/**
 * Cross-field rules of one instance: the keys its git provider and orchestrator require (each module's
 * `requires`, the original's README tables) and their own checks, an orchestrator that needs what the provider
 * cannot give, and `environment` with legacy contexts. They look only at the keys they name, so they run despite
 * other errors.
 */
export const instanceRules: ObjectRules = (instance, report) => {
  const git = GIT_REPOSITORY_TYPES.includes(instance.gitRepositoryType as never) ? gitProviderOf(instance.gitRepositoryType as GitRepositoryType) : undefined;
  const orchestratorType = ORCHESTRATOR_TYPES.includes(instance.ciCdOrchestratorType as never) ? (instance.ciCdOrchestratorType as OrchestratorType) : undefined;
  const orchestrator = orchestratorType ? orchestratorOf(orchestratorType) : undefined;
  const reported = new Set<string>();
  const require = (module: { readonly requires: readonly { key: string; fix: string }[] }, when: string, is: string) => {
    for (const { key, fix } of module.requires) {
      if (instance[key] !== undefined || reported.has(key)) continue;
      reported.add(key);
      report([key], `required when ${when} is ${is}; set it to ${fix}`);
    }
  };
  if (git) {
    require(git, "gitRepositoryType", git.type);
    git.check?.(instance as never, report);
  }
  if (orchestrator) {
    require(orchestrator, "ciCdOrchestratorType", orchestrator.type);
    orchestrator.check?.(instance as never, report);
    if (git && orchestrator.needsPipelineCallbacks && !git.pipelineCallbacks) {
      const able = GIT_REPOSITORY_TYPES.filter((type) => gitProviderOf(type).pipelineCallbacks);
      report(
        ["ciCdOrchestratorType"],
        `${orchestrator.title} finds its waiting task through a pull request's callback data, which ${git.title} has no place for; ` +
          `use gitRepositoryType ${oneOf(able)}, or ciCdOrchestratorType NONE`,
      );
    }
  }
  const promotion = instance.promotion as { enabled?: unknown; api?: unknown } | undefined;
  if (promotion?.enabled === true || promotion?.api === true) {
    if (git && git.promotion === undefined) {
      const able = GIT_REPOSITORY_TYPES.filter((type) => gitProviderOf(type).promotion !== undefined);
      report(["promotion"], `promotion opens pull requests, which this build does on ${oneOf(able)} only; remove promotion or use one of them`);
    }
    if (promotion.enabled === true && instance.gitOpsOperatorType === "ARGOCD") {
      report(["promotion", "enabled"], "advances on Flux Kustomization reconciles (kustomization/{group}-{env}); Argo CD instances cannot drive it");
    }
    if (promotion.enabled === true && instance.statusContext === "legacy") {
      report(["promotion", "enabled"], "needs the default status contexts (kustomization/{group}-{env}), not statusContext: legacy");
    }
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

