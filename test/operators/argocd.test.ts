import { describe, expect, test } from "bun:test";
import type { TranslationOptions } from "../../src/core/model.ts";
import { argoCdOutcome, summariseResources, translateArgoCd } from "../../src/operators/argocd.ts";
import { type Expectation, SHA, type StatusRow, expectTranslation, fixtureNames, loadFixture } from "./fixtures.ts";

const OPTIONS: TranslationOptions = { statusContext: "default", instanceName: "manifests-dev" };
const LEGACY: TranslationOptions = { statusContext: "legacy", instanceName: "manifests-dev" };
const APP = "application/guestbook";

/** The three statuses of `application/<app>`: phase state (description `<phase>: <message>`), sync, health. */
function statuses(phase: string, [sync, syncSummary]: [string, string], [health, healthSummary]: [string, string], base = APP): StatusRow[] {
  return [
    [base, "Phase", phase, (message) => `${phase}: ${message}`],
    [`${base}/sync`, "Sync", sync, syncSummary],
    [`${base}/health`, "Health", health, healthSummary],
  ];
}

/** Every fixture in test/fixtures/argocd, by file name. */
const EXPECTATIONS: Record<string, Expectation> = {
  "running-progressing.json": {
    commit: SHA[0],
    statuses: statuses("Running", ["OutOfSync", "2/3 Synced, 1/3 OutOfSync"], ["Progressing", "1/3 Healthy, 1/3 Progressing"]),
  },
  "succeeded-healthy.json": {
    commit: SHA[0],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["Synced", "4/4 Synced"], ["Healthy", "3/4 Healthy"]),
  },
  "succeeded-progressing.json": {
    commit: SHA[1],
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Progressing", "1/2 Healthy, 1/2 Progressing"]),
  },
  "succeeded-degraded.json": {
    commit: SHA[2],
    outcome: "failed",
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Degraded", "1/2 Healthy, 1/2 Degraded"]),
  },
  "failed.json": {
    commit: SHA[3],
    outcome: "failed",
    statuses: statuses("Failed", ["OutOfSync", "1/2 Synced, 1/2 OutOfSync"], ["Healthy", "2/2 Healthy"]),
  },
  "error.json": {
    commit: SHA[4],
    outcome: "failed",
    statuses: statuses("Error", ["Unknown", "2/2 Unknown"], ["Healthy", "2/2 Healthy"]),
  },
  "succeeded-missing.json": {
    commit: SHA[5],
    outcome: "failed",
    statuses: statuses("Succeeded", ["OutOfSync", "1/2 Synced, 1/2 OutOfSync"], ["Missing", "1/2 Healthy, 1/2 Missing"]),
  },
  "terminating.json": {
    commit: SHA[6],
    statuses: statuses("Terminating", ["OutOfSync", "1/2 Synced, 1/2 OutOfSync"], ["Progressing", "1/2 Healthy, 1/2 Progressing"]),
  },
  "succeeded-out-of-sync.json": {
    commit: SHA[7],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["OutOfSync", "1/3 OutOfSync, 2/3 Synced"], ["Healthy", "2/3 Healthy"]),
  },
  // argoproj/argo-cd#29575: an early failure leaves operation.sync.revision empty; the compared revision stands in.
  "argo3-early-failure-empty-revision.json": {
    commit: SHA[11],
    outcome: "failed",
    statuses: statuses("Error", ["Unknown", "2/2 Synced"], ["Healthy", "Healthy (no per-resource health reported)"]),
  },
  // argoproj/argo-cd#16601: status.sync.revision is the repository's head; the synced commit is reported.
  "argo3-sync-revision-is-repo-head.json": {
    commit: SHA[10],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Healthy", "Healthy (no per-resource health reported)"]),
  },
  // A multi-source application: the first git commit of its revisions (the chart's source has a version there).
  "argo3-multi-source-revisions.json": {
    commit: SHA[10],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Healthy", "Healthy (no per-resource health reported)"]),
  },
  // argoproj/argo-cd#28926: Succeeded while the operation has not finished is not a finish.
  "argo3-succeeded-before-finished.json": {
    commit: SHA[10],
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Healthy", "Healthy (no per-resource health reported)"]),
  },
  // A manual sync of a branch: commitid is the branch name, the synced commit is in syncResult.revision.
  "argo3-manual-sync-of-a-branch.json": {
    commit: SHA[10],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Healthy", "Healthy (no per-resource health reported)"]),
  },
  "argo3-without-health.json": {
    commit: SHA[8],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["Synced", "3/3 Synced"], ["Healthy", "Healthy (no per-resource health reported)"]),
  },
  "without-app.json": {
    commit: SHA[10],
    outcome: "succeeded",
    statuses: statuses("Succeeded", ["Synced", "2/2 Synced"], ["Healthy", "2/2 Healthy"], "application/manifests-dev"),
  },
  "no-value-commit.json": { ignored: "commitid is empty or <no value>" },
  "empty-commitid.json": { ignored: "commitid is empty or <no value>" },
  "null-resources.json": { ignored: "resources is null or missing" },
  "missing-resources.json": { ignored: "resources is null or missing" },
  "helm-chart-version-commitid.json": { ignored: 'commitid "6.5.4" is not a git commit SHA' },
};

