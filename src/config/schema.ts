/**
 * The config file's schema (DESIGN §5, §10): the single source of the `Config` types. Instance keys keep the
 * original GitOpsConfig names so a user of the original pastes their spec unchanged; each git provider and
 * orchestrator brings its own keys (src/git/registry.ts, src/orchestrators/registry.ts). Every section rejects
 * unknown keys (a typo must not pass silently), and cross-field rules run alongside the field checks so one
 * run reports every error.
 */
import * as v from "valibot";
import { OPERATOR_TYPES } from "../core/model.ts";
import { GIT_PROVIDER_KEYS, GIT_REPOSITORY_TYPES, gitProviderOf } from "../git/registry.ts";
import { ORCHESTRATOR_KEYS, ORCHESTRATOR_TYPES } from "../orchestrators/registry.ts";
import { describeType, formatPath } from "../schema/errors.ts";
import {
  choice,
  flag,
  httpUrl,
  integer,
  isRecord,
  oneOf,
  positiveNumber,
  secretList,
  secretText,
  section,
  strictObject,
  text,
  textList,
} from "../schema/parts.ts";
import { instanceRules, Subscribers } from "./instance-rules.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

export const ServerSettings = section(
  strictObject({
    host: v.optional(text("a host name or address such as 0.0.0.0"), "0.0.0.0"),
    port: v.optional(integer(1, 65535), 8080),
    maxBodyBytes: v.optional(integer(1), 1_048_576),
    shutdownGraceMs: v.optional(integer(0), 10_000),
  }),
);
export type ServerSettings = v.InferOutput<typeof ServerSettings>;

/** The deployments page and its API (DESIGN §12): on by default, on the webhook's port unless `port` is set. */
export const UiSettings = section(
  strictObject({
    enabled: v.optional(flag(), true),
    port: v.optional(integer(1, 65535)),
  }),
);

function mergeKeys(one: string | undefined, many: readonly string[] | undefined): string[] {
  return [...new Set([one, ...(many ?? [])].filter((key): key is string => !!key))];
}

const AuthKeys = strictObject({
  hmacKey: secretText(),
  hmacKeys: secretList(),
  bearerToken: secretText(),
  bearerTokens: secretList(),
});

function toAuthSettings(auth: v.InferOutput<typeof AuthKeys>) {
  return { hmacKeys: mergeKeys(auth.hmacKey, auth.hmacKeys), bearerTokens: mergeKeys(auth.bearerToken, auth.bearerTokens) };
}

/** Webhook authentication; single keys and lists merge into lists (several keys valid during a rotation). */
export const AuthSettings = v.pipe(section(AuthKeys), v.transform(toAuthSettings));
export type AuthSettings = v.InferOutput<typeof AuthSettings>;

/**
 * An instance's own webhook keys, replacing the global `auth` for requests to that instance (Flux signs only the
 * body, so with one shared key a request captured for one instance verifies for every other). Keys that all
 * expand to nothing would silently turn authentication off for the instance, so that is an error.
 */
const InstanceAuth = v.optional(
  v.pipe(
    v.nullable(AuthKeys),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === null) {
        addIssue({ message: "is empty; give it hmacKey(s) or bearerToken(s), or remove it to use the global auth" });
        return NEVER;
      }
      const auth = toAuthSettings(dataset.value);
      if (auth.hmacKeys.length === 0 && auth.bearerTokens.length === 0) {
        addIssue({ message: "has no key or token (all empty); set one, or remove auth to use the global auth" });
        return NEVER;
      }
      return auth;
    }),
  ),
);

