import { describe, expect, test } from "bun:test";
import { NOTHING_KNOWN } from "../../src/core/commit-knowledge.ts";
import type { Observation, Outcome } from "../../src/core/model.ts";
import { translateFlux } from "../../src/operators/flux.ts";
import { planSupersededCommit } from "../../src/core/planner-superseded.ts";
import { countsForCompletion, planJobs } from "../../src/core/planner.ts";
import { azureInstance as compiledAzure, githubInstance as compiledGitHub } from "../support/instances.ts";
import { createMemoryLedger, planWithLedger } from "../support/ledger.ts";

/** What the planner sees of an instance, compiled from config keys. */
const githubInstance = (overrides: Record<string, unknown> = {}) => compiledGitHub(overrides).planning;
const azureInstance = (overrides: Record<string, unknown> = {}) => compiledAzure(overrides).planning;

const COMMIT = "4f2c1e8a9b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e";

function observation(reason: string, outcome?: Outcome, name = "apps-dev"): Observation {
  return {
    operator: "FLUX",
    commit: COMMIT,
    reconciler: { kind: "Kustomization", namespace: "flux-system", name },
    genre: "Kustomization",
    statuses: [{ context: `kustomization/${name}`, name: "Status", state: reason, description: `${reason} message` }],
    ...(outcome ? { outcome } : {}),
  };
}

