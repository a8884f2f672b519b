/**
 * Delivery: where a job goes once it is planned. The dry-run delivery logs it; the network delivery sends it
 * to the git provider, subscriber or orchestrator. The outbox worker calls this port and decides, from the
 * {@link DeliveryError} it may throw, whether to retry, wait for the whole target, or give up.
 */
import type { Job } from "./model.ts";

export interface Delivery {
  /** Resolves when the job's effect happened (or was deliberately skipped); the signal aborts on timeout/shutdown. */
  deliver(job: Job, signal: AbortSignal): Promise<void>;
}

export interface DeliveryErrorOptions {
  /** True when retrying cannot help (a 4xx other than 408/409/429, a config mistake): the job goes dead at once. */
  readonly permanent: boolean;
  /** The HTTP status that caused it, when there was one. */
  readonly status?: number;
  /**
   * A rate limit: do not call this target again before this many ms from now (Retry-After, GitHub's rate-limit
   * reset). Such an attempt is not counted toward `outbox.maxAttempts`: the job waits, it never goes dead for it.
   */
  readonly retryAfterMs?: number;
}

/** A failed delivery. Its message names instance, target and what to check, never a token. */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(message: string, options: DeliveryErrorOptions) {
    super(message);
    this.name = "DeliveryError";
    this.permanent = options.permanent;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The API said to wait (DESIGN §10 "Rate limits"): retried after the wait, for the whole target, never dead. */
  get rateLimited(): boolean {
    return this.retryAfterMs !== undefined;
  }
}
