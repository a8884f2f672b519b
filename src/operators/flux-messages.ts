/**
 * Reads the two Flux event messages that carry more than prose. A Kustomization `Progressing` message is its
 * change set, one `<resource> <action>` line per object: `Deployment/default/podinfo configured` since Flux
 * 2.0 (server-side apply), `deployment.apps/podinfo configured` from the older kubectl-based controller, plus
 * kubectl's `Warning: …` lines. A `HealthCheckFailed` message ends with the failing objects in brackets:
 * "… timeout waiting for: [Deployment/default/podinfo status: 'InProgress', …]".
 */

/** One resource type of a change set, e.g. `Deployment` with `2 configured, 1 created`. */
export interface ChangeSetGroup {
  readonly resourceType: string;
  readonly description: string;
}

export interface ChangeSet {
  readonly groups: readonly ChangeSetGroup[];
  readonly warnings: number;
  /** Non-empty lines that are neither a change nor a warning, as written. */
  readonly unrecognised: readonly string[];
}

/** A failed health check, e.g. `Deployment/default/podinfo` with `status: 'InProgress'`. */
export interface FailedHealthCheck {
  readonly resource: string;
  readonly detail: string;
}

/** `<type>/<rest of the id> <action>`; the type is the text before the first slash. */
const CHANGE_LINE = /^([^\s/]+)\/\S*\s+(\S.*)$/;
const WARNING_LINE = /^warning\b/i;
/** Items of the bracketed list start at a resource id (`Kind/…`); details never contain `, Kind/`. */
const ITEM_SEPARATOR = /,\s*(?=[^\s,/]+\/\S)/;
const QUOTED_LINE_MAX = 60;

/** Groups a change-set message by resource type, in order of first appearance, counting each action. */
export function parseChangeSet(message: string): ChangeSet {
  const counts = new Map<string, Map<string, number>>();
  const unrecognised: string[] = [];
  let warnings = 0;
  for (const rawLine of message.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line) continue;
    if (WARNING_LINE.test(line)) {
      warnings += 1;
      continue;
    }
    const match = CHANGE_LINE.exec(line);
    const [resourceType, action] = [match?.[1], match?.[2]?.trim()];
    if (!resourceType || !action) {
      unrecognised.push(line);
      continue;
    }
    const actions = counts.get(resourceType) ?? new Map<string, number>();
    actions.set(action, (actions.get(action) ?? 0) + 1);
    counts.set(resourceType, actions);
  }
  const groups = [...counts].map(([resourceType, actions]) => ({
    resourceType,
    description: [...actions].map(([action, count]) => `${count} ${action}`).join(", "),
  }));
  return { groups, warnings, unrecognised };
}

/** One line for the `other` part: how many lines were not understood, quoting the first. */
export function describeUnrecognised(lines: readonly string[]): string {
  const first = lines[0] ?? "";
  const quoted = first.length > QUOTED_LINE_MAX ? `${first.slice(0, QUOTED_LINE_MAX - 1)}…` : first;
  return lines.length === 1
    ? `1 unrecognised change-set line: "${quoted}"`
    : `${lines.length} unrecognised change-set lines, first: "${quoted}"`;
}

/** The objects listed in a health-check failure message, each with its detail; empty when none is listed. */
export function parseHealthCheckFailures(message: string): FailedHealthCheck[] {
  const open = message.indexOf("[");
  const close = message.lastIndexOf("]");
  if (open < 0 || close <= open) return [];
  return message
    .slice(open + 1, close)
    .split(ITEM_SEPARATOR)
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .map((item) => {
      const space = item.search(/\s/);
      return space < 0
        ? { resource: item, detail: "" }
        : { resource: item.slice(0, space), detail: item.slice(space + 1).trim() };
    });
}
