import { describe, expect, test } from "bun:test";
import { describeUnrecognised, parseChangeSet, parseHealthCheckFailures } from "../../src/operators/flux-messages.ts";
import { commitFromRevision, findFluxCommit } from "../../src/operators/flux-revision.ts";
import { SHA } from "./fixtures.ts";

describe("Flux message and revision parsing", () => {
  test("revision formats", () => {
    const sha = SHA[0];
    for (const revision of [`main@sha1:${sha}`, `refs/heads/main@sha1:${sha}`, `v1.2.3@sha1:${sha}`, `sha1:${sha}`, `main/${sha}`, `feature/x/${sha}`, sha, sha.toUpperCase()]) {
      expect(commitFromRevision(revision)).toEqual({ found: true, commit: sha });
    }
    expect(commitFromRevision("abc1234")).toEqual({ found: true, commit: "abc1234" });
    expect(commitFromRevision("abc123").found).toBe(false);
    expect(commitFromRevision(`main@sha1:${sha}0`.padEnd(80, "0")).found).toBe(false);
    expect(commitFromRevision(`latest@sha256:${"a".repeat(64)}`)).toMatchObject({ found: false });
  });

  test("change sets skip blank lines and keep unknown actions", () => {
    expect(parseChangeSet("\n  Deployment/default/podinfo configured  \r\nDeployment/default/podinfo deleted\n")).toEqual({
      groups: [{ resourceType: "Deployment", description: "1 configured, 1 deleted" }],
      warnings: 0,
      unrecognised: [],
    });
    expect(parseChangeSet("")).toEqual({ groups: [], warnings: 0, unrecognised: [] });
  });

  test("health-check lists without a detail or without a list", () => {
    expect(parseHealthCheckFailures("timeout waiting for: [Deployment/default/podinfo, Service/default/podinfo]")).toEqual([
      { resource: "Deployment/default/podinfo", detail: "" },
      { resource: "Service/default/podinfo", detail: "" },
    ]);
    expect(parseHealthCheckFailures("Health check failed after 30s")).toEqual([]);
  });

  test("an unrecognised line is quoted, shortened past 60 characters", () => {
    expect(describeUnrecognised(["stale objects pruned"])).toBe('1 unrecognised change-set line: "stale objects pruned"');
    const long = "x".repeat(100);
    expect(describeUnrecognised([long, "y"])).toBe(`2 unrecognised change-set lines, first: "${"x".repeat(59)}…"`);
  });
});

describe("findFluxCommit", () => {
  const find = (metadata: Record<string, string>, message = "", revisionInMessage = false) =>
    findFluxCommit({ metadata, message, revisionInMessage });

  test("prefers commit, then originRevision, then revision; bare keys before prefixed ones", () => {
    const all = { revision: `main@sha1:${SHA[0]}`, originRevision: `main@sha1:${SHA[1]}`, commit: SHA[2] };
    expect(find(all)).toEqual({ found: true, commit: SHA[2] });
    expect(find({ ...all, commit: "" })).toEqual({ found: true, commit: SHA[1] });
    expect(find({ revision: all.revision })).toEqual({ found: true, commit: SHA[0] });
    expect(find({ "source.toolkit.fluxcd.io/revision": `main@sha1:${SHA[3]}`, revision: all.revision })).toEqual({
      found: true,
      commit: SHA[0],
    });
    expect(find({ "source.toolkit.fluxcd.io/commit": SHA[4], revision: all.revision })).toEqual({ found: true, commit: SHA[4] });
  });

  test("the message is read only when allowed (old GitRepository events), metadata.message as well", () => {
    const message = `Fetched revision: main/${SHA[5]}`;
    expect(find({}, message, false)).toMatchObject({ found: false });
    expect(find({}, message, true)).toEqual({ found: true, commit: SHA[5] });
    expect(find({ message }, "", true)).toEqual({ found: true, commit: SHA[5] });
    expect(find({}, "Reconciliation finished", true)).toEqual({
      found: false,
      reason: "no revision: metadata or message has no commit, originRevision or revision",
    });
  });
});
