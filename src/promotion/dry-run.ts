/**
 * `--dry-run`: the same commands over a repository that reads for real and writes nothing. Each write is told to
 * `say` as the call it would make, and answers with a stand-in (a commit `(dry run)`, PR #0), so the run goes on
 * to the end and prints everything a real one would do.
 */
import type { FileChange } from "./promote-to.ts";
import type { PromotionRepository } from "./port.ts";

export const DRY_RUN_COMMIT = "(dry run)";

export function dryRunRepository(real: PromotionRepository, say: (line: string) => void): PromotionRepository {
  return {
    ...real,
    isAncestor: (ancestor, descendant) => (ancestor === DRY_RUN_COMMIT ? Promise.resolve(false) : real.isAncestor(ancestor, descendant)),
    async writeBranch(write) {
      const where = write.currentTip === undefined ? `create branch ${write.branch}` : `move branch ${write.branch} from ${write.currentTip.slice(0, 7)}`;
      say(`would commit "${write.message}" on ${write.parent.slice(0, 7)} changing ${write.files.map((file) => file.path).join(", ")}, then ${where} to it`);
      return DRY_RUN_COMMIT;
    },
    async createPullRequest(request) {
      say(`would open a pull request ${request.branch} → ${request.base}: "${request.title}"`);
      return { number: 0, title: request.title, body: request.body, branch: request.branch, headSha: DRY_RUN_COMMIT, url: "(dry run)" };
    },
    async updatePullRequest(number, change) {
      say(`would update pull request #${number}: "${change.title}"`);
      return { ...(await real.pullRequest(number)), title: change.title, body: change.body };
    },
    async postStatus(sha, status) {
      say(`would post ${status.context} = ${status.state} on ${sha.slice(0, 7)}: ${status.description}`);
    },
    async enableAutoMerge(pullRequest, method) {
      say(`would enable auto-merge (${method}) on pull request #${pullRequest.number}, or merge it if it is already mergeable`);
      return { kind: "enabled" };
    },
  };
}

/** A unified diff of the edited lines (an edit never adds or removes lines, so each hunk is one line). */
export function formatDiff(files: readonly FileChange[]): string {
  const out: string[] = [];
  for (const file of files) {
    out.push(`--- a/${file.path}`, `+++ b/${file.path}`);
    const before = file.before.split("\n");
    const after = file.after.split("\n");
    if (before.length !== after.length) {
      out.push(`@@ -1,${before.length} +1,${after.length} @@`, ...before.map((line) => `-${line.replace(/\r$/, "")}`), ...after.map((line) => `+${line.replace(/\r$/, "")}`));
      continue;
    }
    before.forEach((line, index) => {
      if (line === after[index]) return;
      out.push(`@@ -${index + 1} +${index + 1} @@`, `-${line.replace(/\r$/, "")}`, `+${after[index]!.replace(/\r$/, "")}`);
    });
  }
  return out.join("\n");
}