export const OutboxSettings = section(
  strictObject(
    {
      // sqlite: one file on one volume, one daemon (the default); postgres: replicas share `url`'s database.
      driver: v.optional(choice(["sqlite", "postgres"]), "sqlite"),
      url: secretText(),
      // false behind PgBouncer in transaction mode (no LISTEN, no prepared statements): the safety poll carries it.
      listen: v.optional(flag(), true),
      path: v.optional(text('a file path, or ":memory:"'), "outbox.db"),
      maxDepth: v.optional(integer(1), 10_000),
      maxAttempts: v.optional(integer(1), 10),
      initialBackoffMs: v.optional(integer(1), 1_000),
      maxBackoffMs: v.optional(integer(1), 300_000),
      concurrency: v.optional(integer(1, 1024), 8),
      timeoutMs: v.optional(integer(1), 10_000),
      // normal: an acknowledged webhook survives a process kill; full: also a power loss (one fsync per webhook).
      synchronous: v.optional(choice(["normal", "full"]), "normal"),
    },
    {},
    (outbox, report) => {
      const { initialBackoffMs, maxBackoffMs, driver, url } = outbox;
      if (driver === "postgres" && (typeof url !== "string" || url === "")) {
        report(["url"], 'required with driver: postgres; set it to postgres://user:password@host:5432/database (better "${file:/run/secrets/outbox-url}")');
      }
      if (driver === "postgres" && typeof url === "string" && url !== "" && !/^postgres(ql)?:\/\//.test(url)) {
        report(["url"], "must be a postgres:// or postgresql:// URL");
      }
      if (driver !== "postgres" && typeof url === "string" && url !== "") report(["url"], "is read only with driver: postgres; set driver: postgres or remove url");
      if (typeof initialBackoffMs === "number" && typeof maxBackoffMs === "number" && maxBackoffMs < initialBackoffMs)
        report(["maxBackoffMs"], `must be at least initialBackoffMs (${initialBackoffMs}); raise it or lower initialBackoffMs`);
    },
  ),
);
export type OutboxSettings = v.InferOutput<typeof OutboxSettings>;

export const SchedulerSettings = section(
  strictObject({
    abandonedPrSweepSeconds: v.optional(integer(1), 30),
    abandonedPrCutoffHours: v.optional(positiveNumber(), 72),
    pruneDoneAfterHours: v.optional(positiveNumber(), 24),
    // How often the promotions that should have advanced are looked for (a webhook Flux dropped).
    promotionReconcileSeconds: v.optional(integer(1), 60),
  }),
);
export type SchedulerSettings = v.InferOutput<typeof SchedulerSettings>;

/**
 * Connector-driven promotion (DESIGN §11): a successful Flux reconcile of `kustomization/{group}-{env}` opens
 * the next environment's PR. `api` lets `POST /api/promotions` start `new` for this instance.
 */
const InstancePromotion = section(
  strictObject({
    enabled: v.optional(flag(), false),
    api: v.optional(flag(), false),
  }),
);

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** One named instance: operator → git repository → orchestrator, with the original's key names. */
// The common keys first; then every provider's and orchestrator's, all optional here (each module's `requires`
// says which it needs, checked by instanceRules).
export const InstanceConfig = v.pipe(
  strictObject(
    {
      name: v.pipe(
        text("a name such as apps-dev"),
        v.regex(INSTANCE_NAME, "must start with a letter or digit and contain only letters, digits, '.', '_' and '-' (it is used in the URL path /gitopsphase/<name>)"),
      ),
      default: v.optional(flag(), false),
      gitOpsOperatorType: choice(OPERATOR_TYPES),
      gitRepositoryType: choice(GIT_REPOSITORY_TYPES),
      ciCdOrchestratorType: choice(ORCHESTRATOR_TYPES),
      gitOpsAppURL: httpUrl("https://github.com/org/manifests/commit"),
      ...GIT_PROVIDER_KEYS,
      ...ORCHESTRATOR_KEYS,
      pat: secretText(),
      orchestratorPat: secretText(),
      auth: InstanceAuth,
      subscribers: Subscribers,
      promotion: InstancePromotion,
      environment: v.optional(
        v.pipe(
          text("an environment name such as prod-eu"),
          v.regex(ENVIRONMENT_NAME, "must start with a letter or digit and contain only letters, digits, '.', '_' and '-' (it becomes a segment of each status context)"),
        ),
      ),
      statusContext: v.optional(choice(["default", "legacy"]), "default"),
      maxPartStatuses: v.optional(integer(0, 1000), 50),
      completionReconcilers: v.optional(
        v.pipe(
          textList("reconciler glob such as kustomization/apps-*"),
          v.minLength(1, 'list at least one glob, or remove the key to count every reconciler ("*")'),
        ),
        () => ["*"],
      ),
    },
    {
      name: "a unique name such as apps-dev (matches gitops_connector_config_name and /gitopsphase/<name>)",
      gitOpsOperatorType: oneOf(OPERATOR_TYPES),
      gitRepositoryType: oneOf(GIT_REPOSITORY_TYPES),
      ciCdOrchestratorType: oneOf(ORCHESTRATOR_TYPES),
      gitOpsAppURL: "the URL a commit status links to, e.g. https://github.com/org/manifests/commit",
    },
    instanceRules,
  ),
  v.transform((instance) => ({
    ...instance,
    ...gitProviderOf(instance.gitRepositoryType).defaults?.(instance),
    orchestratorPat: instance.orchestratorPat ?? instance.pat,
  })),
);
export type InstanceConfig = v.InferOutput<typeof InstanceConfig>;