interface ArgoFixture {
  readonly message: string;
  readonly app?: string;
}

const FILES = fixtureNames("argocd");

describe("translateArgoCd fixtures", () => {
  test("every fixture has an expectation and every expectation a fixture", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(12);
    expect(FILES).toEqual(Object.keys(EXPECTATIONS).sort());
  });

  test.each(FILES)("%s", async (file) => {
    const payload = (await loadFixture("argocd", file)) as ArgoFixture;
    const expected = EXPECTATIONS[file];
    if (!expected) throw new Error(`no expectation for ${file}`);
    const translation = translateArgoCd(payload, OPTIONS);
    expectTranslation(translation, expected, payload.message);
    if (translation.kind === "observation") {
      expect(translation.observation.operator).toBe("ARGOCD");
      expect(translation.observation.genre).toBe("ArgoCD");
      expect(translation.observation.reconciler).toEqual({ kind: "Application", name: payload.app ?? "manifests-dev" });
    }
  });

  test.each(FILES)("%s with legacy contexts uses Phase, Sync and Health", async (file) => {
    const payload = await loadFixture("argocd", file);
    const ours = translateArgoCd(payload, OPTIONS);
    const legacy = translateArgoCd(payload, LEGACY);
    if (ours.kind !== "observation" || legacy.kind !== "observation") {
      expect(legacy).toEqual(ours);
      return;
    }
    expect(legacy.observation.statuses.map((status) => status.context)).toEqual(["Phase", "Sync", "Health"]);
    expect(legacy.observation.statuses.map(({ context: _c, ...rest }) => rest)).toEqual(
      ours.observation.statuses.map(({ context: _c, ...rest }) => rest),
    );
  });
});

