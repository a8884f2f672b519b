/**
 * The performance targets, in one place, and how far a figure is from one. The sections measure
 * against these; bench/targets.ts tabulates every section's figures at the end of a run.
 */
export const TARGETS = {
  /** Daemon req/s over the limit server's, at this many connections, for every event type. */
  throughputShareOfLimit: 0.2,
  throughputConnections: 16,
  /** Delivered events/s when every API call takes 50 ms. */
  eventsPerSecondAt50ms: 300,
  defaultConcurrency: 8,
  /** p99 webhook → status at the fake API, at e2eRatePerSecond. */
  e2eP99Ms: 10,
  e2eRatePerSecond: 200,
  rssUnderLoadMiB: 60,
  readyMs: 100,
  idleExitMs: 1_000,
  /** Calls added by the same success sent again. */
  repeatedSuccessCalls: 0,
} as const;

export type Bound = { readonly atMost: number } | { readonly atLeast: number };

/** "+156.0 ms over", "−12 events/s short", "met, 990.0 ms to spare", "met"; "—" for no figure. Judged on `value`. */
export function formatDistance(value: number, bound: Bound, unit: string, digits: number): string {
  if (!Number.isFinite(value)) return "—";
  const f = (amount: number) => `${amount.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${unit}`;
  const spare = "atMost" in bound ? bound.atMost - value : value - bound.atLeast;
  if (spare < 0) return "atMost" in bound ? `+${f(-spare)} over` : `−${f(-spare)} short`;
  return spare === 0 ? "met" : `met, ${f(spare)} to spare`;
}
