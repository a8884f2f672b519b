/**
 * The webhooks the daemon benchmarks send: Flux Kustomization events as kustomize-controller posts them, for
 * commits made up per run so that no event is deduplicated against an earlier one.
 */

const COMMIT_FILLER = "be4c0ffee".repeat(4).slice(0, 28);

/** A 40-hex commit unique to (run, n): 4 hex digits of run, 8 of n, then a fixed filler. */
export const benchCommit = (run: number, n: number) => `${hex(run, 4)}${hex(n, 8)}${COMMIT_FILLER}`;

function hex(value: number, digits: number): string {
  const text = value.toString(16);
  if (!Number.isInteger(value) || value < 0 || text.length > digits) throw new Error(`bench: ${value} does not fit ${digits} hex digits of a commit`);
  return text.padStart(digits, "0");
}

/** The Flux event a Kustomization sends when a revision has been applied and is healthy: the daemon plans 1 status. */
export function fluxSucceeded(commit: string): Record<string, unknown> {
  return fluxEvent(commit, "ReconciliationSucceeded", "Reconciliation finished in 2.1s, next run in 10m0s");
}

/**
 * The Flux event sent while a revision is being applied, with a four-line change-set: the daemon plans 5
 * statuses for it, the main status and one per change-set line.
 */
export function fluxProgressing(commit: string): Record<string, unknown> {
  return fluxEvent(
    commit,
    "Progressing",
    "Namespace/podinfo configured\nService/podinfo/podinfo configured\nDeployment/podinfo/podinfo configured\nHorizontalPodAutoscaler/podinfo/podinfo configured",
  );
}

function fluxEvent(commit: string, reason: string, message: string): Record<string, unknown> {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev", uid: "d3c4b5a6-1111-4222-8333-944455556666", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-11-21T10:15:00Z",
    message,
    reason,
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
  };
}
