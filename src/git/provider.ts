/**
 * What a git provider is (one module per provider: src/git/<provider>.ts, listed in src/git/registry.ts) and the
 * ports the rest of the connector uses from the repository it creates. A module brings everything the connector
 * knows of its provider: its config keys and which of them it requires, how it names its delivery target and
 * describes itself in `check-config`, how it spells an operator's state, and `create`, which returns the
 * repository's ports for one instance. Nothing outside the module and the registry names a provider.
 */
import type * as v from "valibot";
import type { OutboundRequest, FetchLike } from "../core/http.ts";
import type { Credentials } from "../clients/credentials.ts";
import type { OperatorState, StatusJobPayload } from "../core/model.ts";
import type { Logger } from "../observability/logger.ts";
import type { PipelineCallbackSource } from "../orchestrators/ports.ts";
import type { PromotionRepository } from "../promotion/port.ts";
import type { ReportIssue } from "../schema/parts.ts";

/** At most this many superseded commits are told per finished commit (the newest ones). */
export const MAX_SUPERSEDED_COMMITS = 100;

/** A commit that was the tip of the branch at some point: what a superseded commit is. */
export interface CommitOnBranch {
  readonly sha: string;
  /** ISO 8601 committer date, when the provider gave one. */
  readonly committedAt?: string;
}

/** The first-parent chain of `head`, newest first: each commit's first parent is the next one. */
export function firstParentChain(head: string, parentsOf: ReadonlyMap<string, readonly string[]>, stopAt: string, limit: number): string[] {
  const chain: string[] = [];
  let current = parentsOf.get(head)?.[0];
  while (current !== undefined && current !== stopAt && chain.length < limit && parentsOf.has(current)) {
    chain.push(current);
    current = parentsOf.get(current)?.[0];
  }
  return chain;
}

/**
 * The manifests repository of one instance, as a created provider offers it. Every failure is a DeliveryError
 * (src/clients/http-failure.ts decides retry or dead). Each call has its `describe…` twin: the exact request (or
 * read) it makes, which the dry run logs instead of making it.
 */
export interface GitRepository {
  /** Where its jobs go (`github:api.github.com/repos/org/manifests`): retries and rate limits apply per target. */
  readonly target: string;
  postStatus(job: StatusJobPayload, signal: AbortSignal): Promise<void>;
  describeStatus(job: StatusJobPayload): OutboundRequest;
  /** The full message of a commit in the manifests repository. */
  readCommitMessage(sha: string, signal: AbortSignal): Promise<string>;
  describeCommitRead(sha: string): string;
  /**
   * The commits that were the branch tip after `base` and before `head`: head's first-parent chain back to base,
   * both excluded, oldest first, at most `limit` (the newest ones). A merged PR's own branch commits are not on
   * it. Empty when base is not an ancestor (a rollback, a force push).
   */
  commitsBetween(base: string, head: string, limit: number, signal: AbortSignal): Promise<CommitOnBranch[]>;
  describeCommitsBetween(base: string, head: string): string;
  /**
   * Where an Azure Pipelines task left its callback on a pull request (the port src/orchestrators/ports.ts
   * defines); absent when this provider has no such place.
   */
  readonly pipelineCallbacks?: PipelineCallbackSource;
}

export interface GitProviderDeps {
  /** The instance's `pat` (or the GitHub App that stands in for it). */
  readonly credentials: Credentials;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

/** A key the provider requires when it is the instance's `gitRepositoryType`, and what to set it to. */
export interface RequiredKey {
  readonly key: string;
  readonly fix: string;
}

/**
 * A git provider. `Fields` is the part of an instance's config it reads (its own keys and the common ones), so
 * the module never depends on the config's full type.
 */
export interface GitProviderModule<Fields, Keys extends Record<string, v.GenericSchema> = Record<string, v.GenericSchema>> {
  /** The `gitRepositoryType` value, and the provider's name in messages. */
  readonly type: string;
  readonly title: string;
  /** Its config keys, every one optional in the schema (the provider's `requires` says which it needs). */
  readonly keys: Keys;
  readonly requires: readonly RequiredKey[];
  /** Cross-field checks beyond presence (a URL's shape), reported at load. */
  check?(instance: Fields, report: ReportIssue): void;
  /**
   * Credentials of its own instead of `pat` (GitHub: a GitHub App), when the instance names them; a live run then
   * needs no pat. `onSecret` is told every secret minted at run time, for the logger to redact.
   */
  credentialsOf?(instance: Fields, context: { readonly onSecret?: (secret: string) => void }): Credentials | undefined;
  /** Keys that default to others (Azure Repos' PR repository to the manifests one), applied after validation. */
  defaults?(instance: Fields): Partial<Fields>;
  /** `GITHUB org/manifests`: the repository in check-config's one line per instance. */
  describe(instance: Fields): string;
  /** `github.com/org/manifests`: the repository in messages about its token. */
  location(instance: Fields): string;
  /** The provider's state for an operator state; unmapped states are pending. */
  stateOf(state: OperatorState): string;
  /** Whether its repositories offer `pipelineCallbacks` (Azure Pipelines needs them). */
  readonly pipelineCallbacks: boolean;
  create(instance: Fields & { readonly name: string }, deps: GitProviderDeps): GitRepository;
  /** The promotion port on the instance's repository (`promote --instance`), for providers that can promote. */
  promotion?(instance: Fields & { readonly name: string }, deps: GitProviderDeps): PromotionRepository;
}
