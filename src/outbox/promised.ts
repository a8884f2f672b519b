/**
 * The store port over a driver that answers at once (SQLite in this process): every method returns a promise of
 * what the driver returned, and a throw becomes a rejection. A driver that talks to a server (PostgreSQL)
 * implements the port directly. Callers only ever see the port, so they are written for a store that waits.
 */
import type { Immediate, OutboxStore } from "./types.ts";

const METHODS = [
  "submit", "pendingDepth", "claimDue", "nextDueAt", "claimDueAndNext", "markDone", "markRetry", "markDead", "blockTarget", "releaseClaim",
  "releaseClaims", "stats", "deadJobs", "rateLimitedTargets", "retryDead", "purgeDead", "deadCount", "oldestPendingAt",
  "probeWrite", "recordHolder", "enqueueOnce", "prune", "pruneOnceKeys", "recordPromotion", "tryLease", "close",
  "submitBatch", "markDoneMany",
] as const satisfies readonly (keyof OutboxStore)[];

const READER_METHODS = ["deployments", "deployment", "promotions", "changesSince", "lastChange"] as const satisfies readonly (keyof OutboxStore["reader"])[];

/** Each call looks the driver's method up then, so a driver object changed afterwards (a test's spy) is honoured. */
function lift(target: object, method: string): (...args: unknown[]) => Promise<unknown> {
  return (...args) => {
    try {
      return Promise.resolve((target as Record<string, (...a: unknown[]) => unknown>)[method]!(...args));
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

export function promised<S extends Immediate<OutboxStore>>(store: S): OutboxStore & Omit<S, keyof OutboxStore> {
  const port: Record<string, unknown> = { ...store };
  for (const method of METHODS) if (typeof (store as Record<string, unknown>)[method] === "function") port[method] = lift(store, method);
  const reader: Record<string, unknown> = { onChange: (listener: never) => store.reader.onChange(listener) };
  for (const method of READER_METHODS) reader[method] = lift(store.reader, method);
  port.reader = reader;
  return port as unknown as OutboxStore & Omit<S, keyof OutboxStore>;
}
