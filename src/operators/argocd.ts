/**
 * The Argo CD adapter: one notification from our webhook template (DESIGN §6; the seeds' template plus `app`)
 * in, one Observation out with three statuses: `Phase` (`<phase>: <message>`), `Sync` and `Health`, the last
 * two summarising the application's resources (`3/4 Synced, 1/4 OutOfSync`). Argo CD renders a missing
 * template key as `<no value>`, so that string counts as empty everywhere. Pure: no I/O, no clock.
 */
import * as v from "valibot";
import type { CommitStatus, Outcome, Translation, TranslationOptions } from "../core/model.ts";
import { parsePayload } from "./payload-issues.ts";

/** Phases of an operation still under way; the deployment has not finished. */
const UNFINISHED_PHASES: ReadonlySet<string> = new Set(["Running", "Terminating", "Inconclusive"]);
const COMMIT_SHA = /^[0-9a-f]{7,64}$/i;
/** What Go's text/template prints for a key the application does not have. */
const NO_VALUE = "<no value>";

/** One entry of `.app.status.resources`; Argo CD 3.x leaves `health` out unless told to persist it. */
export const ArgoCdResource = v.looseObject({
  kind: v.optional(v.string()),
  namespace: v.optional(v.string()),
  name: v.optional(v.string()),
  status: v.optional(v.string()),
  health: v.nullish(v.looseObject({ status: v.optional(v.string()) })),
});
export type ArgoCdResource = v.InferOutput<typeof ArgoCdResource>;

const Revisions = v.nullish(v.array(v.nullish(v.string())));

/**
 * The body our Argo CD webhook template posts. `commitid` (`operationState.operation.sync.revision`, the seeds'
 * template) is what was asked for; ours adds what was actually synced (`operationState.syncResult.revision`), the
 * revision the app is compared against (`status.sync.revision`), their multi-source `revisions` lists, and when
 * the operation started and finished.
 */
export const ArgoCdNotification = v.looseObject({
  commitid: v.nullish(v.string()),
  phase: v.string(),
  sync_status: v.string(),
  health: v.string(),
  message: v.optional(v.string(), ""),
  resources: v.nullish(v.array(ArgoCdResource)),
  app: v.optional(v.string()),
  gitops_connector_config_name: v.optional(v.string()),
  sync_result_revision: v.nullish(v.string()),
  sync_result_revisions: Revisions,
  operation_revisions: Revisions,
  sync_revision: v.nullish(v.string()),
  sync_revisions: Revisions,
  started_at: v.nullish(v.string()),
  finished_at: v.nullish(v.string()),
});
export type ArgoCdNotification = v.InferOutput<typeof ArgoCdNotification>;

/** The trimmed value, or undefined when the template rendered nothing. */
function present(value: string | null | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed && trimmed !== NO_VALUE ? trimmed : undefined;
}

/** `3/4 Synced, 1/4 OutOfSync` over the values reported, in order of first appearance; undefined if none. */
export function summariseResources(values: readonly (string | undefined)[], total: number): string | undefined {
  const counts = new Map<string, number>();
  for (const value of values) {
    const reported = present(value);
    if (reported) counts.set(reported, (counts.get(reported) ?? 0) + 1);
  }
  if (counts.size === 0) return undefined;
  return [...counts].map(([value, count]) => `${count}/${total} ${value}`).join(", ");
}

/**
 * Finished unless the operation runs or the application is still progressing; successful only if healthy. An
 * operation that says Succeeded without a finish time (our template sends `finished_at`; Argo CD can notify a
 * Succeeded while the sync still runs, argoproj/argo-cd#28926) has not finished. Sync status does not decide: an
 * application can stay OutOfSync for ever (a field a controller mutates) after deploying the commit.
 */
