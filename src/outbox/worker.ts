/**
 * The outbox worker: claims due jobs from the store and delivers them, at most `concurrency` at a time and at
 * most half of that for any one target, so a hung or failing API never starves the others. Every attempt has a
 * timeout. A retryable failure waits an exponential backoff with full jitter; a permanent one, or the last
 * allowed attempt, makes the job dead. A rate limit (Retry-After, GitHub's reset) holds back the whole target
 * for as long as the API says and is not counted as an attempt, so it never makes a job dead.
 * The store guarantees order: only the oldest pending job of an ordering key is ever claimable.
 *
 * Each attempt ends in one log line (jobId, kind, instance, commit, target, attempt, durationMs, outcome, and the
 * HTTP status when there was one): info when delivered, warn when it will be retried (an API failed or was slow;
 * worth a look, though the job is not lost), error when dead. The job's payload is logged only at debug.
 */
import { DeliveryError, type Delivery } from "../core/delivery.ts";
import { commitOfJob } from "../core/model.ts";
import type { Logger } from "../observability/logger.ts";
import { withOutboundScope, type OutboundScope } from "../observability/outbound.ts";
import type { StoredJob, WorkerStore } from "./types.ts";

export type AttemptOutcome = "delivered" | "retried" | "rate_limited" | "dead";

export interface WorkerOptions {
  store: WorkerStore;
  delivery: Delivery;
  logger: Logger;
  concurrency: number;
  timeoutMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  now?: () => number;
  random?: () => number;
  /** The first wait before recording a result again after a storage error (default 1 s); tests shorten it. */
  recordRetryMinMs?: number;
  /** The shortest wait a rate limit imposes (default 1 s, see MIN_RATE_LIMIT_WAIT_MS); tests shorten it. */
  minRateLimitWaitMs?: number;
  /** Longest sleep between looks at the store when nothing is due (a safety net; enqueues wake the worker). */
  idleCheckMs?: number;
  onAttempt?(job: StoredJob, outcome: AttemptOutcome, durationMs: number): void;
  /**
   * Applied to every error before it is stored: an API that echoes a credential in its error must not put it
   * in the outbox file (and `outbox dead`), which the log's redaction does not cover.
   */
  redact?(text: string): string;
  /** A read or write of the outbox failed (the daemon counts it and turns unready). */
  onStorageError?(operation: "claim" | "record", error: unknown): void;
  /** A read or write of the outbox worked again. */
  onStorageOk?(): void;
}

/** The settings a config reload may change while the worker runs. */
export type WorkerSettings = Pick<WorkerOptions, "concurrency" | "timeoutMs" | "maxAttempts" | "initialBackoffMs" | "maxBackoffMs">;

export interface OutboxWorker {
  start(): void;
  /**
   * Applies reloaded settings: the next claim, attempt and failure use them. A higher concurrency claims more at
   * once; a lower one lets deliveries in flight finish and claims less from then on.
   */
  reconfigure(settings: WorkerSettings): void;
  /** Something was enqueued: look for due jobs now. */
  wake(): void;
  inFlight(): number;
  /** Stops claiming, lets deliveries in flight finish for up to `graceMs`, then aborts the rest (they stay pending). */
  stop(graceMs: number): Promise<{ finished: number; interrupted: number }>;
}

/**
 * Bounds on a rate limit's wait. At least a second, so an API answering `Retry-After: 0` again and again is not
 * hammered (rate limits are not counted as attempts, so nothing else would stop that); at most a day, so an
 * absurd date in a header cannot park a target for ever. GitHub's primary limit resets within the hour.
 */
const MIN_RATE_LIMIT_WAIT_MS = 1_000;
const MAX_RATE_LIMIT_WAIT_MS = 24 * 3_600_000;

/** Between tries to record a result while storage fails: a second, doubling up to half a minute. */
const RECORD_RETRY_MIN_MS = 1_000;
/** How long a delivered job's record waits for the others in flight, to share their transaction. */
const COMPLETION_WINDOW_MS = 2;
const RECORD_RETRY_MAX_MS = 30_000;

/** How long aborted deliveries get to record their result before stop() returns anyway. */
const ABORT_SETTLE_MS = 1_000;

