/**
 * The network delivery: routes each job to the instance's git repository provider (status), its subscriber,
 * or its CI/CD orchestrator. Providers are built on first use and cached per instance object, so a config
 * reload (which creates new instance objects) starts using new URLs and tokens at once while the old ones are
 * collected. Every failure is a DeliveryError; config mistakes (a removed instance, a missing token, a provider
 * not in this build) are permanent, so the outbox does not retry what no retry can fix.
 */
import type { InstanceConfig } from "./config/load.ts";
import { DeliveryError, type Delivery } from "./delivery.ts";
import type { FetchLike } from "./git/github-client.ts";
import { createGitHubRepository, type GitRepository } from "./git/github.ts";
import type { Job, OrchestratorJob, StatusJob } from "./model.ts";
import type { Logger } from "./observability/logger.ts";
import { createGitHubActionsOrchestrator, type GitHubActionsOrchestrator } from "./orchestrators/github-actions.ts";
import { postToSubscriber } from "./subscribers.ts";
import { USER_AGENT } from "./version.ts";

/** The instance settings delivery reads; a full InstanceConfig fits. */
export type DeliveryInstance = Pick<
  InstanceConfig,
  | "name"
  | "gitRepositoryType"
  | "ciCdOrchestratorType"
  | "gitHubOrgUrl"
  | "gitHubGitOpsManifestsRepoName"
  | "gitHubGitOpsRepoName"
  | "pat"
  | "orchestratorPat"
  | "commitMessagePattern"
>;

export interface NetworkDeliveryOptions {
  /** The current config's instance by name; read per job so a reload applies at once. */
  readonly instanceNamed: (name: string) => DeliveryInstance | undefined;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

interface Providers {
  repository?: GitRepository;
  orchestrator?: GitHubActionsOrchestrator;
}

function notInThisBuild(what: string, instance: DeliveryInstance): DeliveryError {
  return new DeliveryError(`${what} delivery is not available in this build yet (instance ${instance.name})`, { permanent: true });
}

function requireToken(instance: DeliveryInstance, key: "pat" | "orchestratorPat"): string {
  const token = key === "orchestratorPat" ? (instance.orchestratorPat ?? instance.pat) : instance.pat;
  if (token) return token;
  const keys = key === "orchestratorPat" ? "no orchestratorPat and no pat: set orchestratorPat or pat" : "no pat: set pat";
  throw new DeliveryError(`instance ${instance.name} has ${keys} (e.g. \${GITHUB_TOKEN})`, { permanent: true });
}

/** `subscriber:<name>` (src/targets.ts) → `<name>`, for messages. */
function subscriberNameOf(target: string): string | undefined {
  return target.startsWith("subscriber:") ? target.slice("subscriber:".length) : undefined;
}

export function createNetworkDelivery(options: NetworkDeliveryOptions): Delivery {
  const log = options.logger.child({ component: "network-delivery" });
  const cache = new WeakMap<DeliveryInstance, Providers>();
  const providersOf = (instance: DeliveryInstance): Providers => {
    let providers = cache.get(instance);
    if (!providers) cache.set(instance, (providers = {}));
    return providers;
  };

  function repositoryOf(instance: DeliveryInstance): GitRepository {
    if (instance.gitRepositoryType === "AZDO") throw notInThisBuild("Azure Repos", instance);
    const providers = providersOf(instance);
    providers.repository ??= createGitHubRepository({
      instance,
      token: requireToken(instance, "pat"),
      userAgent: USER_AGENT,
      fetch: options.fetch,
      logger: log.child({ provider: "github", instance: instance.name }),
    });
    return providers.repository;
  }

  function orchestratorOf(instance: DeliveryInstance): GitHubActionsOrchestrator {
    const providers = providersOf(instance);
    if (!providers.orchestrator) {
      const token = requireToken(instance, "orchestratorPat");
      const repository = repositoryOf(instance);
      providers.orchestrator = createGitHubActionsOrchestrator({
        instance,
        token,
        readCommitMessage: (sha, signal) => repository.readCommitMessage(sha, signal),
        userAgent: USER_AGENT,
        fetch: options.fetch,
        logger: log.child({ orchestrator: "github-actions", instance: instance.name }),
      });
    }
    return providers.orchestrator;
  }

  async function deliverStatus(instance: DeliveryInstance, job: StatusJob, signal: AbortSignal) {
    await repositoryOf(instance).postStatus(job.payload, signal);
  }

  async function deliverToOrchestrator(instance: DeliveryInstance, job: OrchestratorJob, signal: AbortSignal) {
    switch (instance.ciCdOrchestratorType) {
      case "GITHUB":
        return orchestratorOf(instance).notify(job.payload, signal);
      case "AZDO":
        throw notInThisBuild("Azure Pipelines", instance);
      case "NONE":
        log.debug({ instance: instance.name, commit: job.payload.commit }, "orchestrator NONE: nothing to notify");
        return;
    }
  }

  return {
    async deliver(job: Job, signal: AbortSignal) {
      const instance = options.instanceNamed(job.instance);
      if (!instance)
        throw new DeliveryError(
          `instance ${job.instance} is no longer configured; its ${job.kind} job for ${job.target} cannot be delivered`,
          { permanent: true },
        );
      switch (job.kind) {
        case "status":
          return deliverStatus(instance, job, signal);
        case "subscriber":
          return postToSubscriber(job.payload, signal, options.fetch, subscriberNameOf(job.target));
        case "orchestrator":
          return deliverToOrchestrator(instance, job, signal);
      }
    },
  };
}
