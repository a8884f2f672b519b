import { describe, expect, test } from "bun:test";
import type { TranslationOptions } from "../../src/core/model.ts";
import { translateFlux } from "../../src/operators/flux.ts";
import { type Expectation, MESSAGE, SHA, expectTranslation, fixtureNames, loadFixture } from "./fixtures.ts";

const OPTIONS: TranslationOptions = { statusContext: "default", instanceName: "apps-dev" };
const LEGACY: TranslationOptions = { statusContext: "legacy", instanceName: "apps-dev" };

const FINISHED = "Reconciliation finished in 1.84s, next run in 10m0s";
const APPS = "kustomization/apps-dev";
const OCI_APPS = "kustomization/apps-oci";
const GIT = "gitrepository/flux-system";
const NA = "NotApplicable";
const HCF = "HealthCheckFailed";

/** Every fixture in test/fixtures/flux, by file name. */
const EXPECTATIONS: Record<string, Expectation> = {
  // Reasons
  "kustomization-reconciliation-succeeded.json": {
    commit: SHA[0],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-reconciliation-succeeded-commit-status-update.json": {
    commit: SHA[0],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", "Reconciliation finished in 812.4ms, next run in 10m0s"]],
  },
  "kustomization-dependency-not-ready.json": {
    commit: SHA[3],
    statuses: [[APPS, "Status", "DependencyNotReady", "dependency 'flux-system/infra-controllers' is not ready"]],
  },
  "kustomization-health-check-canceled.json": {
    commit: SHA[3],
    statuses: [[APPS, "Status", "HealthCheckCanceled", MESSAGE]],
  },
  "kustomization-reconciliation-failed.json": {
    commit: SHA[4],
    outcome: "failed",
    statuses: [[APPS, "Status", "ReconciliationFailed", MESSAGE]],
  },
  "kustomization-build-failed.json": {
    commit: SHA[4],
    outcome: "failed",
    statuses: [[APPS, "Status", "BuildFailed", MESSAGE]],
  },
  "kustomization-prune-failed.json": {
    commit: SHA[6],
    outcome: "failed",
    statuses: [[APPS, "Status", "PruneFailed", MESSAGE]],
  },
  "kustomization-artifact-failed.json": {
    commit: SHA[7],
    outcome: "failed",
    statuses: [[APPS, "Status", "ArtifactFailed", MESSAGE]],
  },
  "kustomization-validation-failed.json": {
    commit: SHA[7],
    outcome: "failed",
    statuses: [[APPS, "Status", "ValidationFailed", "Manifests validation failed."]],
  },
  "kustomization-invalid-cel-expression.json": {
    commit: SHA[8],
    outcome: "failed",
    statuses: [[APPS, "Status", "InvalidCELExpression", MESSAGE]],
  },
  "kustomization-unknown-reason-error.json": {
    commit: SHA[8],
    outcome: "failed",
    statuses: [[APPS, "Status", "error", "failed to decrypt secret podinfo/podinfo-credentials: sops metadata not found"]],
  },
  "kustomization-unknown-reason-info.json": {
    commit: SHA[8],
    statuses: [[APPS, "Status", "info", "Deployment/podinfo/podinfo drifted: spec.replicas changed from 2 to 3"]],
  },
  // Progressing change sets
  "kustomization-progressing.json": {
    commit: SHA[1],
    statuses: [
      [APPS, "Status", "Progressing", "Reconciliation underway."],
      [`${APPS}/customresourcedefinition`, "CustomResourceDefinition", NA, "1 created"],
      [`${APPS}/namespace`, "Namespace", NA, "1 created"],
      [`${APPS}/service`, "Service", NA, "1 created"],
      [`${APPS}/deployment`, "Deployment", NA, "2 configured, 1 created"],
      [`${APPS}/horizontalpodautoscaler`, "HorizontalPodAutoscaler", NA, "1 configured"],
    ],
  },
  "kustomization-progressing-kubectl-form.json": {
    commit: SHA[1],
    statuses: [
      [APPS, "Status", "Progressing", "Reconciliation underway."],
      [`${APPS}/deployment.apps`, "deployment.apps", NA, "1 configured, 1 created"],
      [`${APPS}/service`, "service", NA, "1 unchanged"],
      [`${APPS}/horizontalpodautoscaler.autoscaling`, "horizontalpodautoscaler.autoscaling", NA, "1 configured"],
    ],
  },
  "kustomization-progressing-warnings.json": {
    commit: SHA[2],
    statuses: [
      [APPS, "Status", "Progressing", "Reconciliation underway."],
      [`${APPS}/podsecuritypolicy.policy`, "podsecuritypolicy.policy", NA, "1 configured"],
      [`${APPS}/horizontalpodautoscaler.autoscaling`, "horizontalpodautoscaler.autoscaling", NA, "1 configured"],
      [`${APPS}/warnings`, "warnings", NA, "Warnings: 2"],
    ],
  },
  "kustomization-progressing-unparseable-lines.json": {
    commit: SHA[2],
    statuses: [
      [APPS, "Status", "Progressing", "Reconciliation underway."],
      [`${APPS}/deployment`, "Deployment", NA, "1 configured"],
      [`${APPS}/serviceaccount`, "ServiceAccount", NA, "1 created"],
      [`${APPS}/other`, "other", NA, '2 unrecognised change-set lines, first: "server-side apply completed with 2 objects pending"'],
    ],
  },
  // Health check failures
  "kustomization-health-check-passed.json": {
    commit: SHA[5],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", "Health check passed in 2.011542869s"]],
  },
  "kustomization-health-check-failed.json": {
    commit: SHA[5],
    outcome: "failed",
    statuses: [
      [APPS, "Status", HCF, "Health check failed"],
      [`${APPS}/Deployment/default/podinfo`, "Deployment/default/podinfo", HCF, "status: 'InProgress'"],
      [`${APPS}/Deployment/default/backend`, "Deployment/default/backend", HCF, "status: 'Failed'"],
    ],
  },
  "kustomization-health-check-failed-stalled.json": {
    commit: SHA[5],
    outcome: "failed",
    statuses: [
      ["kustomization/infra-controllers", "Status", HCF, "Health check failed"],
      [
        "kustomization/infra-controllers/HelmRelease/cert-manager/cert-manager",
        "HelmRelease/cert-manager/cert-manager",
        HCF,
        "status: 'Failed'",
      ],
    ],
  },
  "kustomization-health-check-failed-old-format.json": {
    commit: SHA[6],
    outcome: "failed",
    statuses: [
      [APPS, "Status", HCF, "Health check failed"],
      [`${APPS}/Deployment/apps/podinfo`, "Deployment/apps/podinfo", HCF, "status: 'InProgress'"],
      [`${APPS}/StatefulSet/apps/redis`, "StatefulSet/apps/redis", HCF, "status: 'InProgress'"],
    ],
  },
  // Revision formats and metadata keys
  "kustomization-commit-key.json": {
    commit: SHA[9],
    outcome: "succeeded",
    statuses: [[OCI_APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-origin-revision.json": {
    commit: SHA[10],
    outcome: "succeeded",
    statuses: [[OCI_APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-prefixed-origin-revision.json": {
    commit: SHA[4],
    outcome: "succeeded",
    statuses: [[OCI_APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-refs-heads-revision.json": {
    commit: SHA[11],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-tag-revision.json": {
    commit: SHA[1],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-sha1-revision.json": {
    commit: SHA[2],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-bare-sha-revision.json": {
    commit: SHA[3],
    outcome: "succeeded",
    statuses: [[APPS, "Status", "ReconciliationSucceeded", FINISHED]],
  },
  "kustomization-oci-digest.json": { ignored: "is an OCI artifact digest, not a git commit" },
  "kustomization-bucket-digest.json": { ignored: "is an OCI artifact digest, not a git commit" },
  "kustomization-non-commit-revision.json": { ignored: 'revision "latest" holds no git commit SHA' },
  "kustomization-missing-revision.json": { ignored: "no revision: metadata has no commit, originRevision or revision" },
  // GitRepository
  "gitrepository-new-artifact.json": { ignored: "GitRepository/flux-system/flux-system NewArtifact" },
  "gitrepository-git-operation-failed.json": {
    commit: SHA[6],
    statuses: [[GIT, "Status", "GitOperationFailed", MESSAGE]],
  },
  "gitrepository-fetched-revision-message.json": {
    commit: SHA[7],
    statuses: [[GIT, "Status", "info", `Fetched revision: main/${SHA[7]}`]],
  },
  "gitrepository-succeeded.json": {
    commit: SHA[8],
    statuses: [[GIT, "Status", "Succeeded", MESSAGE]],
  },
  "gitrepository-authentication-failed.json": {
    commit: SHA[9],
    statuses: [[GIT, "Status", "AuthenticationFailed", MESSAGE]],
  },
  // Kinds without git deployment state
  "helmrelease-upgrade-succeeded.json": {
    ignored: "HelmRelease events carry no git deployment state (its revision is a chart version, not a commit)",
  },
  "ocirepository-new-artifact.json": { ignored: "OCIRepository events carry no git deployment state" },
  "helmchart-chart-pull-succeeded.json": { ignored: "HelmChart events carry no git deployment state" },
};

interface FluxFixture {
  readonly involvedObject: { readonly kind: string; readonly namespace: string; readonly name: string };
  readonly message: string;
}

const FILES = fixtureNames("flux");

describe("translateFlux fixtures", () => {
  test("every fixture has an expectation and every expectation a fixture", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(28);
    expect(FILES).toEqual(Object.keys(EXPECTATIONS).sort());
  });

  test.each(FILES)("%s", async (file) => {
    const payload = (await loadFixture("flux", file)) as FluxFixture;
    const expected = EXPECTATIONS[file];
    if (!expected) throw new Error(`no expectation for ${file}`);
    const translation = translateFlux(payload, OPTIONS);
    expectTranslation(translation, expected, payload.message);
    if (translation.kind === "observation") {
      const { kind, namespace, name } = payload.involvedObject;
      expect(translation.observation.operator).toBe("FLUX");
      expect(translation.observation.genre).toBe(kind);
      expect(translation.observation.reconciler).toEqual({ kind, namespace, name });
    }
  });

  test.each(FILES)("%s with legacy contexts uses the original's bare names", async (file) => {
    const payload = await loadFixture("flux", file);
    const ours = translateFlux(payload, OPTIONS);
    const legacy = translateFlux(payload, LEGACY);
    if (ours.kind !== "observation" || legacy.kind !== "observation") {
      expect(legacy).toEqual(ours);
      return;
    }
    expect(legacy.observation.statuses.map((status) => status.context)).toEqual(
      ours.observation.statuses.map((status) => status.name),
    );
    const withoutContexts = (statuses: typeof ours.observation.statuses) =>
      statuses.map(({ context: _context, ...rest }) => rest);
    expect(withoutContexts(legacy.observation.statuses)).toEqual(withoutContexts(ours.observation.statuses));
    expect({ ...legacy.observation, statuses: [] }).toEqual({ ...ours.observation, statuses: [] });
  });

  test("legacy contexts of a Progressing change set and a health-check failure", async () => {
    const contexts = async (file: string) => {
      const translation = translateFlux(await loadFixture("flux", file), LEGACY);
      return translation.kind === "observation" ? translation.observation.statuses.map((s) => s.context) : [];
    };
    expect(await contexts("kustomization-progressing-warnings.json")).toEqual([
      "Status",
      "podsecuritypolicy.policy",
      "horizontalpodautoscaler.autoscaling",
      "warnings",
    ]);
    expect(await contexts("kustomization-health-check-failed.json")).toEqual([
      "Status",
      "Deployment/default/podinfo",
      "Deployment/default/backend",
    ]);
  });
});

describe("translateFlux with an environment (two clusters on one repository)", () => {
  const PROD: TranslationOptions = { statusContext: "default", instanceName: "apps-dev", environment: "prod-eu" };
  const contexts = async (file: string) => {
    const translation = translateFlux(await loadFixture("flux", file), PROD);
    return translation.kind === "observation" ? translation.observation.statuses.map((s) => s.context) : [];
  };

  test("the environment follows the object's name in every context", async () => {
    expect(await contexts("kustomization-reconciliation-succeeded.json")).toEqual([`${APPS}/prod-eu`]);
    expect((await contexts("kustomization-progressing.json")).every((context) => context.startsWith(`${APPS}/prod-eu/`) || context === `${APPS}/prod-eu`)).toBe(true);
    expect(await contexts("kustomization-health-check-failed.json")).toEqual([`${APPS}/prod-eu`, `${APPS}/prod-eu/Deployment/default/podinfo`, `${APPS}/prod-eu/Deployment/default/backend`]);
    expect(await contexts("gitrepository-succeeded.json")).toEqual([`${GIT}/prod-eu`]);
  });

  test("gitops-promotion still reads the object's name as the second segment", async () => {
    const [main] = await contexts("kustomization-reconciliation-succeeded.json");
    expect(main?.split("/")[1]).toBe("apps-dev");
  });
});

describe("translateFlux bounds the part statuses of one event", () => {
  const progressing = (lines: number, maxParts?: number) => {
    const message = Array.from({ length: lines }, (_, n) => `Kind${n}/apps/web-${n} configured`).join("\n");
    const translation = translateFlux(
      { involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev" }, severity: "info", reason: "Progressing", message, metadata: { revision: `main@sha1:${SHA[0]}` } },
      { ...OPTIONS, ...(maxParts !== undefined ? { maxParts } : {}) },
    );
    if (translation.kind !== "observation") throw new Error("expected an observation");
    return translation.observation.statuses;
  };

  test("20,000 resource types: the main status, 50 parts and one that counts the rest", () => {
    const statuses = progressing(20_000);
    expect(statuses).toHaveLength(52);
    expect(statuses.at(-1)).toEqual({ context: `${APPS}/more`, name: "more", state: NA, description: "… and 19,950 more", part: true });
  });

  test("the bound is the instance's maxPartStatuses; at or under it nothing is summarised", () => {
    expect(progressing(5, 3).map((status) => status.context)).toEqual([APPS, `${APPS}/kind0`, `${APPS}/kind1`, `${APPS}/kind2`, `${APPS}/more`]);
    expect(progressing(3, 3)).toHaveLength(4);
    expect(progressing(3, 0).map((status) => status.description)).toEqual(["Reconciliation underway.", "… and 3 more"]);
  });
});

describe("translateFlux invalid payloads", () => {
  const event = {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev" },
    severity: "info",
    reason: "ReconciliationSucceeded",
    message: "",
    metadata: { revision: `main@sha1:${SHA[0]}` },
  };
  const cases: [string, unknown, string][] = [
    ["null", null, "body: expected Object, received null"],
    ["a number", 42, "body: expected Object, received 42"],
    ["a string", "hello", 'body: expected Object, received "hello"'],
    ["an array", [event], "body: expected Object, received Array"],
    ["no involvedObject", { ...event, involvedObject: undefined }, "involvedObject: expected Object"],
    ["a numeric kind", { ...event, involvedObject: { kind: 7, name: "apps-dev" } }, "involvedObject.kind: expected string, received 7"],
    ["no kind", { ...event, involvedObject: { name: "apps-dev" } }, "involvedObject.kind: expected string, but it is missing"],
    ["no name", { ...event, involvedObject: { kind: "Kustomization" } }, "involvedObject.name: expected string"],
    ["no reason", { ...event, reason: undefined }, "reason: expected string"],
    ["a numeric message", { ...event, message: 3 }, "message: expected string, received 3"],
    ["a non-string metadata value", { ...event, metadata: { revision: 1 } }, "metadata.revision: expected string, received 1"],
    ["metadata as a list", { ...event, metadata: ["a"] }, "metadata: expected Object, received Array"],
  ];
  test.each(cases)("%s", (_label, payload, error) => {
    const translation = translateFlux(payload, OPTIONS);
    expect(translation.kind).toBe("invalid");
    if (translation.kind === "invalid") {
      expect(translation.error).toStartWith("Flux event: ");
      expect(translation.error).toContain(error);
    }
  });

  test("a message defaults to empty and an unknown field is ignored", () => {
    const { message: _message, ...withoutMessage } = event;
    const translation = translateFlux({ ...withoutMessage, extra: { deep: [1, 2] } }, OPTIONS);
    expect(translation.kind).toBe("observation");
    if (translation.kind === "observation") {
      expect(translation.observation.statuses[0]?.description).toBe("ReconciliationSucceeded");
    }
  });

  test("never throws on junk", () => {
    let seed = 20240514;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const junk = (depth: number): unknown => {
      const pick = Math.floor(random() * 8);
      if (depth > 3 || pick === 0) return [null, true, 0, -1.5, "", "x/y z", "[", "main@sha1:"][Math.floor(random() * 8)];
      if (pick < 4) return Array.from({ length: Math.floor(random() * 3) }, () => junk(depth + 1));
      const keys = ["involvedObject", "kind", "name", "reason", "message", "metadata", "revision", "severity", "__proto__"];
      return Object.fromEntries(keys.filter(() => random() < 0.5).map((key) => [key, junk(depth + 1)]));
    };
    for (let i = 0; i < 2000; i += 1) {
      const payload = i % 2 ? junk(0) : { ...event, [["reason", "message", "metadata", "involvedObject"][i % 4] as string]: junk(1) };
      expect(["observation", "ignored", "invalid"]).toContain(translateFlux(payload, OPTIONS).kind);
    }
  });
});

describe("translateFlux edge cases", () => {
  test("a HealthCheckFailed object without a detail is described by the reason", () => {
    const translation = translateFlux(
      {
        involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev" },
        severity: "error",
        reason: "HealthCheckFailed",
        message: "Health check failed after 30s, timeout waiting for: [Deployment/default/podinfo]",
        metadata: { revision: `main@sha1:${SHA[0]}` },
      },
      OPTIONS,
    );
    expect(translation.kind === "observation" && translation.observation.statuses[1]).toEqual({
      context: `${APPS}/Deployment/default/podinfo`,
      name: "Deployment/default/podinfo",
      state: "HealthCheckFailed",
      description: "Health check failed",
      part: true,
    });
  });

  test.each(["constructor", "__proto__", "toString"])("reason %s is an unknown reason, not a prototype member", (reason) => {
    const translation = translateFlux(
      {
        involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev" },
        severity: "info",
        reason,
        message: "something happened",
        metadata: { revision: `main@sha1:${SHA[0]}` },
      },
      OPTIONS,
    );
    expect(translation.kind === "observation" && translation.observation.statuses).toEqual([
      { context: APPS, name: "Status", state: "info", description: "something happened", summary: reason },
    ]);
  });

  test("the main status's summary is the reason, so periodic re-sends with a new duration compare equal", async () => {
    const event = (await loadFixture("flux", "kustomization-reconciliation-succeeded-commit-status-update.json")) as Record<string, unknown>;
    const summaries = ["812.4ms", "1.2s", "3m4s"].map((duration) => {
      const translation = translateFlux({ ...event, message: `Reconciliation finished in ${duration}, next run in 10m0s` }, OPTIONS);
      if (translation.kind !== "observation") throw new Error("expected an observation");
      return translation.observation.statuses.map((status) => [status.context, status.state, status.summary]);
    });
    expect(summaries).toEqual([0, 1, 2].map(() => [[APPS, "ReconciliationSucceeded", "ReconciliationSucceeded"]]));
  });
});
