/**
 * Finds, reads and validates the config once (DESIGN §3, §5): YAML file → `${…}` expansion → schema →
 * a ready `Config`; or, with no file and GIT_REPOSITORY_TYPE set, the original's environment variables.
 * Every problem is returned at once, each with a path; nothing here logs or exits.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { formatConfigErrors, formatPath, type ConfigError, type ConfigPath, type LocatedError } from "../schema/errors.ts";
import { expandTree } from "./expand.ts";
import { hideValues, secretCandidates } from "./hide-values.ts";
import { missingTokens } from "./required-tokens.ts";
import { MIN_SECRET_LENGTH } from "../schema/parts.ts";
import { isLegacyEnvMode, legacyEnvToTree, readSubscriberFiles, toLegacyError } from "./legacy-env.ts";
import type { ConfigFile, InstanceConfig } from "./schema.ts";
import { validateConfigFile } from "./validate.ts";
import { parseYaml } from "./yaml.ts";

export { formatConfigErrors, type ConfigError };
export type { InstanceConfig };
export { describeInstance } from "./describe.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** The validated, defaulted config, plus every token value (for the logger's redactor) and where it came from. */
export type Config = ConfigFile & {
  /** Every pat, orchestratorPat, HMAC key and bearer token value; the logger redacts these. */
  readonly secrets: readonly string[];
  /**
   * Tokens a live run needs and the config lacks (src/config/required-tokens.ts): errors for `check-config` and
   * `serve`, warnings for `serve --dry-run`, which calls nothing.
   */
  readonly missingTokens: readonly ConfigError[];
  /** The file's absolute path, or "environment" in legacy mode. */
  readonly source: string;
};

export type LoadResult = { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly errors: ConfigError[] };

export type ConfigSource =
  | { readonly kind: "file"; readonly path: string; readonly description: string }
  | { readonly kind: "environment"; readonly description: string };

export type ConfigSourceResult = { readonly ok: true; readonly source: ConfigSource } | { readonly ok: false; readonly error: string };

export const CONFIG_ENV_VARIABLE = "GITOPS_CONNECTOR_CONFIG";

/** Where the config comes from: --config, then $GITOPS_CONNECTOR_CONFIG, then ./config.yaml, then legacy env. */
export function resolveConfigSource(options: {
  flag?: string;
  env: Env;
  cwd?: string;
  fileExists?: (path: string) => boolean;
}): ConfigSourceResult {
  const cwd = options.cwd ?? process.cwd();
  const exists = options.fileExists ?? existsSync;
  const named = (path: string, origin: string): ConfigSourceResult => {
    const absolute = resolve(cwd, path);
    if (!exists(absolute)) return { ok: false, error: `${origin} names ${absolute}, which does not exist; fix the path or create the file` };
    return { ok: true, source: { kind: "file", path: absolute, description: `${absolute} (from ${origin})` } };
  };
  if (options.flag !== undefined) {
    if (options.flag === "") return { ok: false, error: "--config needs a file path" };
    return named(options.flag, "--config");
  }
  const fromEnv = options.env[CONFIG_ENV_VARIABLE];
  if (fromEnv) return named(fromEnv, `$${CONFIG_ENV_VARIABLE}`);
  const local = resolve(cwd, "config.yaml");
  if (exists(local)) return { ok: true, source: { kind: "file", path: local, description: local } };
  if (isLegacyEnvMode(options.env))
    return { ok: true, source: { kind: "environment", description: "environment variables (legacy single-instance mode)" } };
  return {
    ok: false,
    error:
      `no config found; pass --config PATH, set ${CONFIG_ENV_VARIABLE}=PATH, create ./config.yaml (config.example.yaml shows every key), ` +
      "or set GIT_REPOSITORY_TYPE and the original connector's variables for single-instance mode",
  };
}

/** Problems in the order a reader meets them in the file; a missing key sorts with its parent. */
function ordered(errors: LocatedError[], offsetOf: (path: ConfigPath) => number): LocatedError[] {
  return errors
    .map((error, position) => ({ error, position, offset: offsetOf(error.path) }))
    .sort((a, b) => a.offset - b.offset || a.position - b.position)
    .map(({ error }) => error);
}

function startsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, index) => path[index] === segment);
}

/** Query parameters whose values are credentials (`?token=…`, `&api_key=…`, a signed URL's `sig`). */
const SECRET_QUERY_PARAMETER = /token|key|secret|passw|pwd|sig|auth|credential|code/i;

/** The credentials a subscriber URL carries: its userinfo and its credential-like query parameters. */
export function urlSecrets(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  // A user name is often a plain word (`user`, `admin`); it counts only when long enough to be a credential.
  const found = [decodeURIComponent(parsed.password), parsed.password];
  if (parsed.username.length >= MIN_SECRET_LENGTH) found.push(decodeURIComponent(parsed.username), parsed.username);
  for (const [name, value] of parsed.searchParams) if (SECRET_QUERY_PARAMETER.test(name) && value.length >= MIN_SECRET_LENGTH) found.push(value, encodeURIComponent(value));
  return found.filter((value) => value.length >= 4);
}

/** A PEM private key, whole and line by line: a message that shows a piece of it shows a line of it. */
function pemSecrets(pem: string | undefined): string[] {
  if (!pem) return [];
  return [pem, ...pem.split(/\r?\n/).filter((line) => line.length >= 16 && !line.startsWith("-----"))];
}