describe("planJobs", () => {
  test("plans a status job, a subscriber job per subscriber, and an orchestrator job when finished", () => {
    const plan = planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance(), NOTHING_KNOWN);
    expect(plan.jobs.map((job) => job.kind)).toEqual(["status", "subscriber", "orchestrator"]);
    const [status, subscriber, orchestrator] = plan.jobs;
    expect(status).toMatchObject({
      target: "github:api.github.com/repos/org/manifests",
      orderingKey: `apps-dev|${COMMIT}|kustomization/apps-dev`,
      coalesceKey: `github:api.github.com/repos/org/manifests|${COMMIT}|kustomization/apps-dev`,
    });
    expect(subscriber?.payload).toEqual({
      subscriber: "spektate",
      body: {
        commit_id: COMMIT,
        status_name: "Status",
        state: "ReconciliationSucceeded",
        message: "ReconciliationSucceeded message",
        callback_url: "https://github.com/org/manifests/commit",
        gitops_operator: "Flux",
        genre: "Kustomization",
        context: "kustomization/apps-dev",
        instance: "apps-dev",
        reconciler: "Kustomization/flux-system/apps-dev",
      },
    });
    expect(orchestrator).toMatchObject({ target: "github-actions:api.github.com/repos/org/app-src", orderingKey: `apps-dev|${COMMIT}`, payload: { outcome: "succeeded" } });
    expect(plan.known.notified).toEqual(["succeeded"]);
  });

  test("does not plan a status identical to the last one planned for its context", () => {
    const first = planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance(), NOTHING_KNOWN);
    const again = planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance(), first.known);
    expect(again.jobs).toEqual([]);
    expect(again.known).toEqual(first.known);
  });

  test("plans a status again when its description changes", () => {
    const first = planJobs(observation("Progressing"), githubInstance(), NOTHING_KNOWN);
    const changed: Observation = { ...observation("Progressing"), statuses: [{ context: "kustomization/apps-dev", name: "Status", state: "Progressing", description: "other" }] };
    expect(planJobs(changed, githubInstance(), first.known).jobs.map((job) => job.kind)).toEqual(["status", "subscriber"]);
  });

  test("20 periodic Flux re-sends with new durations on a known commit plan nothing", async () => {
    const event = (await Bun.file(new URL("../fixtures/flux/kustomization-reconciliation-succeeded-commit-status-update.json", import.meta.url)).json()) as Record<string, unknown>;
    const resend = (duration: string): Observation => {
      const translation = translateFlux({ ...event, message: `Reconciliation finished in ${duration}, next run in 1m0s` }, { statusContext: "default", instanceName: "apps-dev" });
      if (translation.kind !== "observation") throw new Error(`expected an observation, got ${translation.kind}`);
      return translation.observation;
    };
    const instance = githubInstance({ dispatchOnFailure: true });
    let known = planJobs(resend("812.4ms"), instance, NOTHING_KNOWN).known;
    const planned: string[] = [];
    for (let i = 0; i < 20; i++) {
      const plan = planJobs(resend(`${(1.2 + i * 0.37).toFixed(2)}s`), instance, known);
      planned.push(...plan.jobs.map((job) => job.kind));
      known = plan.known;
    }
    expect(planned).toEqual([]);
    // A real change still posts: another reason on the same commit, and the same reason on another commit.
    const failedEvent = { ...event, severity: "error", reason: "HealthCheckFailed", message: "health check failed after 30s: timeout waiting for: [Deployment/apps/web status: 'InProgress']" };
    const failed = translateFlux(failedEvent, { statusContext: "default", instanceName: "apps-dev" });
    if (failed.kind !== "observation") throw new Error("expected an observation");
    expect(planJobs(failed.observation, instance, known).jobs.map((job) => job.kind)).toEqual(["status", "subscriber", "status", "subscriber", "orchestrator"]);
    const ledger = createMemoryLedger();
    planWithLedger(ledger, resend("1s"), instance);
    // The new commit, finished by the same reconciler, also plans telling the commits in between.
    expect(planWithLedger(ledger, { ...resend("2s"), commit: "0".repeat(40) }, instance).map((job) => job.kind)).toEqual(["status", "subscriber", "orchestrator", "supersede"]);
  });

  test("knowledge recorded before summaries existed compares by description", () => {
    const legacyKnown = { statuses: { "kustomization/apps-dev": { state: "Progressing", description: "Progressing message" } }, notified: [] };
    expect(planJobs(observation("Progressing"), githubInstance(), legacyKnown).jobs).toEqual([]);
  });

  test("transient reasons leave the orchestrator alone", () => {
    const plan = planJobs(observation("DependencyNotReady"), githubInstance(), NOTHING_KNOWN);
    expect(plan.jobs.some((job) => job.kind === "orchestrator")).toBe(false);
  });

  test("GitHub Actions: a failure is dispatched only with dispatchOnFailure, and each outcome once", () => {
    expect(planJobs(observation("HealthCheckFailed", "failed"), githubInstance(), NOTHING_KNOWN).jobs.filter((job) => job.kind === "orchestrator")).toEqual([]);

    const instance = githubInstance({ dispatchOnFailure: true });
    const failed = planJobs(observation("HealthCheckFailed", "failed"), instance, NOTHING_KNOWN);
    expect(failed.jobs.filter((job) => job.kind === "orchestrator")).toHaveLength(1);
    const fixed = planJobs(observation("ReconciliationSucceeded", "succeeded"), instance, failed.known);
    expect(fixed.jobs.filter((job) => job.kind === "orchestrator").map((job) => job.payload)).toEqual([
      { commit: COMMIT, outcome: "succeeded", reconciler: "Kustomization/flux-system/apps-dev" },
    ]);
    const repeat = planJobs({ ...observation("ReconciliationSucceeded", "succeeded"), statuses: [] }, instance, fixed.known);
    expect(repeat.jobs).toEqual([]);
  });

  test("Azure Pipelines: the first outcome stands", () => {
    const failed = planJobs(observation("HealthCheckFailed", "failed"), azureInstance(), NOTHING_KNOWN);
    expect(failed.jobs.filter((job) => job.kind === "orchestrator")).toHaveLength(1);
    const later = planJobs(observation("ReconciliationSucceeded", "succeeded"), azureInstance(), failed.known);
    expect(later.jobs.filter((job) => job.kind === "orchestrator")).toEqual([]);
    expect(later.jobs.map((job) => job.kind)).toEqual(["status"]);
  });

  test("orchestrator NONE gets statuses only", () => {
    const plan = planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance({ ciCdOrchestratorType: "NONE", subscribers: {} }), NOTHING_KNOWN);
    expect(plan.jobs.map((job) => job.kind)).toEqual(["status"]);
    expect(plan.known.notified).toEqual([]);
  });

  test("only reconcilers matching completionReconcilers finish the pipeline", () => {
    const instance = githubInstance({ completionReconcilers: ["kustomization/apps-*"] });
    expect(planJobs(observation("ReconciliationSucceeded", "succeeded", "infra"), instance, NOTHING_KNOWN).jobs.some((job) => job.kind === "orchestrator")).toBe(false);
    expect(planJobs(observation("ReconciliationSucceeded", "succeeded", "apps-prod"), instance, NOTHING_KNOWN).jobs.some((job) => job.kind === "orchestrator")).toBe(true);
  });
});

