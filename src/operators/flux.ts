/**
 * The Flux adapter: one notification-controller event (https://fluxcd.io/flux/components/notification/events/)
 * in, one Observation out. A main status per event (state = the reason when we know it, else the severity),
 * one neutral status per resource type of a `Progressing` change set, one failed status per object of a
 * `HealthCheckFailed` message. Only Kustomization events decide whether a commit's deployment finished.
 * Pure: no I/O, no clock.
 */
import * as v from "valibot";
import type { CommitStatus, Outcome, Translation, TranslationOptions } from "../core/model.ts";
import { reconcilerId } from "../core/model.ts";
import { describeUnrecognised, parseChangeSet, parseHealthCheckFailures } from "./flux-messages.ts";
import { findFluxCommit } from "./flux-revision.ts";
import { notAnArray, parsePayload } from "./payload-issues.ts";

/** The Flux kinds whose events describe a git deployment; every other kind is ignored. */
export const FLUX_KINDS_WITH_STATE = ["Kustomization", "GitRepository"] as const;

/** kustomize-controller reasons that mean "not done yet": no outcome (the original failed the deployment). */
export const KUSTOMIZATION_TRANSIENT_REASONS: ReadonlySet<string> = new Set([
  "Progressing",
  "DependencyNotReady",
  "HealthCheckCanceled",
]);

/** kustomize-controller reasons that end a reconciliation unsuccessfully (`ValidationFailed` is pre-2.0). */
export const KUSTOMIZATION_FAILURE_REASONS: ReadonlySet<string> = new Set([
  "ReconciliationFailed",
  "BuildFailed",
  "HealthCheckFailed",
  "PruneFailed",
  "ArtifactFailed",
  "ValidationFailed",
  "DirectoryCreationFailed",
  "AccessDenied",
  "InvalidCELExpression",
  "FeatureGateDisabled",
]);

/** Every reason reported as the status state as is; others fall back to `error`/`info` by severity. */
export const FLUX_KNOWN_REASONS: ReadonlySet<string> = new Set([
  "ReconciliationSucceeded",
  "Suspended",
  ...KUSTOMIZATION_TRANSIENT_REASONS,
  ...KUSTOMIZATION_FAILURE_REASONS,
  // source-controller
  "NewArtifact",
  "Succeeded",
  "GitOperationFailed",
  "AuthenticationFailed",
  "URLInvalid",
  "StatOperationFailed",
  "ArchiveOperationFailed",
  "VerificationError",
]);

const HEALTH_CHECK_FAILED = "Health check failed";

/**
 * kustomize-controller's "Health check passed in 4.2s" (reason `Progressing`, the Ready condition's reason while
 * it reconciles) comes after apply and prune, once every health check passed: the reconciliation succeeded. It
 * carries no `commit_status: update` marker, so it reaches generic providers on notification-controller 1.8.0 to
 * 1.8.3, which dropped the marked success event (fluxcd/notification-controller#1289, #1291), and it is still sent
 * with kustomize-controller's DisableCommitStatusEvent feature gate (fluxcd/kustomize-controller#1755). It is read
 * as ReconciliationSucceeded, so the success event that follows on other versions is a repeat.
 */
const HEALTH_CHECK_PASSED = /^Health check passed in \S+$/;

function isHealthCheckPassed(event: FluxEvent): boolean {
  return event.involvedObject.kind === "Kustomization" && event.reason === "Progressing" && HEALTH_CHECK_PASSED.test(event.message.trim());
}

/** The original's fixed descriptions; any other reason shows the event message. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  Progressing: "Reconciliation underway.",
  HealthCheckFailed: HEALTH_CHECK_FAILED,
  ValidationFailed: "Manifests validation failed.",
};

/** The parts of a notification-controller event we read; anything else in it passes through unread. */
export const FluxEvent = v.looseObject({
  involvedObject: v.looseObject({
    kind: v.string(),
    name: v.string(),
    namespace: v.optional(v.string()),
  }),
  severity: v.optional(v.string()),
  reason: v.string(),
  message: v.optional(v.string(), ""),
  metadata: v.optional(v.pipe(v.unknown(), notAnArray, v.record(v.string(), v.string())), {}),
});
export type FluxEvent = v.InferOutput<typeof FluxEvent>;

function isKindWithState(kind: string): kind is (typeof FLUX_KINDS_WITH_STATE)[number] {
  return (FLUX_KINDS_WITH_STATE as readonly string[]).includes(kind);
}

function mainState(event: FluxEvent): string {
  if (FLUX_KNOWN_REASONS.has(event.reason)) return event.reason;
  return event.severity === "error" ? "error" : "info";
}

function mainDescription(event: FluxEvent): string {
  // `Object.hasOwn`: a reason such as `constructor` must not pick up Object.prototype members.
  const fixed = Object.hasOwn(DESCRIPTIONS, event.reason) ? DESCRIPTIONS[event.reason] : undefined;
  return fixed ?? (event.message.trim() || event.reason);
}

