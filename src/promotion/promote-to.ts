/**
 * The step `new` and `promote` share: set an app's tag in one environment's manifests, read at one pinned base
 * commit, and put the change on the promotion branch's PR. Each safety rule of DESIGN §11 is here, before any
 * write: never the base branch, never a path outside `<group>/<env>/`, never an open PR's head on a commit the
 * base already has, an open PR replaced only by a newer sha, one open PR per branch. A run that died between the
 * ref move and the PR finds its commit on the branch and finishes.
 */
import { environmentNamed, type PromotionConfig } from "./config.ts";
import { editManifest, type ScalarChange } from "./edit-manifest.ts";
import type { FileContent, PromotionPullRequest, PromotionRepository } from "./port.ts";
import { promotionBody, promotionBranch, promotionTitle, readPromotionBody, type PromotionState } from "./pull-request.ts";

export interface FileChange {
  readonly path: string;
  readonly before: string;
  readonly after: string;
  readonly changes: readonly ScalarChange[];
}

export type PromotionOutcome =
  | { readonly kind: "unchanged"; readonly reason: string; readonly branch: string; readonly env?: string; readonly pullRequest?: PromotionPullRequest }
  | { readonly kind: "skipped"; readonly reason: string; readonly branch: string; readonly env?: string; readonly pullRequest?: PromotionPullRequest }
  | {
      readonly kind: "created" | "updated";
      readonly branch: string;
      readonly env: string;
      readonly commit: string;
      readonly pullRequest: PromotionPullRequest;
      readonly files: readonly FileChange[];
      readonly autoMerge: string;
    };

export class PromotionError extends Error {
  override readonly name = "PromotionError";
}

export interface PromoteToContext {
  readonly repository: PromotionRepository;
  readonly config: PromotionConfig;
  /** The base tip, resolved once: every file is read here and it is the new commit's parent. */
  readonly baseTip: string;
  readonly warn: (message: string) => void;
}

/** Flux's screen: YAML files and Kustomization files. */
const MANIFEST_FILE = /(?:\.ya?ml|(?:^|\/)Kustomization)$/;

export async function promoteTo(context: PromoteToContext, state: PromotionState): Promise<PromotionOutcome> {
  const { repository, config, baseTip } = context;
  const environment = environmentNamed(config, state.env);
  const branch = promotionBranch(state, config.prflow);
  if (branch === config.baseBranch) throw new PromotionError(`refusing to write to the base branch ${config.baseBranch}`);
  const folder = `${state.group}/${state.env}/`;

  const files = await editedFiles(context, state, folder);
  for (const file of files) {
    if (!file.path.startsWith(folder) || file.path.includes("/../")) throw new PromotionError(`refusing to change ${file.path}: outside ${folder}`);
  }

  const open = await repository.openPullRequests(branch, config.baseBranch);
  if (open.length > 1) {
    throw new PromotionError(`${open.length} open pull requests for branch ${branch} (${open.map((pr) => `#${pr.number}`).join(", ")}); close all but one`);
  }
  const existing = open[0];
  const existingState = existing === undefined ? undefined : readPromotionBody(existing.body);

  if (files.length === 0) {
    return { kind: "unchanged", reason: `${state.group}/${state.app} is already at ${state.tag} in ${state.env} on ${config.baseBranch}`, branch, env: state.env, pullRequest: existing };
  }
  if (existing !== undefined && existingState !== undefined) {
    if (existingState.tag === state.tag && existingState.sha === state.sha && existingState.env === state.env) {
      return { kind: "unchanged", reason: `pull request #${existing.number} already promotes ${state.tag} from ${short(state.sha)}`, branch, env: state.env, pullRequest: existing };
    }
    if (existingState.sha !== state.sha && existingState.sha !== "" && !(await repository.isAncestor(existingState.sha, state.sha))) {
      return {
        kind: "skipped",
        reason: `pull request #${existing.number} promotes ${short(existingState.sha)}, which is not an ancestor of ${short(state.sha)}: not replacing it with an older change`,
        branch,
        env: state.env,
        pullRequest: existing,
      };
    }
  }

  const title = promotionTitle(state);
  const body = promotionBody(state);
  const currentTip = await repository.branchTip(branch);
  const commit = (await finishedEarlier(repository, currentTip, baseTip, files)) ?? (await repository.writeBranch({
    branch,
    parent: baseTip,
    currentTip,
    message: title,
    files: files.map(({ path, after }): FileContent => ({ path, text: after })),
  }));
  if (await repository.isAncestor(commit, baseTip)) {
    throw new PromotionError(`the branch head ${short(commit)} is already in ${config.baseBranch}; a PR on it would be closed as merged`);
  }

  const pullRequest = existing === undefined
    ? await repository.createPullRequest({ branch, base: config.baseBranch, title, body })
    : await repository.updatePullRequest(existing.number, { title, body });
  const autoMerge = environment.auto ? await requestAutoMerge(repository, pullRequest, config) : `not requested: ${state.env} is not auto`;
  return { kind: existing === undefined ? "created" : "updated", branch, env: state.env, commit, pullRequest, files, autoMerge };
}

async function editedFiles(context: PromoteToContext, state: PromotionState, folder: string): Promise<FileChange[]> {
  const { repository, baseTip, warn } = context;
  const listed = (await repository.listFiles(baseTip, folder)).filter((file) => MANIFEST_FILE.test(file.path));
  let marked = 0;
  const changed: FileChange[] = [];
  for (const file of listed) {
    const text = await repository.readFile(baseTip, file);
    if (!text.includes('"$imagepolicy"')) continue;
    const edit = editManifest(text, state);
    if (edit.kind === "unparsable") warn(`${file.path}: skipped, not valid YAML (${edit.message})`);
    if (edit.kind === "unchanged") marked += 1;
    if (edit.kind === "edited") {
      marked += 1;
      changed.push({ path: file.path, before: text, after: edit.text, changes: edit.changes });
    }
  }
  if (marked === 0) {
    throw new PromotionError(`no "$imagepolicy": "${state.group}:${state.app}" marker under ${folder} at ${short(baseTip)} (group ${state.group}, app ${state.app}, environment ${state.env})`);
  }
  return changed;
}

/** A run that died after moving the branch: the tip already holds exactly these files on top of the base. */
async function finishedEarlier(repository: PromotionRepository, tip: string | undefined, baseTip: string, files: readonly FileChange[]): Promise<string | undefined> {
  if (tip === undefined || tip === baseTip || !(await repository.isAncestor(baseTip, tip))) return undefined;
  for (const file of files) {
    if ((await repository.readPath(tip, file.path)) !== file.after) return undefined;
  }
  return tip;
}

async function requestAutoMerge(repository: PromotionRepository, pullRequest: PromotionPullRequest, config: PromotionConfig): Promise<string> {
  const outcome = await repository.enableAutoMerge(pullRequest, config.mergeMethod);
  if (outcome.kind === "enabled") return `auto-merge (${config.mergeMethod}) enabled`;
  if (outcome.kind === "merged") return `merged (${config.mergeMethod}): it was already mergeable`;
  throw new PromotionError(`pull request #${pullRequest.number} is open, but auto-merge could not be enabled: ${outcome.message}`);
}

export function short(sha: string): string {
  return sha.slice(0, 7);
}