describe("countsForCompletion", () => {
  test.each([
    [["*"], true],
    [["kustomization/apps-*"], true],
    [["Kustomization/flux-system/apps-dev"], true],
    [["kustomization/infra"], false],
    [["gitrepository/*"], false],
    [[], false],
  ])("globs %j → %p", (globs, expected) => {
    expect(countsForCompletion(observation("ReconciliationSucceeded", "succeeded"), globs)).toBe(expected);
  });
});

describe("planWithLedger", () => {
  test("remembers per instance and commit", () => {
    const ledger = createMemoryLedger();
    expect(planWithLedger(ledger, observation("ReconciliationSucceeded", "succeeded"), githubInstance())).toHaveLength(3);
    expect(planWithLedger(ledger, observation("ReconciliationSucceeded", "succeeded"), githubInstance())).toHaveLength(0);
    expect(planWithLedger(ledger, observation("ReconciliationSucceeded", "succeeded"), githubInstance({ name: "apps-other" }))).toHaveLength(3);
  });

  test("the in-memory ledger forgets the oldest commit past its bound", () => {
    const ledger = createMemoryLedger(1);
    ledger.put("i", "a", { statuses: {}, notified: ["succeeded"] });
    ledger.put("i", "b", { statuses: {}, notified: [] });
    expect(ledger.get("i", "a")).toEqual(NOTHING_KNOWN);
    expect(ledger.get("i", "b").notified).toEqual([]);
  });
});

