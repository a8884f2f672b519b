/**
 * valibot's `strictObject` reports only the first unknown key of an object; this one reports every unknown
 * key (with a "did you mean" when one is close), says what to set for a missing required key, and runs
 * cross-field rules even when other fields of the object failed, so one run yields every error.
 */
import * as v from "valibot";
import { describeType } from "./errors.ts";

type Message = (issue: v.BaseIssue<unknown>) => string;

/** Rule callback for `strictObject`: report a problem at a path relative to the object. */
export type ReportIssue = (path: readonly (string | number)[], message: string) => void;
export type ObjectRules = (value: Record<string, unknown>, report: ReportIssue) => void;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const close = known
    .map((name) => ({ name, distance: editDistance(key, name) }))
    .filter(({ distance }) => distance <= Math.max(1, Math.floor(key.length / 4)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (close) return `unknown key; did you mean ${close.name}?`;
  return `unknown key; remove it or use one of: ${known.join(", ")}`;
}

/**
 * An object that rejects unknown keys, reporting every one (valibot's `strictObject` stops at the first),
 * with hints for missing required keys and optional cross-field rules that run even when other fields fail.
 */
export function strictObject<const E extends v.ObjectEntries>(
  entries: E,
  required: Partial<Record<keyof E & string, string>> = {},
  rules?: ObjectRules,
) {
  const known = Object.keys(entries);
  const hints: Partial<Record<string, string>> = required;
  const message: Message = (issue) => {
    const key = issue.path?.[0]?.key;
    if (issue.input === undefined && typeof key === "string") {
      const hint = hints[key];
      return hint ? `required; set it to ${hint}` : "required";
    }
    return `must be a mapping of keys to values (got ${describeType(issue.input)})`;
  };
  return v.pipe(
    v.looseObject(entries, message),
    v.rawCheck(({ dataset, addIssue }) => {
      const value: unknown = dataset.value;
      if (!isRecord(value)) return;
      const report: ReportIssue = (path, text) => {
        const [first, ...rest] = path.map(
          (key): v.UnknownPathItem => ({ type: "unknown", origin: "value", input: value, key, value: undefined }),
        );
        if (first) addIssue({ message: text, path: [first, ...rest] });
      };
      for (const key of Object.keys(value)) {
        if (!known.includes(key)) {
          addIssue({
            message: unknownKeyMessage(key, known),
            path: [{ type: "object", origin: "key", input: value, key, value: value[key] }],
          });
        }
      }
      rules?.(value, report);
    }),
    // Only reached without issues, so no unknown key is left: the loose output is the strict one.
    v.transform((value) => value as v.InferOutput<v.ObjectSchema<E, undefined>>),
  );
}
