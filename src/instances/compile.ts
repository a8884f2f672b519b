/**
 * Instances compiled once per config (at start-up and at every reload): each validated instance becomes one ready
 * object holding everything the webhook, the planner, delivery and the scheduler need of it, its git repository
 * and orchestrator created from their modules (src/git/registry.ts, src/orchestrators/registry.ts). A reload
 * compiles a new set and swaps it in one step; jobs always find their instance by name in the current set.
 * Nothing here makes a call: creating a provider only prepares its client.
 */
import { tokenCredentials } from "../clients/credentials.ts";
import type { FetchLike } from "../core/http.ts";
import type { InstanceConfig } from "../config/schema.ts";
import type { OperatorType, TranslationOptions } from "../core/model.ts";
import type { PlanningInstance } from "../core/planner.ts";
import type { GitRepository } from "../git/provider.ts";
import { gitProviderOf } from "../git/registry.ts";
import type { Logger } from "../observability/logger.ts";
import type { Orchestrator } from "../orchestrators/orchestrator.ts";
import type { PromotionRepository } from "../promotion/port.ts";
import { orchestratorOf } from "../orchestrators/registry.ts";

/** Webhook keys: an instance's own replace the global ones for requests routed to it. */
export interface WebhookKeys {
  readonly hmacKeys: readonly string[];
  readonly bearerTokens: readonly string[];
}

export interface Instance {
  readonly name: string;
  /** Takes webhooks that name no instance. */
  readonly default: boolean;
  readonly operator: OperatorType;
  readonly translation: TranslationOptions;
  readonly planning: PlanningInstance;
  readonly auth?: WebhookKeys;
  readonly repository: GitRepository;
  /** Absent for NONE (statuses only). */
  readonly orchestrator?: Orchestrator;
  /** The promotion port on its repository, when `promotion.enabled` or `promotion.api` is set. */
  readonly promotion?: PromotionRepository;
  /** Subscriber name → URL; jobs name the subscriber and read its URL here when delivered. */
  readonly subscribers: Readonly<Record<string, string>>;
  /** The validated config entry, for what reads it as written (check-config's description). */
  readonly config: InstanceConfig;
}

export interface CompileDeps {
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
  /** Told every secret minted at run time (a GitHub App's installation tokens), for the logger to redact. */
  readonly onSecret?: (secret: string) => void;
}

export function compileInstance(config: InstanceConfig, deps: CompileDeps): Instance {
  const git = gitProviderOf(config.gitRepositoryType);
  const context = deps.onSecret ? { onSecret: deps.onSecret } : {};
  const credentials = git.credentialsOf?.(config, context) ?? tokenCredentials(config.pat);
  const repository = git.create(config, {
    credentials,
    userAgent: deps.userAgent,
    fetch: deps.fetch,
    logger: deps.logger.child({ provider: config.gitRepositoryType, instance: config.name }),
  });
  const promotes = config.promotion.enabled || config.promotion.api;
  const promotion = promotes
    ? git.promotion?.(config, { credentials, userAgent: deps.userAgent, fetch: deps.fetch, logger: deps.logger.child({ component: "promotion", instance: config.name }) })
    : undefined;
  const orchestratorModule = orchestratorOf(config.ciCdOrchestratorType);
  const orchestrator = orchestratorModule?.create(config, {
    repository,
    credentials: orchestratorModule.credentialsOf?.(config, { ...context, repository: credentials }) ?? tokenCredentials(config.orchestratorPat),
    userAgent: deps.userAgent,
    fetch: deps.fetch,
    logger: deps.logger.child({ orchestrator: config.ciCdOrchestratorType, instance: config.name }),
  });
  return {
    name: config.name,
    default: config.default,
    operator: config.gitOpsOperatorType,
    translation: {
      statusContext: config.statusContext,
      instanceName: config.name,
      ...(config.environment ? { environment: config.environment } : {}),
      maxParts: config.maxPartStatuses,
    },
    planning: {
      name: config.name,
      gitOpsAppURL: config.gitOpsAppURL,
      subscribers: Object.keys(config.subscribers),
      statusContext: config.statusContext,
      completionReconcilers: config.completionReconcilers,
      gitTarget: repository.target,
      ...(orchestrator ? { orchestrator: { target: orchestrator.target, policy: orchestrator.policy } } : {}),
      ...(config.promotion.enabled && promotion ? { promotion: { target: repository.target } } : {}),
    },
    ...(config.auth ? { auth: config.auth } : {}),
    repository,
    ...(orchestrator ? { orchestrator } : {}),
    ...(promotion ? { promotion } : {}),
    subscribers: config.subscribers,
    config,
  };
}

/** The config's instances, compiled, in order. */
export function compileInstances(configs: readonly InstanceConfig[], deps: CompileDeps): Instance[] {
  return configs.map((config) => compileInstance(config, deps));
}

/** Finding an instance by name in the current set. */
export function indexByName(instances: readonly Instance[]): (name: string) => Instance | undefined {
  const byName = new Map(instances.map((instance) => [instance.name, instance]));
  return (name) => byName.get(name);
}
