/**
 * The table bench/run.ts ends with, against the targets of bench/limits.ts: one row per target,
 * the figure measured against it (median (min–max) of the runs) and how far the median is from it. A table,
 * not a verdict: a missed target is printed like a met one and never fails the bench (STYLE rule 13).
 */
import type { ApiCallsResult } from "./api-calls.ts";
import type { LatencyResult } from "./e2e-latency.ts";
import type { LifecycleResult } from "./lifecycle.ts";
import type { SlowApiResult } from "./slow-api.ts";
import { formatDistance, TARGETS, type Bound } from "./limits.ts";
import { formatSummary, formatTable, mapSummary, mebibytes, summarize, type Summary } from "./stats.ts";
import { shareOfLimit, type ThroughputResult } from "./webhook-throughput-report.ts";

/** What bench/run.ts measured; a section left out (`--only`) is undefined. */
export interface TargetInputs {
  readonly e2e?: LatencyResult;
  readonly throughput?: ThroughputResult;
  readonly slowApi?: SlowApiResult;
  readonly lifecycle?: LifecycleResult;
  readonly apiCalls?: ApiCallsResult;
}

interface Row {
  readonly target: string;
  /** Undefined: not measured, and `why` says so. */
  readonly summary?: Summary;
  readonly why?: string;
  readonly bound: Bound;
  readonly unit: string;
  readonly digits: number;
}

const NOT_RUN = "not run (--only)";

function throughputRows(result: ThroughputResult | undefined): Row[] {
  const { throughputShareOfLimit: share, throughputConnections: connections } = TARGETS;
  const row = (label: string, summary?: Summary, why?: string): Row => ({
    target: `webhook throughput ≥ ${share * 100}% of the limit at c=${connections}, ${label}`,
    summary: summary && mapSummary(summary, (ratio) => ratio * 100),
    why,
    bound: { atLeast: share * 100 },
    unit: "pp",
    digits: 1,
  });
  if (result === undefined) return [row("each event type", undefined, NOT_RUN)];
  if (result.kind === "skipped") return [row("each event type", undefined, `skipped: ${result.reason}`)];
  return result.cells.filter((cell) => cell.connections === connections).map((cell) => row(cell.label, shareOfLimit(cell)));
}

function slowApiRows(result: SlowApiResult | undefined): Row[] {
  const { eventsPerSecondAt50ms: target, defaultConcurrency } = TARGETS;
  const row = (label: string, summary?: Summary, why?: string): Row => ({
    target: `≥ ${target} events/s at 50 ms API latency, ${label}`,
    summary,
    why,
    bound: { atLeast: target },
    unit: "events/s",
    digits: 0,
  });
  if (result === undefined) return [row(`outbox.concurrency ${defaultConcurrency} (default)`, undefined, NOT_RUN)];
  const atDefault = result.rows.find((candidate) => candidate.concurrency === defaultConcurrency);
  const best = [...result.rows].sort((a, b) => b.eventsPerSecond.median - a.eventsPerSecond.median)[0];
  return [
    row(`outbox.concurrency ${defaultConcurrency} (default)`, atDefault?.eventsPerSecond, atDefault ? undefined : "not measured (--concurrency)"),
    ...(best && best !== atDefault ? [row(`best measured: outbox.concurrency ${best.concurrency}`, best.eventsPerSecond)] : []),
  ];
}

/** One row per target, in the order. */
export function formatTargets(inputs: TargetInputs): string {
  const { e2e, lifecycle, apiCalls } = inputs;
  const mib = (summary: Summary) => mapSummary(summary, mebibytes);
  const rows: Row[] = [
    ...throughputRows(inputs.throughput),
    ...slowApiRows(inputs.slowApi),
    {
      target: `e2e p99 ≤ ${TARGETS.e2eP99Ms} ms at ${TARGETS.e2eRatePerSecond} events/s (webhook → status)`,
      summary: e2e?.delivery.p99,
      why: e2e ? undefined : NOT_RUN,
      bound: { atMost: TARGETS.e2eP99Ms },
      unit: "ms",
      digits: 2,
    },
    {
      target: `RSS ≤ ${TARGETS.rssUnderLoadMiB} MiB under load (peak VmHWM)`,
      summary: lifecycle && mib(summarize(lifecycle.load.map((run) => run.peak))),
      why: lifecycle ? undefined : NOT_RUN,
      bound: { atMost: TARGETS.rssUnderLoadMiB },
      unit: "MiB",
      digits: 1,
    },
    {
      target: `ready ≤ ${TARGETS.readyMs} ms (exec → /readyz 200)`,
      summary: lifecycle && summarize(lifecycle.idle.map((run) => run.readyMs)),
      why: lifecycle ? undefined : NOT_RUN,
      bound: { atMost: TARGETS.readyMs },
      unit: "ms",
      digits: 1,
    },
    {
      target: `idle SIGTERM → exit ≤ ${TARGETS.idleExitMs / 1000} s`,
      summary: lifecycle && summarize(lifecycle.idle.map((run) => run.exitMs)),
      why: lifecycle ? undefined : NOT_RUN,
      bound: { atMost: TARGETS.idleExitMs },
      unit: "ms",
      digits: 1,
    },
    {
      target: "zero calls added by a repeated success",
      summary: apiCalls && summarize(apiCalls.runs.map((run) => run.c.total)),
      why: apiCalls ? undefined : NOT_RUN,
      bound: { atMost: TARGETS.repeatedSuccessCalls },
      unit: "calls",
      digits: 0,
    },
  ];
  const table = formatTable(
    ["target", "measured", "distance (median)"],
    rows.map((row) =>
      row.summary
        ? [row.target, formatSummary(row.summary, row.digits, row.unit === "pp" ? "%" : ` ${row.unit}`), formatDistance(row.summary.median, row.bound, row.unit, row.digits)]
        : [row.target, row.why ?? "—", "—"],
    ),
  );
  return `${table}\n\nmeasured: median (min–max) of the section's runs; distance: the median against the target (pp = percentage points).`;
}
