/**
 * Which instance a webhook is for, first match wins (DESIGN §4): the `:instance` path segment; the name in
 * the payload (Flux `metadata.gitops_connector_config_name`, set by the Alert's `eventMetadata`, or Argo's
 * top-level `gitops_connector_config_name`); the only instance; the instance marked `default: true`.
 */

export interface SelectableInstance {
  readonly name: string;
  readonly default?: boolean;
}

export type Selection<I> = { ok: true; instance: I } | { ok: false; error: string };

/** Argo CD renders a missing annotation as `<no value>` or an empty string: both mean "not named". */
function nameIn(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" && value !== "<no value>" ? value.trim() : undefined;
}

export function payloadInstanceName(payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const record = payload as Record<string, unknown>;
  const metadata = record.metadata;
  const fromFlux = typeof metadata === "object" && metadata !== null ? nameIn((metadata as Record<string, unknown>).gitops_connector_config_name) : undefined;
  return fromFlux ?? nameIn(record.gitops_connector_config_name);
}

export function selectInstance<I extends SelectableInstance>(
  instances: readonly I[],
  pathName: string | undefined,
  payload: unknown,
): Selection<I> {
  const named = pathName ?? payloadInstanceName(payload);
  if (named !== undefined) {
    const instance = instances.find((candidate) => candidate.name === named);
    if (instance) return { ok: true, instance };
    const known = instances.map((candidate) => candidate.name).join(", ");
    const where = pathName !== undefined ? "in the URL path" : "by gitops_connector_config_name";
    return { ok: false, error: `no instance named "${named}" (named ${where}); configured instances: ${known}` };
  }
  if (instances.length === 1 && instances[0]) return { ok: true, instance: instances[0] };
  const fallback = instances.find((candidate) => candidate.default === true);
  if (fallback) return { ok: true, instance: fallback };
  return {
    ok: false,
    error:
      "the event names no instance and several are configured: post to /gitopsphase/<instance>, set gitops_connector_config_name " +
      "(Flux Alert eventMetadata, Argo CD template), or mark one instance default: true",
  };
}
