/**
 * Gitea's and GitLab's first-parent walk over an object literal that `satisfies` JsonHttp, no HTTP: one read a
 * commit, head first, stopping at base, and nothing (rather than a part) when base lies beyond the limit. The
 * wire is covered against the loopback fake (gitea.test.ts, gitlab.test.ts) and the vendors' descriptions.
 */
import { describe, expect, test } from "bun:test";
import type { JsonHttp } from "../../src/clients/json-http.ts";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { createGiteaRepository } from "../../src/git/gitea.ts";
import { createGitLabRepository } from "../../src/git/gitlab.ts";

/** A straight history c0 ← c1 ← … ← c9, answered as each API spells a commit. */
const SHAS: readonly string[] = Array.from({ length: 10 }, (_, i) => `c${i}`.padEnd(40, "0"));
const parentOf = (i: number) => (i > 0 ? SHAS[i - 1]! : undefined);

function historyHttp(answer: (sha: string, parent: string | undefined) => unknown) {
  const reads: string[] = [];
  const http = {
    async send(request) {
      expect(request.method).toBe("GET");
      const sha = SHAS.find((candidate) => request.url.includes(`/${candidate}`))!;
      reads.push(sha);
      return answer(sha, parentOf(SHAS.indexOf(sha)));
    },
  } satisfies JsonHttp;
  return { http, reads };
}

const deps = { credentials: tokenCredentials("unused"), userAgent: USER_AGENT };
const signal = () => AbortSignal.timeout(5_000);

const cases = [
  {
    name: "Gitea",
    create: (http: JsonHttp) =>
      createGiteaRepository({ ...deps, http, instance: { name: "apps-gitea", giteaOrgUrl: "https://gitea.example.com/api/v1/repos/org", giteaGitOpsManifestsRepoName: "manifests" } }),
    commit: (sha: string, parent: string | undefined) => ({ sha, commit: { message: "deploy", committer: { date: "2026-12-01T00:00:00Z" } }, parents: parent ? [{ sha: parent }] : [] }),
  },
  {
    name: "GitLab",
    create: (http: JsonHttp) => createGitLabRepository({ ...deps, http, instance: { name: "apps-gitlab", gitLabUrl: "https://gitlab.com", gitLabGitOpsManifestsProject: "group/manifests" } }),
    commit: (sha: string, parent: string | undefined) => ({ id: sha, message: "deploy", committed_date: "2026-12-01T00:00:00Z", parent_ids: parent ? [parent] : [] }),
  },
];

describe.each(cases)("$name's commitsBetween over a JsonHttp literal", ({ create, commit }) => {
  test("reads head, then each first parent back to base, and answers the commits between oldest first", async () => {
    const { http, reads } = historyHttp(commit);
    const chain = await create(http).commitsBetween(SHAS[2]!, SHAS[6]!, 100, signal());
    expect(chain.map((entry) => entry.sha)).toEqual(SHAS.slice(3, 6));
    expect(reads).toEqual(SHAS.slice(3, 7).toReversed());
  });

  test("answers nothing when base lies beyond the limit, after at most limit + 1 reads", async () => {
    const { http, reads } = historyHttp(commit);
    expect(await create(http).commitsBetween(SHAS[0]!, SHAS[9]!, 3, signal())).toEqual([]);
    expect(reads.length).toBeLessThanOrEqual(4);
  });
});