describe("superseded commits", () => {
  const OLDER = "1".repeat(40);
  const BETWEEN = "2".repeat(40);

  test("a finish after another commit's finish plans one supersede job with the object's own statuses", () => {
    const finished: Observation = {
      ...observation("HealthCheckFailed", "failed"),
      statuses: [
        { context: "kustomization/apps-dev", name: "Status", state: "HealthCheckFailed", description: "Health check failed", summary: "HealthCheckFailed" },
        { context: "kustomization/apps-dev/Deployment/default/web", name: "Deployment/default/web", state: "HealthCheckFailed", description: "status: 'InProgress'", part: true },
      ],
    };
    const plan = planJobs(finished, azureInstance(), NOTHING_KNOWN, OLDER);
    expect(plan.finished).toBe(true);
    const supersede = plan.jobs.find((job) => job.kind === "supersede");
    expect(supersede).toEqual({
      kind: "supersede",
      instance: "apps-azdo",
      target: "azdo:dev.azure.com/org/project/manifests",
      orderingKey: "apps-azdo|supersede|Kustomization/flux-system/apps-dev",
      payload: {
        commit: COMMIT,
        since: OLDER,
        outcome: "failed",
        reconciler: "Kustomization/flux-system/apps-dev",
        operator: "FLUX",
        genre: "Kustomization",
        statuses: [{ context: "kustomization/apps-dev", name: "Status", state: "HealthCheckFailed", description: `superseded by ${COMMIT.slice(0, 7)}` }],
        notifyOrchestrator: true,
      },
    });
  });

  test("no supersede job for the same commit again, an unknown last finish, or an unfinished event", () => {
    expect(planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance(), NOTHING_KNOWN, COMMIT).jobs.some((job) => job.kind === "supersede")).toBe(false);
    expect(planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance(), NOTHING_KNOWN).jobs.some((job) => job.kind === "supersede")).toBe(false);
    const progressing = planJobs(observation("Progressing"), githubInstance(), NOTHING_KNOWN, OLDER);
    expect(progressing.jobs.some((job) => job.kind === "supersede")).toBe(false);
    expect(progressing.finished).toBeUndefined();
  });

  test("a commit the reconciler finished before supersedes nothing when it is finished again (a late re-send, a rollback)", () => {
    const instance = githubInstance({ subscribers: {} });
    const first = planJobs(observation("ReconciliationSucceeded", "succeeded"), instance, NOTHING_KNOWN, OLDER);
    expect(first.known.finishedBy).toEqual(["Kustomization/flux-system/apps-dev"]);
    const again = planJobs(observation("ReconciliationSucceeded", "succeeded"), instance, first.known, BETWEEN);
    expect(again.jobs).toEqual([]);
    expect(again.finished).toBe(true); // it is the last finished commit again
  });

  test("a reconciler outside completionReconcilers still tells statuses, never the pipeline", () => {
    const plan = planJobs(observation("ReconciliationSucceeded", "succeeded", "infra"), githubInstance({ completionReconcilers: ["kustomization/apps-*"] }), NOTHING_KNOWN, OLDER);
    expect(plan.jobs.find((job) => job.kind === "supersede")?.payload).toMatchObject({ notifyOrchestrator: false });
  });

  const supersedeOf = (instance: ReturnType<typeof githubInstance>, outcome: Outcome = "succeeded") => {
    const job = planJobs(observation(outcome === "succeeded" ? "ReconciliationSucceeded" : "HealthCheckFailed", outcome), instance, NOTHING_KNOWN, OLDER).jobs.find((j) => j.kind === "supersede");
    if (job?.kind !== "supersede") throw new Error("expected a supersede job");
    return job.payload;
  };

  test("a superseded commit gets the statuses, the subscriber posts and the pipeline notification, once", () => {
    const instance = githubInstance();
    const first = planSupersededCommit(BETWEEN, supersedeOf(instance), instance, NOTHING_KNOWN);
    expect(first.jobs.map((job) => job.kind)).toEqual(["status", "subscriber", "orchestrator"]);
    expect(first.jobs[0]?.payload).toMatchObject({ commit: BETWEEN, status: { context: "kustomization/apps-dev", state: "ReconciliationSucceeded", description: `superseded by ${COMMIT.slice(0, 7)}` } });
    expect(first.jobs[2]?.payload).toEqual({ commit: BETWEEN, outcome: "succeeded", reconciler: "Kustomization/flux-system/apps-dev", supersededBy: COMMIT });
    expect(planSupersededCommit(BETWEEN, supersedeOf(instance), instance, first.known).jobs).toEqual([]);
  });

  test("Azure Pipelines: a commit already told keeps its first outcome; GitHub Actions: a failure only with dispatchOnFailure", () => {
    const azure = azureInstance();
    const told = planJobs({ ...observation("HealthCheckFailed", "failed"), commit: BETWEEN }, azure, NOTHING_KNOWN).known;
    expect(planSupersededCommit(BETWEEN, supersedeOf(azure), azure, told).jobs.map((job) => job.kind)).toEqual(["status"]);
    expect(planSupersededCommit(BETWEEN, supersedeOf(githubInstance(), "failed"), githubInstance(), NOTHING_KNOWN).jobs.map((job) => job.kind)).toEqual(["status", "subscriber"]);
    const failing = githubInstance({ dispatchOnFailure: true });
    expect(planSupersededCommit(BETWEEN, supersedeOf(failing, "failed"), failing, NOTHING_KNOWN).jobs.map((job) => job.kind)).toEqual(["status", "subscriber", "orchestrator"]);
  });

  test("the in-memory ledger remembers each reconciler's last finished commit", () => {
    const ledger = createMemoryLedger();
    const instance = githubInstance({ subscribers: {} });
    expect(planWithLedger(ledger, { ...observation("ReconciliationSucceeded", "succeeded"), commit: OLDER }, instance).map((job) => job.kind)).toEqual(["status", "orchestrator"]);
    expect(planWithLedger(ledger, observation("ReconciliationSucceeded", "succeeded"), instance).map((job) => job.kind)).toEqual(["status", "orchestrator", "supersede"]);
    expect(ledger.lastFinished("apps-dev", "Kustomization/flux-system/apps-dev")).toBe(COMMIT);
  });
});

