/**
 * Legacy single-instance mode (DESIGN §5): with no config file and GIT_REPOSITORY_TYPE set, one instance
 * named `singleInstance` is built from the original connector's environment variables, and its subscribers
 * from the files in the subscribers directory, as the original Helm chart mounts them (one file per
 * subscriber, the file name is the name, the content one URL). The result goes through the same schema as
 * a file, and errors name the environment variable (or subscriber file) that needs fixing.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { formatPath, type ConfigError, type LocatedError } from "../schema/errors.ts";

export const LEGACY_INSTANCE_NAME = "singleInstance";

/** Instance key → the original's environment variable. ORCHESTRATOR_PAT is ours (DESIGN §9, separate tokens). */
export const LEGACY_ENV_VARIABLES = {
  gitRepositoryType: "GIT_REPOSITORY_TYPE",
  ciCdOrchestratorType: "CICD_ORCHESTRATOR_TYPE",
  gitOpsOperatorType: "GITOPS_OPERATOR_TYPE",
  gitOpsAppURL: "GITOPS_APP_URL",
  azdoGitOpsRepoName: "AZDO_GITOPS_REPO_NAME",
  azdoPrRepoName: "AZDO_PR_REPO_NAME",
  azdoOrgUrl: "AZDO_ORG_URL",
  gitHubGitOpsRepoName: "GITHUB_GITOPS_REPO_NAME",
  gitHubGitOpsManifestsRepoName: "GITHUB_GITOPS_MANIFEST_REPO_NAME",
  gitHubOrgUrl: "GITHUB_ORG_URL",
  pat: "PAT",
  orchestratorPat: "ORCHESTRATOR_PAT",
} as const;

type Env = Readonly<Record<string, string | undefined>>;

export function isLegacyEnvMode(env: Env): boolean {
  return !!env.GIT_REPOSITORY_TYPE;
}

export interface SubscriberFiles {
  readonly subscribers: Record<string, string>;
  readonly errors: ConfigError[];
}

/**
 * Reads `<dir>/<name>` files as subscribers. Dotfiles and Kubernetes' `..data`/`..<timestamp>` entries are
 * skipped (the visible names are symlinks into them); directories are skipped; no directory means none.
 */
export function readSubscriberFiles(dir: string, readFile: (path: string) => string = (path) => readFileSync(path, "utf8")): SubscriberFiles {
  const subscribers: Record<string, string> = {};
  const errors: ConfigError[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { subscribers, errors };
    return { subscribers, errors: [{ path: dir, message: `cannot list the subscribers directory: ${String(code ?? error)}` }] };
  }
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      subscribers[name] = readFile(path).trim();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      errors.push({ path, message: `cannot read subscriber file: ${String(code ?? error)}; fix its permissions or remove it` });
    }
  }
  return { subscribers, errors };
}

/** The config tree legacy mode stands for: defaults for every section, one instance from the environment. */
export function legacyEnvToTree(env: Env, subscribers: Record<string, string>): Record<string, unknown> {
  const instance: Record<string, unknown> = { name: LEGACY_INSTANCE_NAME, subscribers };
  for (const [key, variable] of Object.entries(LEGACY_ENV_VARIABLES)) {
    const value = env[variable];
    if (value !== undefined && value !== "") instance[key] = value;
  }
  return { instances: [instance] };
}

const KEY_PATTERN = new RegExp(`\\b(${Object.keys(LEGACY_ENV_VARIABLES).join("|")})\\b`, "g");

/**
 * Renames a schema error for legacy mode: `instances[0].gitOpsAppURL` becomes `GITOPS_APP_URL`, a subscriber
 * becomes its file, and key names in the message become variable names ("when GIT_REPOSITORY_TYPE is AZDO").
 */
export function toLegacyError(error: LocatedError, subscribersDir: string): ConfigError {
  const message = error.message.replace(KEY_PATTERN, (key) => LEGACY_ENV_VARIABLES[key as keyof typeof LEGACY_ENV_VARIABLES]);
  const [section, index, key, ...rest] = error.path;
  if (section === "instances" && index === 0 && typeof key === "string") {
    if (key in LEGACY_ENV_VARIABLES && rest.length === 0)
      return { path: LEGACY_ENV_VARIABLES[key as keyof typeof LEGACY_ENV_VARIABLES], message };
    if (key === "subscribers" && typeof rest[0] === "string")
      return { path: join(subscribersDir, rest[0]), message: `${message} (the file holds one subscriber URL)` };
  }
  return { path: formatPath(error.path), message };
}
