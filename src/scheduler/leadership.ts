/**
 * Which replica runs the scheduler's tasks (prune, the abandoned-PR sweep, the promotion reconcile): the one
 * holding the lease row (DESIGN §13), renewed every third of its time to live and taken over by another replica
 * once it expires. Correctness does not rest on it: whatever must happen once is a unique key inside the enqueue
 * transaction, so a brief overlap of two leaders (a paused one resuming) does nothing twice. A renewal that fails
 * ends leadership when the lease would have run out, measured on this process's own clock.
 */
import type { Logger } from "../observability/logger.ts";

export interface Leadership {
  isLeader(): boolean;
  /** Takes or renews the lease; never throws. */
  renew(): Promise<void>;
  readonly renewEveryMs: number;
}

export function createLeadership(options: {
  readonly store: { tryLease(name: string, holder: string, ttlMs: number, now: number): Promise<{ held: boolean; term: number }> };
  readonly holder: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}): Leadership {
  const log = options.logger.child({ component: "scheduler" });
  const now = options.now ?? Date.now;
  let heldUntil = 0;
  let leading = false;
  return {
    renewEveryMs: Math.max(1, Math.floor(options.ttlMs / 3)),
    isLeader: () => leading && now() < heldUntil,
    async renew() {
      const started = now();
      try {
        const lease = await options.store.tryLease("scheduler", options.holder, options.ttlMs, started);
        if (lease.held && !leading) log.info({ holder: options.holder, term: lease.term }, "this replica runs the scheduler now");
        if (!lease.held && leading) log.info({ holder: options.holder, term: lease.term }, "another replica runs the scheduler now");
        leading = lease.held;
        if (lease.held) heldUntil = started + options.ttlMs;
      } catch (error) {
        log.warn({ err: error }, "could not renew the scheduler's lease; this replica stops scheduling when it runs out");
      }
    },
  };
}
