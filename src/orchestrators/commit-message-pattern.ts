/**
 * GitHub Actions' `commitMessagePattern`: the regex that finds `runid` and `sha` in the manifests commit message
 * (named groups), compiled at load so a bad regex fails at start-up instead of at the first dispatch.
 */
import * as v from "valibot";
import { describeType } from "../schema/errors.ts";

function compileError(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The regex that finds `runid` and `sha` in the manifests commit message (named groups), compiled here.
 * Left unset, the orchestrator uses its default (the original's `split("/")[2]` and `[3]`).
 */
export const CommitMessagePattern = v.optional(
  v.pipe(
    v.string((issue) => `must be a regular expression as text (got ${describeType(issue.input)})`),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const source = dataset.value;
      const error = compileError(source);
      if (error) {
        addIssue({ message: `is not a valid regular expression (${error}); fix the pattern or remove the key` });
        return;
      }
      const missing = ["runid", "sha"].filter((group) => !source.includes(`(?<${group}>`));
      if (missing.length > 0)
        addIssue({
          message: `needs the named group${missing.length > 1 ? "s" : ""} ${missing.map((g) => `(?<${g}>…)`).join(" and ")}, e.g. deploy/(?<runid>[^/]+)/(?<sha>[^/]+)`,
        });
    }),
    v.transform((source) => new RegExp(source)),
  ),
);
