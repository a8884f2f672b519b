import { describe, expect, test } from "bun:test";
import type { OperatorType } from "../../src/core/model.ts";
import { AZURE_REPOS_STATES, toAzureReposState } from "../../src/git/azure-repos.ts";
import { GITHUB_STATES, toGitHubState } from "../../src/git/github.ts";
import { FLUX_KNOWN_REASONS, translate } from "../../src/operators/index.ts";
import { fixtureNames, loadFixture } from "../operators/fixtures.ts";

/** The original connector's tables, except DependencyNotReady on Azure Repos (error → pending: transient). */
const ORIGINAL: [state: string, github: string, azure: string][] = [
  ["Suspended", "error", "error"],
  ["ReconciliationSucceeded", "success", "succeeded"],
  ["ReconciliationFailed", "failure", "failed"],
  ["Progressing", "pending", "pending"],
  ["DependencyNotReady", "pending", "pending"],
  ["PruneFailed", "failure", "failed"],
  ["ArtifactFailed", "failure", "failed"],
  ["BuildFailed", "failure", "failed"],
  ["HealthCheckFailed", "failure", "failed"],
  ["ValidationFailed", "failure", "failed"],
  ["NotApplicable", "success", "notApplicable"],
  ["info", "pending", "pending"],
  ["error", "failure", "failed"],
  ["Succeeded", "success", "succeeded"],
  ["Failed", "failure", "failed"],
  ["Error", "error", "error"],
  ["Inconclusive", "pending", "pending"],
  ["Running", "pending", "pending"],
  ["OutOfSync", "pending", "pending"],
  ["Synced", "success", "succeeded"],
  ["Unknown", "success", "notApplicable"],
  ["Degraded", "error", "error"],
  ["Healthy", "success", "succeeded"],
  ["Missing", "failure", "failed"],
];

/** Added with Flux 2.x and Argo CD's Terminating phase. */
const ADDED: [state: string, github: string, azure: string][] = [
  ["HealthCheckCanceled", "pending", "pending"],
  ["NewArtifact", "pending", "pending"],
  ["Terminating", "pending", "pending"],
  ...[
    "AccessDenied",
    "InvalidCELExpression",
    "FeatureGateDisabled",
    "DirectoryCreationFailed",
    "GitOperationFailed",
    "AuthenticationFailed",
    "URLInvalid",
    "StatOperationFailed",
    "ArchiveOperationFailed",
    "VerificationError",
  ].map((state): [string, string, string] => [state, "failure", "failed"]),
];

describe("state tables", () => {
  test.each([...ORIGINAL, ...ADDED])("%s → GitHub %s, Azure Repos %s", (state, github, azure) => {
    expect(toGitHubState(state)).toBe(github as ReturnType<typeof toGitHubState>);
    expect(toAzureReposState(state)).toBe(azure as ReturnType<typeof toAzureReposState>);
  });

  test("both tables name the same states, and only those listed here", () => {
    const listed = [...ORIGINAL, ...ADDED].map(([state]) => state).sort();
    expect(Object.keys(GITHUB_STATES).sort()).toEqual(listed);
    expect(Object.keys(AZURE_REPOS_STATES).sort()).toEqual(listed);
  });

  test("lookups are total: an unknown state is pending", () => {
    for (const state of ["", "ReconciliationStalled", "healthy", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(toGitHubState(state)).toBe("pending");
      expect(toAzureReposState(state)).toBe("pending");
    }
  });

  test("every Flux reason the adapter reports as a state is mapped", () => {
    for (const reason of FLUX_KNOWN_REASONS) {
      expect(Object.hasOwn(GITHUB_STATES, reason)).toBe(true);
      expect(Object.hasOwn(AZURE_REPOS_STATES, reason)).toBe(true);
    }
  });

  test.each(["Running", "Terminating", "Failed", "Error", "Succeeded", "Synced", "OutOfSync", "Unknown", "Healthy", "Progressing", "Degraded", "Suspended", "Missing"])(
    "Argo CD value %s is mapped",
    (value) => {
      expect(Object.hasOwn(GITHUB_STATES, value)).toBe(true);
      expect(Object.hasOwn(AZURE_REPOS_STATES, value)).toBe(true);
    },
  );

  const fixtures: [OperatorType, "flux" | "argocd", string][] = [
    ...fixtureNames("flux").map((file): [OperatorType, "flux", string] => ["FLUX", "flux", file]),
    ...fixtureNames("argocd").map((file): [OperatorType, "argocd", string] => ["ARGOCD", "argocd", file]),
  ];
  test.each(fixtures)("every state of %s fixture %s is mapped explicitly", async (operator, dir, file) => {
    const translation = translate(operator, await loadFixture(dir, file), { statusContext: "default", instanceName: "apps-dev" });
    if (translation.kind !== "observation") return;
    for (const status of translation.observation.statuses) {
      expect(Object.hasOwn(GITHUB_STATES, status.state)).toBe(true);
      expect(Object.hasOwn(AZURE_REPOS_STATES, status.state)).toBe(true);
    }
  });
});
