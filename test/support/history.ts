/**
 * A manifests repository's history for the fake API (`setHistory`): two PRs merged one after the other on top of
 * a deployed commit, each PR with a commit of its own on its branch, as a merge (not squash) leaves them.
 *
 *   O ── A ── B        main (first parents)
 *    \  /    /
 *     a1    b1         the PRs' own branch commits
 */
import type { FakeCommit } from "./fake-api.ts";

const sha = (seed: string) => seed.repeat(40).slice(0, 40);

export const HISTORY_SHAS = { O: sha("0d"), a1: sha("a1"), A: sha("aa"), b1: sha("b1"), B: sha("bb"), C: sha("cc") } as const;

/** `message(pr, letter)` writes each merge commit's message (GitHub's or Azure Repos' form). */
export function twoMergedPullRequests(message: (pr: number, letter: "A" | "B") => string, hoursAgo = 1): FakeCommit[] {
  const at = (offset: number) => new Date(Date.now() - (hoursAgo * 3_600_000 - offset * 60_000)).toISOString();
  const { O, a1, A, b1, B } = HISTORY_SHAS;
  return [
    { sha: O, parents: [], message: "Initial manifests", date: at(0) },
    { sha: a1, parents: [O], message: "Bump web to 1.2.0", date: at(1) },
    { sha: A, parents: [O, a1], message: message(1, "A"), date: at(2) },
    { sha: b1, parents: [O], message: "Bump api to 2.0.1", date: at(3) },
    { sha: B, parents: [A, b1], message: message(2, "B"), date: at(4) },
  ];
}

/** GitHub's merge message for a branch the original's rule reads: `…/deploy/<runid>/<sha>/…`. */
export const gitHubMergeMessage = (pr: number, letter: "A" | "B") => `Merge pull request #${pr} from org/deploy/${letter === "A" ? "111" : "222"}/${letter.toLowerCase()}0ffee/dev`;
/** Azure Repos' merge message: `Merged PR <n>: …`. */
export const azureMergeMessage = (pr: number, letter: "A" | "B") => `Merged PR ${pr}: Deploy ${letter}`;
