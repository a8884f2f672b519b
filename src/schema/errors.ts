/**
 * How the config module reports problems: every error carries the path of the value it is about
 * (`instances[1].azdoOrgUrl`) and a message that says what would fix it. Messages never carry the value of
 * a token; the helpers here only ever print a secret's type, never the secret.
 */

/** One problem found while resolving, reading, expanding or validating the config. */
export interface ConfigError {
  /** Dotted/indexed path (`instances[0].pat`), a `file:line:col` position, or an environment variable name. */
  readonly path: string;
  readonly message: string;
}

/** A path as segments: object keys and array indexes. */
export type ConfigPath = readonly (string | number)[];

/** An error whose path is still segments, so callers can filter, sort and rename it. */
export interface LocatedError {
  readonly path: ConfigPath;
  readonly message: string;
}

/** Keys whose values are tokens: their values are never shown in a message. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "pat",
  "orchestratorPat",
  "hmacKey",
  "hmacKeys",
  "bearerToken",
  "bearerTokens",
  "gitHubAppPrivateKey",
  "orchestratorGitHubAppPrivateKey",
]);

/** `["instances", 1, "azdoOrgUrl"]` → `instances[1].azdoOrgUrl`; odd keys are quoted: `subscribers["a b"]`. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** True when a value at this path is a token (so its value must not be echoed). */
export function isSecretPath(path: ConfigPath): boolean {
  return path.some((segment) => typeof segment === "string" && SECRET_KEYS.has(segment));
}

/** One line per error, `path: message`, ready for stderr or `check-config`. */
export function formatConfigErrors(errors: readonly ConfigError[]): string[] {
  return errors.map((error) => (error.path ? `${error.path}: ${error.message}` : error.message));
}

/** How a value looks in a message without showing what it holds when it could be long or secret. */
export function describeType(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return value === "" ? "an empty string" : "text";
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "a boolean";
  return typeof value;
}

/** How `showValue` quotes a string; `hideValues` looks for exactly this form. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}

/** A short rendering of a non-secret scalar for messages (`"flux"`, `0`); containers by their type only. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return describeType(value);
}