function collectSecrets(config: ConfigFile): string[] {
  const values = [...config.hmacKeys, ...config.bearerTokens, ...(config.outbox.url ? [config.outbox.url, ...urlSecrets(config.outbox.url)] : [])];
  for (const instance of config.instances) {
    values.push(instance.pat ?? "", instance.orchestratorPat ?? "", ...(instance.auth?.hmacKeys ?? []), ...(instance.auth?.bearerTokens ?? []));
    values.push(...pemSecrets(instance.gitHubAppPrivateKey), ...pemSecrets(instance.orchestratorGitHubAppPrivateKey));
    for (const url of Object.values(instance.subscribers)) values.push(...urlSecrets(url));
  }
  return [...new Set(values.filter((value) => value !== ""))];
}

function rawInstancesOf(tree: unknown): readonly unknown[] {
  const instances = typeof tree === "object" && tree !== null ? (tree as { instances?: unknown }).instances : undefined;
  return Array.isArray(instances) ? instances : [];
}

function finish(value: ConfigFile, source: string, tree: unknown, rename: (error: LocatedError) => ConfigError): LoadResult {
  const missing = missingTokens(value.instances, rawInstancesOf(tree)).map(rename);
  return { ok: true, config: { ...value, secrets: collectSecrets(value), missingTokens: missing, source } };
}

const formatted = (error: LocatedError): ConfigError => ({ path: formatPath(error.path), message: error.message });

/** The config's missing tokens as errors; an empty list when a live run has every token it needs. */
export function requireTokens(config: Config): LoadResult {
  return config.missingTokens.length === 0 ? { ok: true, config } : { ok: false, errors: [...config.missingTokens] };
}

/** Where `${file:…}` may read by default: next to the config, and where Kubernetes and systemd put secrets. */
export const DEFAULT_SECRET_FILE_ROOTS = ["/run/secrets", "/var/run/secrets"] as const;

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // reading it will say why
  }
}

/** The config's directory, the defaults, $CREDENTIALS_DIRECTORY and the file's own `secretFileRoots`. */
function fileRootsOf(tree: unknown, configPath: string, env: Env): string[] {
  const listed = (tree as { secretFileRoots?: unknown } | null)?.secretFileRoots;
  const own = Array.isArray(listed) ? listed.filter((root): root is string => typeof root === "string" && isAbsolute(root)) : [];
  const credentials = env.CREDENTIALS_DIRECTORY ? [env.CREDENTIALS_DIRECTORY] : [];
  return [...new Set([dirname(configPath), ...DEFAULT_SECRET_FILE_ROOTS, ...credentials, ...own].map(realpathOrSelf))];
}

/** Config files larger than this are refused before they are read ($GITOPS_CONNECTOR_MAX_CONFIG_BYTES). */
const DEFAULT_MAX_CONFIG_BYTES = 1024 * 1024;

function loadFile(path: string, env: Env, readFile: (path: string) => string): LoadResult {
  let text: string;
  const limit = Number(env.GITOPS_CONNECTOR_MAX_CONFIG_BYTES) || DEFAULT_MAX_CONFIG_BYTES;
  try {
    const size = statSync(path).size;
    if (size > limit) {
      return { ok: false, errors: [{ path, message: `the config file is ${size} bytes, over the limit of ${limit} (set GITOPS_CONNECTOR_MAX_CONFIG_BYTES to allow more)` }] };
    }
  } catch {
    // reading it says why
  }
  try {
    text = readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, errors: [{ path, message: `cannot read the config file (${String(code ?? error)})` }] };
  }
  const parsed = parseYaml(text, path);
  if (parsed.errors.length > 0) return { ok: false, errors: parsed.errors };
  if (parsed.tree === null || parsed.tree === undefined)
    return { ok: false, errors: [{ path, message: "the file is empty; it needs at least an instances: list (see config.example.yaml)" }] };

  const expanded = expandTree(parsed.tree, { env, readFile, fileRoots: fileRootsOf(parsed.tree, path, env), realpath: realpathOrSelf });
  const result = validateConfigFile(expanded.value);
  if (result.ok && expanded.errors.length === 0) return finish(result.value, path, expanded.value, formatted);
  // A value that failed to expand was validated unexpanded: its schema errors would only be noise.
  const schemaErrors = result.ok ? [] : result.errors.filter((error) => !expanded.errors.some((failed) => startsWith(error.path, failed.path)));
  const located = ordered([...expanded.errors, ...schemaErrors], parsed.offsetOf);
  const errors = hideValues(located, { secrets: secretCandidates(expanded.value), expanded: expanded.expanded });
  return { ok: false, errors: errors.map((error) => ({ path: formatPath(error.path), message: error.message })) };
}

function loadEnvironment(env: Env, subscribersDir: string, readFile: (path: string) => string): LoadResult {
  const files = readSubscriberFiles(subscribersDir, readFile);
  const tree = legacyEnvToTree(env, files.subscribers);
  const result = validateConfigFile(tree);
  const schemaErrors = result.ok ? [] : hideValues(result.errors, { secrets: secretCandidates(tree) });
  const errors = [...files.errors, ...schemaErrors.map((error) => toLegacyError(error, subscribersDir))];
  if (!result.ok || errors.length > 0) return { ok: false, errors };
  return finish(result.value, "environment", tree, (error) => toLegacyError(error, subscribersDir));
}

/** Loads and validates the config from a resolved source. Pure apart from reading files. */
export function loadConfig(options: {
  source: ConfigSource;
  env: Env;
  subscribersDir?: string;
  readFile?: (path: string) => string;
}): LoadResult {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  if (options.source.kind === "file") return loadFile(options.source.path, options.env, readFile);
  return loadEnvironment(options.env, options.subscribersDir ?? "/subscribers", readFile);
}
