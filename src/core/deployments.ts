/**
 * The read model's vocabulary (DESIGN §12): what the outbox records of each deployment, in the same transaction
 * as its jobs, and the shapes `GET /api/deployments` and the page show. Pure: an observation becomes one
 * reconciler record; a commit's reconcilers add up to its state.
 */
import { reconcilerId, type Observation } from "./model.ts";

/** A reconciler's latest word on a commit. `superseded`: it finished a newer commit that contains this one. */
export type ReconcilerState = "progressing" | "succeeded" | "failed" | "superseded";

/** A commit on an instance, all its reconcilers together. */
export type DeploymentState = "pending" | "progressing" | "succeeded" | "failed" | "superseded";

export const DEPLOYMENT_STATES: readonly DeploymentState[] = ["pending", "progressing", "succeeded", "failed", "superseded"];

export interface ReconcilerRecord {
  /** `Kind/namespace/name`. */
  readonly reconciler: string;
  /** Its main status context: `kustomization/apps-dev`. */
  readonly context: string;
  readonly state: ReconcilerState;
  /** The operator's own word: `ReconciliationSucceeded`, `Progressing`, `Healthy`. */
  readonly reason: string;
  readonly message: string;
  /** With `superseded`: the commit whose finish this is. */
  readonly supersededBy?: string;
}

/** How long a message the read model keeps: the page shows a line, not a log. */
export const MESSAGE_LIMIT = 500;

export function reconcilerRecordOf(observation: Observation): ReconcilerRecord | undefined {
  const main = observation.statuses.find((status) => !status.part) ?? observation.statuses[0];
  if (main === undefined) return undefined;
  return {
    reconciler: reconcilerId(observation.reconciler),
    context: main.context,
    state: observation.outcome === "succeeded" ? "succeeded" : observation.outcome === "failed" ? "failed" : "progressing",
    reason: main.state,
    message: main.description.slice(0, MESSAGE_LIMIT),
  };
}

/** The record a superseded commit gets for the reconciler that finished `by`. */
export function supersededRecordOf(reconciler: string, context: string, by: string, outcome: "succeeded" | "failed"): ReconcilerRecord {
  return { reconciler, context, state: "superseded", reason: outcome === "succeeded" ? "Superseded" : "SupersededByFailure", message: `superseded by ${by.slice(0, 7)} (${outcome})`, supersededBy: by };
}

/** Failed wins; then anything still running; all superseded is superseded; all finished well is succeeded. */
export function deploymentStateOf(states: readonly ReconcilerState[]): DeploymentState {
  if (states.length === 0) return "pending";
  if (states.includes("failed")) return "failed";
  if (states.includes("progressing")) return "progressing";
  if (states.every((state) => state === "superseded")) return "superseded";
  return "succeeded";
}

/** One reconciler of a deployment, as the API gives it. */
export interface ReconcilerView extends ReconcilerRecord {
  /** ISO 8601: when this state was recorded. */
  readonly at: string;
}

export interface JobView {
  readonly id: number;
  readonly kind: string;
  readonly target: string;
  readonly state: "pending" | "dead";
  readonly attempts: number;
  readonly error?: string;
  /** For a dead job: the command that replays it. */
  readonly retry?: string;
}

export interface NotificationView {
  readonly outcome: "succeeded" | "failed";
  readonly at: string;
  readonly supersededBy?: string;
}

/** One commit on one instance: a row of `GET /api/deployments`, a cell of the page's grid. */
export interface DeploymentView {
  readonly instance: string;
  /** The instance's `environment`, else its name: the page's column. */
  readonly environment: string;
  readonly commit: string;
  readonly state: DeploymentState;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** `3/4`: reconcilers that succeeded, of all. */
  readonly healthy: { readonly succeeded: number; readonly total: number };
  readonly reconcilers: readonly ReconcilerView[];
  /** The orchestrator was told (the job delivered), when and what. */
  readonly notification?: NotificationView;
  readonly supersededBy?: string;
  readonly pendingJobs: number;
  readonly deadJobs: readonly JobView[];
  /** `gitOpsAppURL` + `/` + commit. */
  readonly commitUrl?: string;
  /** Set from change sequence numbers: the last change that touched this deployment. */
  readonly changed: number;
}

export interface PromotionView {
  readonly instance: string;
  readonly group: string;
  readonly app: string;
  readonly tag: string;
  readonly env: string;
  readonly state: "open" | "merged" | "blocked" | "unchanged";
  readonly pullRequest?: { readonly number: number; readonly url: string };
  readonly commit?: string;
  /** gitops-promotion.yaml's environments, in order, as they were when this was recorded. */
  readonly chain?: readonly string[];
  readonly at: string;
}

// ---------------------------------------------------------------------------------------------------------
// The read model's port: the outbox keeps it (src/outbox/read-model.ts), the API and the page read it.

/** A deployment as stored, before the API adds what the config knows (environment, commit URL). */
export interface StoredDeployment {
  readonly instance: string;
  readonly commit: string;
  readonly state: DeploymentState;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly changed: number;
  readonly supersededBy?: string;
  readonly notification?: { readonly outcome: "succeeded" | "failed"; readonly at: number; readonly supersededBy?: string };
  readonly reconcilers: readonly ReconcilerView[];
  readonly pendingJobs: number;
  readonly deadJobs: readonly JobView[];
}

export interface DeploymentQuery {
  readonly instances?: readonly string[];
  readonly states?: readonly DeploymentState[];
  /** Only deployments first seen before this (epoch ms): the next page. */
  readonly before?: number;
  readonly limit: number;
}

export interface Change {
  readonly seq: number;
  readonly at: number;
  readonly kind: "deployment" | "promotion";
  readonly instance: string;
  readonly commit?: string;
}

export interface PromotionRecord {
  readonly instance: string;
  readonly group: string;
  readonly app: string;
  readonly env: string;
  readonly tag: string;
  readonly state: PromotionView["state"];
  readonly pullRequest?: { readonly number: number; readonly url: string };
  readonly commit?: string;
  readonly chain?: readonly string[];
}

/** What the API and the page read. */
export interface DeploymentsReader {
  deployments(query: DeploymentQuery): Promise<StoredDeployment[]>;
  deployment(instance: string, commit: string): Promise<StoredDeployment | undefined>;
  promotions(): Promise<PromotionView[]>;
  /** Changes after `seq`, oldest first, at most `limit`. */
  changesSince(seq: number, limit: number): Promise<Change[]>;
  lastChange(): Promise<number>;
  /** Called after each commit that changed the read model (the SSE stream listens). */
  onChange(listener: (change: Change) => void): () => void;
}