function hasBearer(auth: unknown): boolean {
  if (!isRecord(auth)) return false;
  const many = auth.bearerTokens;
  return (typeof auth.bearerToken === "string" && auth.bearerToken !== "") || (Array.isArray(many) && many.some((token) => typeof token === "string" && token !== ""));
}

/** Duplicate names and more than one default, reported on the instance that breaks the rule. */
function instanceListRules(file: Record<string, unknown>, report: (path: (string | number)[], message: string) => void) {
  const instances = file.instances;
  if (!Array.isArray(instances)) return;
  const seen = new Map<string, number>();
  let firstDefault: number | undefined;
  instances.forEach((instance: unknown, index) => {
    if (!isRecord(instance)) return;
    const { name } = instance;
    if (typeof name === "string" && name !== "") {
      const first = seen.get(name);
      if (first === undefined) seen.set(name, index);
      else report(["instances", index, "name"], `duplicate instance name ${JSON.stringify(name)} (also ${formatPath(["instances", first, "name"])}); give each instance a unique name`);
    }
    const promotion = instance.promotion;
    if (isRecord(promotion) && promotion.api === true && !hasBearer(instance.auth) && !hasBearer(file.auth)) {
      report(["instances", index, "promotion", "api"], "opens POST /api/promotions, which must be authenticated: set auth.bearerToken on the instance or globally");
    }
    if (instance.default === true) {
      if (firstDefault === undefined) firstDefault = index;
      else report(["instances", index, "default"], `only one instance can be the default (${formatPath(["instances", firstDefault])} already is); remove default: true from all but one`);
    }
  });
}

/** The whole file; `auth` comes out flattened into `hmacKeys` and `bearerTokens`. */
export const ConfigFile = v.pipe(
  strictObject(
  {
    server: ServerSettings,
    ui: UiSettings,
    auth: AuthSettings,
    outbox: OutboxSettings,
    scheduler: SchedulerSettings,
    logLevel: v.optional(choice(LOG_LEVELS)),
    // Read raw by the loader before `${file:…}` is expanded (src/config/load.ts); validated here.
    secretFileRoots: v.optional(
      v.array(
        v.pipe(
          text("an absolute directory such as /etc/gitops-connector/secrets"),
          v.check((root) => root.startsWith("/"), "must be an absolute directory such as /etc/gitops-connector/secrets"),
        ),
        (issue) => `must be a list of directories (got ${describeType(issue.input)})`,
      ),
    ),
    instances: v.pipe(
      v.array(InstanceConfig, "must be a list of instances (each starts with '- name: …')"),
      v.minLength(1, "list at least one instance"),
    ),
  },
    { instances: "a list of instances (see config.example.yaml)" },
    instanceListRules,
  ),
  v.transform(({ auth, ...rest }) => ({ ...rest, hmacKeys: auth.hmacKeys, bearerTokens: auth.bearerTokens })),
);
export type ConfigFile = v.InferOutput<typeof ConfigFile>;