export function argoCdOutcome(phase: string, health: string, finishedAt?: string | null): Outcome | undefined {
  if (UNFINISHED_PHASES.has(phase) || health === "Progressing") return undefined;
  if (finishedAt !== undefined && !present(finishedAt)) return undefined;
  return phase === "Succeeded" && health === "Healthy" ? "succeeded" : "failed";
}

const isCommit = (value: string | null | undefined): value is string => COMMIT_SHA.test(present(value) ?? "");
const firstCommit = (values: readonly (string | null | undefined)[] | null | undefined) => (values ?? []).find(isCommit);

/**
 * The commit this notification is about: what the operation synced (`syncResult.revision`, or the first git
 * commit of a multi-source app's `revisions`; a Helm chart's source has a version there), else what it was asked
 * to sync (`commitid`, a commit and not a branch name). `status.sync.revision` is the repository's head, which
 * can be a commit that never touched this app (argoproj/argo-cd#16601), so it stands in only for an operation
 * that failed before it resolved a revision (an empty `operation.sync.revision`, argoproj/argo-cd#29575).
 */
export function pickArgoCdCommit(body: ArgoCdNotification, phase: string | undefined): string | undefined {
  const synced = [body.sync_result_revision, firstCommit(body.sync_result_revisions), body.commitid, firstCommit(body.operation_revisions)].find(isCommit);
  if (synced) return present(synced);
  if (phase === "Failed" || phase === "Error") return [body.sync_revision, firstCommit(body.sync_revisions)].find(isCommit)?.trim();
  return undefined;
}

/** Translates one Argo CD notification; never throws, whatever the payload. */
export function translateArgoCd(payload: unknown, options: TranslationOptions): Translation {
  const parsed = parsePayload("Argo CD notification", ArgoCdNotification, payload);
  if (!parsed.ok) return { kind: "invalid", error: parsed.error };
  const body = parsed.value;
  const app = present(body.app) ?? options.instanceName;
  const who = `Application/${app}`;
  const phase = present(body.phase);
  const commit = pickArgoCdCommit(body, phase);
  if (!commit) {
    const requested = present(body.commitid);
    if (!requested) return { kind: "ignored", reason: `${who}: commitid is empty or ${NO_VALUE}: no sync operation yet` };
    return { kind: "ignored", reason: `${who}: commitid "${requested}" is not a git commit SHA (a Helm chart version?)` };
  }
  if (!body.resources) return { kind: "ignored", reason: `${who}: resources is null or missing: nothing to report` };
  if (!phase) return { kind: "ignored", reason: `${who}: phase is empty or ${NO_VALUE}: no sync operation yet` };
  const sync = present(body.sync_status) ?? "Unknown";
  const health = present(body.health) ?? "Unknown";
  const message = present(body.message);
  const resources = body.resources;

  const legacy = options.statusContext === "legacy";
  const base = `application/${app}` + (options.environment ? `/${options.environment}` : "");
  const status = (part: "Phase" | "Sync" | "Health", state: string, description: string): CommitStatus => ({
    context: legacy ? part : part === "Phase" ? base : `${base}/${part.toLowerCase()}`,
    name: part,
    state,
    description,
  });
  const syncSummary = summariseResources(
    resources.map((resource) => resource.status),
    resources.length,
  );
  const healthSummary = summariseResources(
    resources.map((resource) => resource.health?.status),
    resources.length,
  );
  const outcome = argoCdOutcome(phase, health, body.finished_at);
  const startedAt = present(body.started_at);
  return {
    kind: "observation",
    observation: {
      operator: "ARGOCD",
      commit: commit.toLowerCase(),
      reconciler: { kind: "Application", name: app },
      genre: "ArgoCD",
      statuses: [
        status("Phase", phase, message ? `${phase}: ${message}` : phase),
        status("Sync", sync, syncSummary ?? `${sync} (no per-resource sync status reported)`),
        status("Health", health, healthSummary ?? `${health} (no per-resource health reported)`),
      ],
      ...(outcome ? { outcome } : {}),
      ...(startedAt ? { startedAt } : {}),
    },
  };
}