describe("translateArgoCd edge cases", () => {
  const body = {
    commitid: SHA[0],
    phase: "Succeeded",
    sync_status: "Synced",
    health: "Healthy",
    message: "successfully synced (all tasks run)",
    resources: [] as unknown[],
    app: "guestbook",
  };

  const invalid: [string, unknown, string][] = [
    ["null", null, "body: expected Object, received null"],
    ["an array", [body], "body: expected Object, received Array"],
    ["a numeric phase", { ...body, phase: 1 }, "phase: expected string, received 1"],
    ["no health", { ...body, health: undefined }, "health: expected string"],
    ["resources as an object", { ...body, resources: { a: 1 } }, "resources: expected Array"],
    ["a resource that is a string", { ...body, resources: ["x"] }, 'resources.0: expected Object, received "x"'],
    ["a numeric resource health", { ...body, resources: [{ status: "Synced", health: { status: 3 } }] }, "resources.0.health.status: expected string, received 3"],
    ["a numeric commitid", { ...body, commitid: 1234567 }, "commitid: expected string"],
    ["a numeric app", { ...body, app: 7 }, "app: expected string, received 7"],
  ];
  test.each(invalid)("invalid: %s", (_label, payload, error) => {
    const translation = translateArgoCd(payload, OPTIONS);
    expect(translation.kind).toBe("invalid");
    if (translation.kind === "invalid") {
      expect(translation.error).toStartWith("Argo CD notification: ");
      expect(translation.error).toContain(error);
    }
  });

  test("no resources at all: the application's own sync and health are described", () => {
    const translation = translateArgoCd({ ...body, message: "<no value>", app: "<no value>" }, OPTIONS);
    expect(translation.kind === "observation" && translation.observation.statuses).toEqual([
      { context: "application/manifests-dev", name: "Phase", state: "Succeeded", description: "Succeeded" },
      { context: "application/manifests-dev/sync", name: "Sync", state: "Synced", description: "Synced (no per-resource sync status reported)" },
      { context: "application/manifests-dev/health", name: "Health", state: "Healthy", description: "Healthy (no per-resource health reported)" },
    ]);
  });

  test("an empty phase with a commit is ignored, an upper-case SHA is lower-cased", () => {
    expect(translateArgoCd({ ...body, phase: "<no value>" }, OPTIONS)).toMatchObject({ kind: "ignored" });
    const upper = translateArgoCd({ ...body, commitid: SHA[1].toUpperCase() }, OPTIONS);
    expect(upper.kind === "observation" && upper.observation.commit).toBe(SHA[1]);
  });

  test("an environment follows the application's name in every context", async () => {
    const translation = translateArgoCd(await loadFixture("argocd", "succeeded-healthy.json"), { statusContext: "default", instanceName: "guestbook-prod", environment: "prod" });
    expect(translation.kind === "observation" && translation.observation.statuses.map((status) => status.context)).toEqual([
      "application/guestbook/prod",
      "application/guestbook/prod/sync",
      "application/guestbook/prod/health",
    ]);
  });

  test("outcome table", () => {
    expect(argoCdOutcome("Running", "Healthy")).toBeUndefined();
    expect(argoCdOutcome("Inconclusive", "Healthy")).toBeUndefined();
    expect(argoCdOutcome("Succeeded", "Progressing")).toBeUndefined();
    expect(argoCdOutcome("Succeeded", "Healthy")).toBe("succeeded");
    expect(argoCdOutcome("Succeeded", "Suspended")).toBe("failed");
    expect(argoCdOutcome("Failed", "Healthy")).toBe("failed");
  });

  test("summaries skip resources that report nothing but count them in the total", () => {
    expect(summariseResources(["Healthy", undefined, "", "Degraded", "Healthy"], 5)).toBe("2/5 Healthy, 1/5 Degraded");
    expect(summariseResources([undefined], 1)).toBeUndefined();
  });

  test("never throws on junk", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const junk = (depth: number): unknown => {
      const pick = Math.floor(random() * 8);
      if (depth > 3 || pick === 0) return [null, true, 0, "", "<no value>", "Healthy", SHA[0], {}][Math.floor(random() * 8)];
      if (pick < 4) return Array.from({ length: Math.floor(random() * 3) }, () => junk(depth + 1));
      const keys = ["commitid", "phase", "sync_status", "health", "message", "resources", "status", "app", "__proto__"];
      return Object.fromEntries(keys.filter(() => random() < 0.5).map((key) => [key, junk(depth + 1)]));
    };
    const fields = ["commitid", "phase", "sync_status", "health", "message", "resources", "app"];
    for (let i = 0; i < 2000; i += 1) {
      const payload = i % 2 ? junk(0) : { ...body, [fields[i % fields.length] as string]: junk(1) };
      expect(["observation", "ignored", "invalid"]).toContain(translateArgoCd(payload, OPTIONS).kind);
    }
  });
});