/** Whether a Kustomization event ends the deployment of its commit, and how. */
export function kustomizationOutcome(reason: string, severity: string | undefined): Outcome | undefined {
  if (KUSTOMIZATION_TRANSIENT_REASONS.has(reason)) return undefined;
  if (reason === "ReconciliationSucceeded") return "succeeded";
  if (KUSTOMIZATION_FAILURE_REASONS.has(reason) || severity === "error") return "failed";
  return undefined;
}

/** The statuses beyond the main one: change-set parts for `Progressing`, objects for `HealthCheckFailed`. */
function partStatuses(event: FluxEvent): { path: string; name: string; state: string; description: string }[] {
  if (event.involvedObject.kind !== "Kustomization") return [];
  if (event.reason === "Progressing") {
    const changeSet = parseChangeSet(event.message);
    const parts = changeSet.groups.map((group) => ({
      path: group.resourceType.toLowerCase(),
      name: group.resourceType,
      state: "NotApplicable",
      description: group.description,
    }));
    if (changeSet.warnings > 0) {
      parts.push({ path: "warnings", name: "warnings", state: "NotApplicable", description: `Warnings: ${changeSet.warnings}` });
    }
    // The original dropped lines it could not parse; a change set we do not understand is still news, so it
    // is reported as one `other` part next to the ones we did parse.
    if (changeSet.unrecognised.length > 0) {
      const description = describeUnrecognised(changeSet.unrecognised);
      parts.push({ path: "other", name: "other", state: "NotApplicable", description });
    }
    return parts;
  }
  if (event.reason === "HealthCheckFailed") {
    return parseHealthCheckFailures(event.message).map((failure) => ({
      path: failure.resource,
      name: failure.resource,
      state: "HealthCheckFailed",
      description: failure.detail || HEALTH_CHECK_FAILED,
    }));
  }
  return [];
}

/** Part statuses per event unless the instance says otherwise (`maxPartStatuses`). */
export const DEFAULT_MAX_PARTS = 50;

type Part = ReturnType<typeof partStatuses>[number];

/**
 * At most `max` part statuses, then one that says how many more there were: a Kustomization with thousands of
 * resource types must not plan thousands of jobs (and statuses nobody reads) from one event.
 */
function capParts(parts: Part[], max: number): Part[] {
  if (parts.length <= max) return parts;
  const more = parts.length - max;
  const state = parts.slice(max).some((part) => part.state === "HealthCheckFailed") ? "HealthCheckFailed" : "NotApplicable";
  return [...parts.slice(0, max), { path: "more", name: "more", state, description: `… and ${more.toLocaleString("en-US")} more` }];
}

/** Translates one Flux event; never throws, whatever the payload. */
export function translateFlux(payload: unknown, options: TranslationOptions): Translation {
  const parsed = parsePayload("Flux event", FluxEvent, payload);
  if (!parsed.ok) return { kind: "invalid", error: parsed.error };
  let event = parsed.value;
  const { kind, name, namespace } = event.involvedObject;
  const reconciler = namespace ? { kind, namespace, name } : { kind, name };
  const who = `${reconcilerId(reconciler)} ${event.reason}`;
  if (!isKindWithState(kind)) {
    const why = kind === "HelmRelease" ? " (its revision is a chart version, not a commit)" : "";
    return { kind: "ignored", reason: `${who}: ${kind} events carry no git deployment state${why}` };
  }
  if (kind === "GitRepository" && event.reason === "NewArtifact") {
    return { kind: "ignored", reason: `${who}: a fetched artifact is not a deployment` };
  }
  const lookup = findFluxCommit({
    metadata: event.metadata,
    message: event.message,
    revisionInMessage: kind === "GitRepository",
  });
  if (!lookup.found) return { kind: "ignored", reason: `${who}: ${lookup.reason}` };

  if (isHealthCheckPassed(event)) event = { ...event, reason: "ReconciliationSucceeded" };
  const legacy = options.statusContext === "legacy";
  const base = `${kind}/${name}`.toLowerCase() + (options.environment ? `/${options.environment}` : "");
  const main: CommitStatus = {
    context: legacy ? "Status" : base,
    name: "Status",
    state: mainState(event),
    description: mainDescription(event),
    // The message (its duration changes every interval) is shown, the reason decides whether anything changed.
    summary: event.reason,
  };
  const parts: CommitStatus[] = capParts(partStatuses(event), options.maxParts ?? DEFAULT_MAX_PARTS).map(({ path, ...status }) => ({
    ...status,
    context: legacy ? status.name : `${base}/${path}`,
    part: true,
  }));
  const outcome = kind === "Kustomization" ? kustomizationOutcome(event.reason, event.severity) : undefined;
  return {
    kind: "observation",
    observation: {
      operator: "FLUX",
      commit: lookup.commit,
      reconciler,
      genre: kind,
      statuses: [main, ...parts],
      ...(outcome ? { outcome } : {}),
    },
  };
}
