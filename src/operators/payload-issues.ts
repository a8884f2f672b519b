/**
 * Turns valibot issues into the one-line error a webhook sender gets back with a 400: each failing field by
 * its path and what it should have been (`involvedObject.kind: expected string, received 42`), so whoever
 * wrote the Alert or the Argo CD template can fix it without reading our code.
 */
import * as v from "valibot";

/** At most this many issues are named; the rest are counted. */
const MAX_ISSUES = 3;
/** A received value is echoed only this far: enough to recognise it, not a whole message back. */
const MAX_RECEIVED = 40;

type AnySchema = v.GenericSchema & {
  readonly entries?: Record<string, AnySchema>;
  readonly item?: AnySchema;
  readonly value?: AnySchema;
  readonly wrapped?: AnySchema;
};

/** The schema a path leads to, unwrapping optional/nullish on the way; undefined when the path leaves it. */
function schemaAt(root: AnySchema, keys: readonly unknown[]): AnySchema | undefined {
  let schema: AnySchema | undefined = root;
  for (const key of keys) {
    while (schema?.wrapped) schema = schema.wrapped;
    if (!schema) return undefined;
    schema = typeof key === "string" && schema.entries ? schema.entries[key] : (schema.item ?? schema.value);
  }
  while (schema?.wrapped) schema = schema.wrapped;
  return schema;
}

function describeIssue(root: AnySchema, issue: v.BaseIssue<unknown>): string {
  const path = v.getDotPath(issue) ?? "body";
  if (issue.kind === "validation") return `${path}: ${issue.message}`;
  const keys = (issue.path ?? []).map((item) => item.key);
  const missing = issue.path?.at(-1)?.origin === "key";
  const expected = (missing ? schemaAt(root, keys)?.expects : issue.expected) ?? issue.expected ?? "a value";
  if (missing) return `${path}: expected ${expected}, but it is missing`;
  const received = issue.received.length > MAX_RECEIVED ? `${issue.received.slice(0, MAX_RECEIVED - 1)}…` : issue.received;
  return `${path}: expected ${expected}, received ${received}`;
}

/** `<who>: <path>: expected …, received …; …` for the first few issues of a failed parse. */
function describePayloadIssues(
  who: string,
  schema: v.GenericSchema,
  issues: readonly v.BaseIssue<unknown>[],
): string {
  const named = issues.slice(0, MAX_ISSUES).map((issue) => describeIssue(schema as AnySchema, issue));
  const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : "";
  return `${who}: ${named.join("; ")}${more}`;
}

/**
 * valibot takes an array for an object (its keys are indices); a webhook body or string map that is a JSON
 * array is a client error, said as such.
 */
export const notAnArray = v.check((value: unknown) => !Array.isArray(value), "expected Object, received Array");

export type PayloadParse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Parses a webhook body against its schema; the error names each failing field. Never throws. */
export function parsePayload<S extends v.GenericSchema>(
  who: string,
  schema: S,
  payload: unknown,
): PayloadParse<v.InferOutput<S>> {
  if (Array.isArray(payload)) return { ok: false, error: `${who}: body: expected Object, received Array` };
  const parsed = v.safeParse(schema, payload);
  return parsed.success
    ? { ok: true, value: parsed.output }
    : { ok: false, error: describePayloadIssues(who, schema, parsed.issues) };
}