describe("a stale finish (argoproj/argo-cd#28926)", () => {
  const argo = (phase: string, startedAt: string, outcome?: Outcome): Observation => ({
    operator: "ARGOCD",
    commit: COMMIT,
    reconciler: { kind: "Application", name: "guestbook" },
    genre: "ArgoCD",
    statuses: [{ context: "application/guestbook", name: "Phase", state: phase, description: phase }],
    startedAt,
    ...(outcome ? { outcome } : {}),
  });

  test("a Succeeded from an operation older than one seen running on the commit plans nothing; the real finish does", () => {
    const instance = githubInstance({ subscribers: {} });
    const running = planJobs(argo("Running", "2026-11-30T10:05:00Z"), instance, NOTHING_KNOWN);
    expect(running.known.running).toEqual({ "Application/guestbook": "2026-11-30T10:05:00Z" });
    const stale = planJobs(argo("Succeeded", "2026-11-30T10:00:00Z", "succeeded"), instance, running.known);
    expect(stale.jobs).toEqual([]);
    expect(stale.finished).toBeUndefined();
    const real = planJobs(argo("Succeeded", "2026-11-30T10:05:00Z", "succeeded"), instance, running.known);
    expect(real.jobs.map((job) => job.kind)).toEqual(["status", "orchestrator"]);
  });
});

describe("planJobs with promotion.enabled", () => {
  const promoting = () => githubInstance({ subscribers: {}, ciCdOrchestratorType: "NONE", promotion: { enabled: true } });

  test("a Kustomization finish plans one promotion job, in the repository's order; re-sends plan none", () => {
    const first = planJobs(observation("ReconciliationSucceeded", "succeeded"), promoting(), NOTHING_KNOWN);
    const promotion = first.jobs.filter((job) => job.kind === "promotion");
    expect(promotion).toEqual([{
      kind: "promotion",
      instance: "apps-dev",
      target: "github:api.github.com/repos/org/manifests",
      orderingKey: "promotion:github:api.github.com/repos/org/manifests",
      payload: { commit: COMMIT, kustomization: "apps-dev", reconciler: "Kustomization/flux-system/apps-dev", outcome: "succeeded" },
    }]);
    for (let n = 0; n < 3; n += 1) expect(planJobs(observation("ReconciliationSucceeded", "succeeded"), promoting(), first.known).jobs).toEqual([]);
  });

  test("a failure, then a success of the same commit: one job each", () => {
    const failed = planJobs(observation("HealthCheckFailed", "failed"), promoting(), NOTHING_KNOWN);
    expect(failed.jobs.filter((job) => job.kind === "promotion").map((job) => job.payload)).toMatchObject([{ outcome: "failed" }]);
    const succeeded = planJobs(observation("ReconciliationSucceeded", "succeeded"), promoting(), failed.known);
    expect(succeeded.jobs.filter((job) => job.kind === "promotion").map((job) => job.payload)).toMatchObject([{ outcome: "succeeded" }]);
  });

  test("nothing without promotion.enabled, before a finish, or for another kind", () => {
    expect(planJobs(observation("ReconciliationSucceeded", "succeeded"), githubInstance(), NOTHING_KNOWN).jobs.some((job) => job.kind === "promotion")).toBe(false);
    expect(planJobs(observation("Progressing"), promoting(), NOTHING_KNOWN).jobs.some((job) => job.kind === "promotion")).toBe(false);
    const helm = { ...observation("ReconciliationSucceeded", "succeeded"), reconciler: { kind: "HelmRelease", namespace: "flux-system", name: "apps-dev" } };
    expect(planJobs(helm, promoting(), NOTHING_KNOWN).jobs.some((job) => job.kind === "promotion")).toBe(false);
  });
});
