/**
 * What a CI/CD orchestrator is (one module per orchestrator: src/orchestrators/<name>.ts, listed in
 * src/orchestrators/registry.ts; `NONE` is the absence of one) and what the rest of the connector uses of the
 * orchestrator it creates. A module brings its config keys, which of them it requires, its notify policy, how it
 * names its target and describes itself, and `create`. It sees the manifests repository only through the ports of
 * src/orchestrators/ports.ts.
 */
import type * as v from "valibot";
import type { Credentials } from "../clients/credentials.ts";
import type { FetchLike, OutboundRequest } from "../core/http.ts";
import type { OrchestratorJobPayload } from "../core/model.ts";
import type { NotifyPolicy } from "../core/planner.ts";
import type { Logger } from "../observability/logger.ts";
import type { ReportIssue } from "../schema/parts.ts";
import type { AbandonedPullRequest, ManifestsRepository } from "./ports.ts";

/** What notifying the orchestrator takes, as the dry run logs it: the reads it needs first, then the call itself. */
export interface OrchestratorPlan {
  readonly reads: readonly string[];
  readonly request: OutboundRequest;
}

/** One instance's orchestrator. */
export interface Orchestrator {
  /** Where its jobs go (`github-actions:api.github.com/repos/org/app-src`). */
  readonly target: string;
  /** When the planner tells it of a commit's outcome. */
  readonly policy: NotifyPolicy;
  /** The deployment of `job.commit` finished: resume (or fail) whatever waits on it. */
  notify(job: OrchestratorJobPayload, signal: AbortSignal): Promise<void>;
  describe(job: OrchestratorJobPayload): OrchestratorPlan;
  /** Orchestrators that wait on pull requests fail what waits on an abandoned one (the scheduler's sweep). */
  readonly abandoned?: {
    list(since: Date, signal: AbortSignal): Promise<AbandonedPullRequest[]>;
    fail(pullRequest: number, signal: AbortSignal): Promise<void>;
  };
}

export interface OrchestratorDeps {
  /** The instance's manifests repository (with `pat`), for the reads that come first. */
  readonly repository: ManifestsRepository;
  /** `orchestratorPat`, which defaults to `pat`. */
  readonly credentials: Credentials;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

export interface OrchestratorModule<Fields, Keys extends Record<string, v.GenericSchema> = Record<string, v.GenericSchema>> {
  /** The `ciCdOrchestratorType` value, and the orchestrator's name in messages. */
  readonly type: string;
  readonly title: string;
  readonly keys: Keys;
  readonly requires: readonly { readonly key: string; readonly fix: string }[];
  check?(instance: Fields, report: ReportIssue): void;
  /**
   * Credentials of its own instead of `orchestratorPat` (GitHub Actions: a GitHub App, or the repository's own app
   * when both are on GitHub), when the instance names them.
   */
  credentialsOf?(instance: Fields, context: { readonly repository: Credentials; readonly onSecret?: (secret: string) => void }): Credentials | undefined;
  /** It finds its waiting task through the repository's `pipelineCallbacks`, so only providers with them will do. */
  readonly needsPipelineCallbacks: boolean;
  /** `GITHUB org/app-src`: the orchestrator in check-config's one line per instance. */
  describe(instance: Fields): string;
  /** `dispatches to github.com/org/app-src`: what its token is for, in messages about a missing one. */
  tokenUse(instance: Fields): string;
  create(instance: Fields & { readonly name: string }, deps: OrchestratorDeps): Orchestrator;
}