class ShutdownAbort extends Error {
  constructor() {
    super("interrupted by shutdown; will be retried after restart");
  }
}

/** Full jitter between the initial backoff and the exponential cap for this attempt. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(initialMs + random() * Math.max(0, cap - initialMs));
}

export function createOutboxWorker(options: WorkerOptions): OutboxWorker {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const log = options.logger.child({ component: "worker" });
  let settings: WorkerSettings = {
    concurrency: options.concurrency,
    timeoutMs: options.timeoutMs,
    maxAttempts: options.maxAttempts,
    initialBackoffMs: options.initialBackoffMs,
    maxBackoffMs: options.maxBackoffMs,
  };
  const perTargetLimit = () => Math.max(1, Math.floor(settings.concurrency / 2));
  const inFlight = new Map<number, { target: string; controller: AbortController; done: Promise<void> }>();
  const pauses = new Set<() => void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;

  function inFlightByTarget(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { target } of inFlight.values()) counts.set(target, (counts.get(target) ?? 0) + 1);
    return counts;
  }

  function busyTargets(counts = inFlightByTarget()): string[] {
    return [...counts].filter(([, count]) => count >= perTargetLimit()).map(([target]) => target);
  }

  /**
   * Batched completion: the deliveries that finish in one turn of the event loop are recorded in one transaction
   * (when the store offers it); each attempt's record waits for it, and a failure fails them all, to be retried.
   */
  let finished: { id: number; now: number; resolve(): void; reject(error: unknown): void }[] = [];
  let completionTimer: ReturnType<typeof setTimeout> | undefined;
  function recordFinished(): void {
    if (completionTimer) clearTimeout(completionTimer);
    completionTimer = undefined;
    const batch = finished;
    finished = [];
    if (batch.length === 0) return;
    options.store.markDoneMany!(batch.map(({ id: done, now: when }) => ({ id: done, now: when }))).then(
      () => batch.forEach((entry) => entry.resolve()),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    );
  }
  function markDone(id: number, at: number): Promise<void> {
    if (options.store.markDoneMany === undefined) return options.store.markDone(id, at);
    return new Promise((resolve, reject) => {
      finished.push({ id, now: at, resolve, reject });
      // One transaction per delivery cost more than the delivery itself (a WAL commit each). Deliveries in flight
      // together finish together, so the record waits, at most COMPLETION_WINDOW_MS, for the others in flight.
      if (finished.length >= inFlight.size) setImmediate(recordFinished);
      else completionTimer ??= setTimeout(recordFinished, COMPLETION_WINDOW_MS);
    });
  }

  /** A pump asked for while one runs runs again after it: store calls wait, and two pumps would over-claim. */
  let pumping = false;
  let pumpAgain = false;
  function pump(): void {
    if (!running) return;
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    void pumpOnce().finally(() => {
      pumping = false;
      if (pumpAgain) {
        pumpAgain = false;
        pump();
      }
    });
  }

  /** Claims as many jobs as there are free slots, no target past its share, in one read of the outbox. */
  async function pumpOnce(): Promise<void> {
    /** When the last claim left a slot free: when to look again, read with it. */
    let nextDue: { at: number | undefined } | undefined;
    try {
      claiming: while (running && inFlight.size < settings.concurrency) {
        const counts = inFlightByTarget();
        const free = settings.concurrency - inFlight.size;
        const claimed = await options.store.claimDueAndNext({ now: now(), limit: free, excludeTargets: busyTargets(counts), roomOf: (target) => perTargetLimit() - (counts.get(target) ?? 0) });
        const jobs = claimed.jobs;
        nextDue = jobs.length < free ? { at: claimed.nextDueAt } : undefined;
        for (const [index, job] of jobs.entries()) {
          // A job already in flight coming back would be delivered twice and, claimed again at once, spin this
          // loop without ever yielding; the store excludes claimed jobs, so this is a guard, not a path.
          if (inFlight.has(job.id) || !running) {
            for (const left of jobs.slice(index)) await options.store.releaseClaim(left.id);
            if (running) log.error({ jobId: job.id, kind: job.job.kind, target: job.job.target }, "the outbox offered a job already in flight; not delivering it twice");
            nextDue = undefined; // read with claims now released
            break claiming;
          }
          startDelivery(job);
        }
        // Fewer than asked for: nothing else is due, or every target with due jobs has its share.
        if (jobs.length < free) break;
      }
      options.onStorageOk?.();
    } catch (error) {
      options.onStorageError?.("claim", error);
      log.error({ err: error }, "could not read due jobs from the outbox; will try again");
      nextDue = undefined;
    }
    await scheduleNextLook(nextDue);
  }

  /** `known`: the next due time as the pump's last claim read it; asked of the store otherwise. */
  async function scheduleNextLook(known?: { at: number | undefined }): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    // At capacity, the next delivery to finish pumps: no timer, and no store read per finished delivery.
    if (!running || inFlight.size >= settings.concurrency) return;
    const idle = options.idleCheckMs ?? 1_000;
    let delay = idle;
    try {
      // Busy targets are left out: their due jobs wait for a delivery of theirs to finish, which pumps; counted,
      // they would make the next look due at once, again and again, until then.
      const due = known ? known.at : await options.store.nextDueAt(busyTargets());
      if (due !== undefined) delay = Math.min(idle, Math.max(0, due - now()));
    } catch {
      // The next pump reports store errors.
    }
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(pump, delay);
  }

  function startDelivery(stored: StoredJob): void {
    const controller = new AbortController();
    const timeoutMs = settings.timeoutMs;
    const timeout = setTimeout(() => controller.abort(new DeliveryError(`timed out after ${timeoutMs} ms (outbox.timeoutMs)`, { permanent: false })), timeoutMs);
    // The attempt's outbound calls are counted under its target and leave their last status here.
    const scope: OutboundScope = { target: stored.job.target };
    log.debug({ jobId: stored.id, kind: stored.job.kind, target: stored.job.target, attempt: stored.attempts + 1, payload: stored.job.payload }, "delivering");
    if (stored.takenOverFrom !== undefined) {
      log.warn(
        { jobId: stored.id, kind: stored.job.kind, target: stored.job.target, commit: commitOfJob(stored.job), from: stored.takenOverFrom },
        "taking over a job whose lease ran out on another replica; it may have made the call already (delivery is at least once)",
      );
    }
    const started = performance.now();
    const done = withOutboundScope(scope, () => options.delivery.deliver(stored.job, controller.signal))
      .then(
        () => ({ error: undefined as unknown, lastStatus: scope.lastStatus }),
        (error: unknown) => ({ error: controller.signal.aborted ? controller.signal.reason : error, lastStatus: undefined }),
      )
      .then((result) => {
        clearTimeout(timeout);
        return record(stored, result.error, performance.now() - started, result.lastStatus);
      })
      .finally(() => {
        inFlight.delete(stored.id);
        pump();
      });
    inFlight.set(stored.id, { target: stored.job.target, controller, done });
  }

  /**
   * Records an attempt's result. When storage fails (a full disk, a read-only remount, a lock held past
   * busy_timeout), the write is tried again with a backoff, the job meanwhile held as in flight, so it is neither
   * lost nor delivered twice and its key's later jobs keep their order; a stop gives up and leaves it pending.
   */
  async function record(stored: StoredJob, error: unknown, durationMs: number, lastStatus: number | undefined): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await settle(stored, error, durationMs, lastStatus);
        options.onStorageOk?.();
        return;
      } catch (failure) {
        options.onStorageError?.("record", failure);
        if (!running) {
          log.error({ err: failure, jobId: stored.id }, "could not record a delivery result while stopping; the job stays pending for the next start");
          return;
        }
        const waitMs = backoffDelay(tries, options.recordRetryMinMs ?? RECORD_RETRY_MIN_MS, RECORD_RETRY_MAX_MS, random);
        log.error({ err: failure, jobId: stored.id, kind: stored.job.kind, target: stored.job.target, nextTryInMs: waitMs }, "could not record a delivery result (storage error); trying again, the job waits meanwhile");
        await pause(waitMs);
      }
    }
  }

  /** A wait that a stop cuts short. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        pauses.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      pauses.add(wake);
    });
  }

  /** `lastStatus`: the last HTTP answer of a successful attempt; a failure carries its own status. */
  async function settle(stored: StoredJob, error: unknown, durationMs: number, lastStatus?: number): Promise<void> {
    const { job } = stored;
    const attempt = stored.attempts + 1;
    const fields = { jobId: stored.id, kind: job.kind, instance: job.instance, commit: commitOfJob(job), target: job.target, attempt, durationMs: Math.round(durationMs) };
    const at = now();
    if (error === undefined) {
      await markDone(stored.id, at);
      log.info({ ...fields, outcome: "delivered", status: lastStatus }, "delivered");
      options.onAttempt?.(stored, "delivered", durationMs);
      return;
    }
    const failure = toDeliveryError(error);
    const redact = options.redact ?? ((text: string) => text);
    if (failure instanceof ShutdownAbort) {
      await options.store.markRetry(stored.id, at, at, redact(failure.message));
      log.info({ ...fields, outcome: "retried" }, failure.message);
      options.onAttempt?.(stored, "retried", durationMs);
      return;
    }
    if (failure.retryAfterMs !== undefined && !failure.permanent) {
      // Retry-After and rate-limit resets speak for the whole target, not just this job; waiting is no failure.
      const wait = Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(options.minRateLimitWaitMs ?? MIN_RATE_LIMIT_WAIT_MS, failure.retryAfterMs));
      await options.store.blockTarget(job.target, at + wait);
      await options.store.markRetry(stored.id, at, at + wait, redact(failure.message), false);
      log.warn(
        { ...fields, outcome: "rate_limited", status: failure.status, error: failure.message, nextAttemptInMs: wait },
        "rate limited; waiting as the API asks (not counted as an attempt)",
      );
      options.onAttempt?.(stored, "rate_limited", durationMs);
      return;
    }
    if (failure.permanent || attempt >= settings.maxAttempts) {
      const reason = redact(failure.permanent ? failure.message : `gave up after ${attempt} attempts (outbox.maxAttempts): ${failure.message}`);
      await options.store.markDead(stored.id, at, reason);
      log.error({ ...fields, outcome: "dead", status: failure.status, error: reason }, "delivery failed for good; see `gitops-connector outbox dead`");
      options.onAttempt?.(stored, "dead", durationMs);
      return;
    }
    const delay = backoffDelay(attempt, settings.initialBackoffMs, settings.maxBackoffMs, random);
    await options.store.markRetry(stored.id, at, at + delay, redact(failure.message));
    log.warn({ ...fields, outcome: "retried", status: failure.status, error: failure.message, nextAttemptInMs: delay }, "delivery failed; will retry");
    options.onAttempt?.(stored, "retried", durationMs);
  }

  return {
    start() {
      if (running) return;
      running = true;
      pump();
    },
    reconfigure(next) {
      const { concurrency, timeoutMs, maxAttempts, initialBackoffMs, maxBackoffMs } = next;
      settings = { concurrency, timeoutMs, maxAttempts, initialBackoffMs, maxBackoffMs };
      pump();
    },
    wake: () => pump(),
    inFlight: () => inFlight.size,
    async stop(graceMs) {
      running = false;
      if (timer) clearTimeout(timer);
      for (const wake of [...pauses]) wake(); // results waiting for storage give up: their jobs stay pending
      const pending = [...inFlight.values()];
      const all = Promise.all(pending.map((entry) => entry.done));
      const graceTimer = new Promise<"grace">((resolve) => setTimeout(resolve, graceMs, "grace").unref?.());
      const first = await Promise.race([all.then(() => "done" as const), graceTimer]);
      const interrupted = inFlight.size;
      if (first === "grace") {
        for (const entry of inFlight.values()) entry.controller.abort(new ShutdownAbort());
        // A delivery that ignores its abort signal must not hold the process: its claim is released at start-up.
        await Promise.race([all, new Promise((resolve) => setTimeout(resolve, ABORT_SETTLE_MS).unref?.())]);
      }
      return { finished: pending.length - interrupted, interrupted };
    },
  };
}

function toDeliveryError(error: unknown): DeliveryError | ShutdownAbort {
  if (error instanceof DeliveryError || error instanceof ShutdownAbort) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DeliveryError(message, { permanent: false });
}
