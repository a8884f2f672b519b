/**
 * The git repository provider and orchestrator of each instance, built on first use with the instance's
 * tokens and cached per instance object: a config reload (which creates new instance objects) starts using new
 * URLs and tokens at once while the old providers are collected. Missing tokens are permanent errors, so the
 * outbox does not retry what no retry can fix.
 */
import { DeliveryError } from "./core/delivery.ts";
import { createGitRepository, type GitProviderFields } from "./git/registry.ts";
import type { GitRepository } from "./git/repository.ts";
import type { FetchLike } from "./clients/http.ts";
import type { Logger } from "./observability/logger.ts";
import { createOrchestrator, type Orchestrator, type OrchestratorFields } from "./orchestrators/registry.ts";
import { USER_AGENT } from "./core/version.ts";

/** The instance settings providers read; a full InstanceConfig fits. */
export type ProviderInstance = GitProviderFields &
  OrchestratorFields & {
    readonly name: string;
    readonly pat?: string;
    readonly orchestratorPat?: string;
    readonly commitMessagePattern?: RegExp;
  };

export interface Providers {
  repositoryOf(instance: ProviderInstance): GitRepository;
  /** Undefined for `NONE`. */
  orchestratorOf(instance: ProviderInstance): Orchestrator | undefined;
}

export interface ProvidersOptions {
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

function requireToken(instance: ProviderInstance, key: "pat" | "orchestratorPat"): string {
  const token = key === "orchestratorPat" ? (instance.orchestratorPat ?? instance.pat) : instance.pat;
  if (token) return token;
  const keys = key === "orchestratorPat" ? "no orchestratorPat and no pat: set orchestratorPat or pat" : "no pat: set pat";
  throw new DeliveryError(`instance ${instance.name} has ${keys} (e.g. \${GITHUB_TOKEN})`, { permanent: true });
}

export function createProviders(options: ProvidersOptions): Providers {
  const repositories = new WeakMap<ProviderInstance, GitRepository>();
  const orchestrators = new WeakMap<ProviderInstance, Orchestrator | null>();

  function repositoryOf(instance: ProviderInstance): GitRepository {
    let repository = repositories.get(instance);
    if (!repository) {
      repository = createGitRepository({
        instance,
        token: requireToken(instance, "pat"),
        userAgent: USER_AGENT,
        fetch: options.fetch,
        logger: options.logger.child({ provider: instance.gitRepositoryType, instance: instance.name }),
      });
      repositories.set(instance, repository);
    }
    return repository;
  }

  return {
    repositoryOf,
    orchestratorOf(instance) {
      let orchestrator = orchestrators.get(instance);
      if (orchestrator === undefined) {
        orchestrator =
          instance.ciCdOrchestratorType === "NONE"
            ? null
            : (createOrchestrator({
                instance,
                token: requireToken(instance, "orchestratorPat"),
                repository: repositoryOf(instance),
                userAgent: USER_AGENT,
                fetch: options.fetch,
                logger: options.logger.child({ orchestrator: instance.ciCdOrchestratorType }),
              }) ?? null);
        orchestrators.set(instance, orchestrator);
      }
      return orchestrator ?? undefined;
    },
  };
}
