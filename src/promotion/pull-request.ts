/**
 * A promotion PR's title, body and branch, byte-compatible with gitops-promotion (pkg/git/pull_request.go at
 * 2dad762), so either tool reads the other's PRs and a team can switch in the middle of a promotion. The metadata
 * is a hidden HTML comment on the body's first line, with their keys in their order; keys of ours come after
 * `type` (Go's decoder ignores unknown fields).
 */

export type PromotionType = "promote" | "feature";
export type PullRequestFlow = "per-app" | "per-env";

export interface PromotionState {
  readonly group: string;
  readonly app: string;
  readonly tag: string;
  readonly env: string;
  /** The base commit the change was made from (`new`) or the merged commit being promoted (`promote`). */
  readonly sha: string;
  readonly feature: string;
  readonly type: PromotionType;
  /** Ours: the digest `--digest` pinned, when one was given. */
  readonly digest?: string;
}

export function promotionTitle(state: PromotionState): string {
  return state.type === "feature"
    ? `Review ${state.group}/${state.app} feature ${state.tag} in environment ${state.env}`
    : `Promote ${state.group}/${state.app} version ${state.tag} to environment ${state.env}`;
}

/** Theirs: the metadata line, then tab-indented ENV/APP/TAG lines, no newline at the end. */
export function promotionBody(state: PromotionState): string {
  const metadata: Record<string, string> = {
    group: state.group,
    app: state.app,
    tag: state.tag,
    env: state.env,
    sha: state.sha,
    feature: state.feature,
    type: state.type,
  };
  if (state.digest !== undefined) metadata.digest = state.digest;
  return `<!-- metadata = ${goJson(metadata)} -->\n\tENV: ${state.env}\n\tAPP: ${state.app}\n\tTAG: ${state.tag}`;
}

/** `promote/<group>-<app>`, or with `per-env` `promote/<env>/<group>-<app>`; a feature's name is appended. */
export function promotionBranch(state: Pick<PromotionState, "group" | "app" | "env" | "feature" | "type">, flow: PullRequestFlow): string {
  const name = state.type === "feature" ? `${state.group}-${state.app}-${state.feature}` : `${state.group}-${state.app}`;
  return [state.type, ...(flow === "per-env" ? [state.env] : []), name].join("/");
}

/**
 * The metadata of a PR body, read the way theirs reads it (split on ` -->`, then on `<!-- metadata = `), so a body
 * either tool wrote is understood. Undefined when the body carries none; an error when it carries broken JSON.
 */
export function readPromotionBody(body: string | null | undefined): PromotionState | undefined {
  if (body === null || body === undefined) return undefined;
  const end = body.indexOf(" -->");
  if (end === -1) return undefined;
  const start = body.slice(0, end).indexOf("<!-- metadata = ");
  if (start === -1) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.slice(start + "<!-- metadata = ".length, end));
  } catch (error) {
    throw new Error(`the PR's promotion metadata is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null) throw new Error("the PR's promotion metadata is not a JSON object");
  const field = (key: string): string => {
    const value = (parsed as Record<string, unknown>)[key];
    return typeof value === "string" ? value : "";
  };
  const digest = field("digest");
  return {
    group: field("group"),
    app: field("app"),
    tag: field("tag"),
    env: field("env"),
    sha: field("sha"),
    feature: field("feature"),
    // Theirs: an empty type is a promotion (PRs written before the field existed).
    type: field("type") === "feature" ? "feature" : "promote",
    ...(digest === "" ? {} : { digest }),
  };
}

/** JSON as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
