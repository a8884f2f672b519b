/**
 * Building blocks for the config schema: valibot schemas whose messages say what would fix the value.
 * Every message describes a value by its type unless the value is a harmless scalar (an enum word, a
 * number); tokens go through `secretText`, whose messages never show the value.
 *
 * Numbers and booleans also accept their string spelling, because `${PORT:-8080}` expands to a string.
 */
import * as v from "valibot";
import { describeType, showValue } from "./errors.ts";

type Message = (issue: v.BaseIssue<unknown>) => string;

export { isRecord, strictObject, type ObjectRules, type ReportIssue } from "./strict-object.ts";

function blankToUndefined(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : value;
}

/** Required, non-empty text. `what` completes "must be …". */
export function text(what: string) {
  const message: Message = (issue) => `must be ${what} (got ${describeType(issue.input)})`;
  return v.pipe(v.string(message), v.nonEmpty(`must not be empty; set it to ${what}`));
}

/** Optional text; an empty string or an empty YAML value counts as not set (Helm charts default to ""). */
export function optionalText(what: string) {
  const message: Message = (issue) => `must be ${what} (got ${describeType(issue.input)})`;
  return v.optional(v.pipe(v.nullable(v.string(message)), v.transform(blankToUndefined)));
}

/**
 * The shortest token accepted. Every token is redacted wherever it appears in the output, so a one-character one
 * would turn every `x` of every log line into `[REDACTED]`; real tokens (GitHub 40, Azure DevOps 52 characters)
 * and any HMAC key worth the name are far longer.
 */
export const MIN_SECRET_LENGTH = 8;

function longEnough<T extends string | undefined>() {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const value = dataset.value;
    if (value === undefined || value === "" || value.length >= MIN_SECRET_LENGTH) return;
    addIssue({
      message:
        `is ${value.length} characters; a token that short would be redacted everywhere it appears in the logs: ` +
        `use a real one (at least ${MIN_SECRET_LENGTH} characters)`,
    });
  });
}

/** A token: optional like `optionalText`, at least MIN_SECRET_LENGTH long, and its messages never contain the value. */
export function secretText() {
  return v.pipe(optionalText("a token given as quoted text"), longEnough<string | undefined>());
}

/** A list of tokens; empty entries are dropped later, so `- ${OLD_KEY:-}` can stand for "none". */
export function secretList() {
  return v.optional(
    v.array(
      v.pipe(
        v.nullable(v.string((issue) => `must be a token given as quoted text (got ${describeType(issue.input)})`)),
        v.transform((value) => value ?? ""),
        longEnough<string>(),
      ),
      (issue) => `must be a list of tokens (got ${describeType(issue.input)})`,
    ),
  );
}

/**
 * An optional numeric id written as a number or as text (`gitHubAppId: 123456`, or `"${APP_ID}"`), kept as text;
 * an empty value counts as not set.
 */
export function optionalNumericId(what: string) {
  const message = `must be ${what}, a whole number`;
  return v.optional(
    v.pipe(
      v.nullable(v.union([v.string(), v.number()], (issue) => `${message} (got ${describeType(issue.input)})`)),
      v.transform((value) => (value === null || value === "" ? undefined : String(value).trim())),
      v.optional(v.pipe(v.string(), v.regex(/^[1-9]\d*$/, message))),
    ),
  );
}

/** `FLUX or ARGOCD`, `GITHUB, AZDO or NONE`. */
export function oneOf(options: readonly string[]): string {
  return options.length < 2 ? options.join("") : `${options.slice(0, -1).join(", ")} or ${options.at(-1)}`;
}

export function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const protocol = new URL(value).protocol;
  return protocol === "http:" || protocol === "https:";
}

/** A required absolute http(s) URL; the value is not echoed (URLs can carry credentials). */
export function httpUrl(example: string) {
  const message = `must be an absolute http(s) URL such as ${example}`;
  return v.pipe(
    v.string((issue) => `${message} (got ${describeType(issue.input)})`),
    v.check(isHttpUrl, message),
  );
}

/** An optional absolute http(s) URL; empty counts as not set. */
export function optionalHttpUrl(example: string) {
  const message = `must be an absolute http(s) URL such as ${example}`;
  return v.optional(
    v.pipe(
      v.nullable(v.string((issue) => `${message} (got ${describeType(issue.input)})`)),
      v.transform(blankToUndefined),
      v.optional(v.pipe(v.string(), v.check(isHttpUrl, message))),
    ),
  );
}

/** One of a fixed set of words, case-sensitive as the original; the message lists the choices. */
export function choice<const T extends readonly [string, ...string[]]>(options: T) {
  return v.picklist(options, (issue) => {
    const upper = typeof issue.input === "string" ? issue.input.toUpperCase() : undefined;
    const hint = options.find((option) => option.toUpperCase() === upper && option !== issue.input);
    const got = issue.input === undefined ? "" : ` (got ${showValue(issue.input)})`;
    return `must be ${oneOf(options)}${got}${hint ? `; write ${hint}` : ""}`;
  });
}

function numberFromText(value: unknown): unknown {
  return typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
}

/** A whole number in a range; numeric strings are accepted (expanded values are strings). */
export function integer(min: number, max?: number) {
  const range = max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  const message: Message = (issue) => `must be ${range} (got ${showValue(issue.input)})`;
  return v.pipe(
    v.unknown(),
    v.transform(numberFromText),
    v.number(message),
    v.check((n) => Number.isInteger(n) && n >= min && (max === undefined || n <= max), message),
  );
}

/** A positive number (fractions allowed, e.g. hours); numeric strings are accepted. */
export function positiveNumber() {
  const message: Message = (issue) => `must be a number greater than 0 (got ${showValue(issue.input)})`;
  return v.pipe(
    v.unknown(),
    v.transform(numberFromText),
    v.number(message),
    v.check((n) => Number.isFinite(n) && n > 0, message),
  );
}

/** true or false; the strings "true" and "false" are accepted. */
export function flag() {
  return v.pipe(
    v.unknown(),
    v.transform((value) => (value === "true" ? true : value === "false" ? false : value)),
    v.boolean((issue) => `must be true or false (got ${showValue(issue.input)})`),
  );
}

/** A list of non-empty strings; secret lists never echo their items. */
export function textList(what: string) {
  return v.array(text(what), (issue) => `must be a list of ${what}s (got ${describeType(issue.input)})`);
}

/** A section that may be left out or left empty (`auth:`), in which case every default applies. */
export function section<S extends v.GenericSchema>(schema: S) {
  return v.pipe(
    v.optional(v.nullable(v.unknown()), {}),
    v.transform((value) => value ?? {}),
    schema,
  );
}
