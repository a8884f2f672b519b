/**
 * How each git provider spells an operator's state (a Flux reason, an Argo phase/sync/health value, or one of
 * the connector's own: `NotApplicable`, `info`, `error`). The tables are the original connector's, kept as
 * data and extended with the Flux 2.x reasons (DESIGN §6). Lookups are total: a state nobody has mapped yet is
 * `pending`, so a new operator release never crashes a delivery and never claims success it did not report.
 */
import type { OperatorState } from "../core/model.ts";

export type GitHubState = "pending" | "success" | "failure" | "error";
export type AzureReposState = "pending" | "succeeded" | "failed" | "error" | "notApplicable";

/** What an unmapped state becomes on every provider. */
const UNKNOWN_STATE = "pending";

export const GITHUB_STATES: Readonly<Record<string, GitHubState>> = Object.freeze({
  // Flux kustomize-controller
  ReconciliationSucceeded: "success",
  ReconciliationFailed: "failure",
  Progressing: "pending",
  DependencyNotReady: "pending",
  HealthCheckCanceled: "pending",
  HealthCheckFailed: "failure",
  PruneFailed: "failure",
  ArtifactFailed: "failure",
  BuildFailed: "failure",
  ValidationFailed: "failure",
  DirectoryCreationFailed: "failure",
  AccessDenied: "failure",
  InvalidCELExpression: "failure",
  FeatureGateDisabled: "failure",
  Suspended: "error",
  // Flux source-controller (NewArtifact events are ignored; mapped only so the table stays total by design)
  NewArtifact: "pending",
  GitOperationFailed: "failure",
  AuthenticationFailed: "failure",
  URLInvalid: "failure",
  StatOperationFailed: "failure",
  ArchiveOperationFailed: "failure",
  VerificationError: "failure",
  // The connector's own: neutral per-resource parts and fallbacks for unknown Flux reasons
  NotApplicable: "success",
  info: "pending",
  error: "failure",
  // Argo CD phase
  Running: "pending",
  Terminating: "pending",
  Inconclusive: "pending",
  Succeeded: "success",
  Failed: "failure",
  Error: "error",
  // Argo CD sync
  Synced: "success",
  OutOfSync: "pending",
  Unknown: "success",
  // Argo CD health (Progressing and Suspended above)
  Healthy: "success",
  Degraded: "error",
  Missing: "failure",
});

export const AZURE_REPOS_STATES: Readonly<Record<string, AzureReposState>> = Object.freeze({
  // Flux kustomize-controller
  ReconciliationSucceeded: "succeeded",
  ReconciliationFailed: "failed",
  Progressing: "pending",
  // The original mapped this to `error`; it is transient (Flux retries once the dependency is ready), and an
  // error status would mark a deployment broken that is merely waiting. GitHub already had it as pending.
  DependencyNotReady: "pending",
  HealthCheckCanceled: "pending",
  HealthCheckFailed: "failed",
  PruneFailed: "failed",
  ArtifactFailed: "failed",
  BuildFailed: "failed",
  ValidationFailed: "failed",
  DirectoryCreationFailed: "failed",
  AccessDenied: "failed",
  InvalidCELExpression: "failed",
  FeatureGateDisabled: "failed",
  Suspended: "error",
  // Flux source-controller
  NewArtifact: "pending",
  GitOperationFailed: "failed",
  AuthenticationFailed: "failed",
  URLInvalid: "failed",
  StatOperationFailed: "failed",
  ArchiveOperationFailed: "failed",
  VerificationError: "failed",
  // The connector's own
  NotApplicable: "notApplicable",
  info: "pending",
  error: "failed",
  // Argo CD phase
  Running: "pending",
  Terminating: "pending",
  Inconclusive: "pending",
  Succeeded: "succeeded",
  Failed: "failed",
  Error: "error",
  // Argo CD sync
  Synced: "succeeded",
  OutOfSync: "pending",
  Unknown: "notApplicable",
  // Argo CD health
  Healthy: "succeeded",
  Degraded: "error",
  Missing: "failed",
});

// `Object.hasOwn` keeps inherited names (`constructor`, `__proto__`) from resolving to non-states.
function lookup<S extends string>(table: Readonly<Record<string, S>>, state: OperatorState, fallback: S): S {
  return Object.hasOwn(table, state) ? (table[state] ?? fallback) : fallback;
}

/** The GitHub commit status state for an operator state; `pending` when the state is not in the table. */
export function toGitHubState(state: OperatorState): GitHubState {
  return lookup(GITHUB_STATES, state, UNKNOWN_STATE);
}

/** The Azure Repos status state for an operator state; `pending` when the state is not in the table. */
export function toAzureReposState(state: OperatorState): AzureReposState {
  return lookup(AZURE_REPOS_STATES, state, UNKNOWN_STATE);
}
