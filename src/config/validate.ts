/**
 * Runs the schema over an expanded config tree and turns every valibot issue into a located error.
 * valibot keeps going after the first issue (no abortEarly), so one run yields every problem.
 */
import * as v from "valibot";
import { ConfigFile } from "./schema.ts";
import type { LocatedError } from "../schema/errors.ts";

export type ValidationResult =
  | { readonly ok: true; readonly value: ConfigFile }
  | { readonly ok: false; readonly errors: LocatedError[] };

function toSegment(key: unknown): string | number {
  return typeof key === "number" ? key : String(key);
}

/**
 * Our schemas set a message on everything; valibot's own default ("Invalid type: Expected … but received
 * <value>") would echo the value, so if one slips through it is replaced by a message without it.
 */
function safeMessage(issue: v.BaseIssue<unknown>): string {
  if (!/^Invalid \w+: /.test(issue.message)) return issue.message;
  return issue.expected ? `invalid value; expected ${issue.expected}` : "invalid value";
}

export function issueToError(issue: v.BaseIssue<unknown>): LocatedError {
  return { path: (issue.path ?? []).map((item) => toSegment(item.key)), message: safeMessage(issue) };
}

/** Validates and defaults a parsed config file. */
export function validateConfigFile(raw: unknown): ValidationResult {
  const result = v.safeParse(ConfigFile, raw);
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, errors: result.issues.map(issueToError) };
}
