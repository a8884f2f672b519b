/**
 * The worker's scheduling rules against the real SQLite store: order per key, fairness across targets,
 * backoff, whole-target Retry-After, permanent failures, attempt limit, timeouts, graceful stop. The delivery
 * port is scripted here because these are rules about when to call it; the HTTP behaviour is tested end to
 * end in test/e2e/outbox-daemon.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { DeliveryError, type Delivery } from "../../src/core/delivery.ts";
import type { Job } from "../../src/core/model.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { promised } from "../../src/outbox/promised.ts";
import { createSqliteOutboxStore, type SqliteOutboxStore } from "../../src/outbox/store.ts";
import type { StoredJob } from "../../src/outbox/types.ts";
import { backoffDelay, createOutboxWorker, type AttemptOutcome, type OutboxWorker } from "../../src/outbox/worker.ts";

const logs: string[] = [];
const logger = createLogger({ level: "debug", write: (line) => void logs.push(line) });

function job(target: string, orderingKey: string, label: string, coalesceKey?: string): Job {
  return {
    kind: "subscriber",
    instance: "apps-dev",
    target,
    orderingKey,
    ...(coalesceKey ? { coalesceKey } : {}),
    payload: { url: `http://subscriber.local/${label}`, body: { commit_id: label } as never },
  };
}

const labelOf = (j: Job) => (j.kind === "subscriber" ? (j.payload.url ?? "").split("/").pop()! : "?");

let commits = 0;
function enqueue(store: SqliteOutboxStore, jobs: Job[]): void {
  commits += 1;
  store.submit("apps-dev", `commit-${commits}`, (known) => ({ jobs, known }), Date.now());
}

/** A promise with its resolver, to await "the delivery has started" instead of polling. */
function signalled() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface Harness {
  store: SqliteOutboxStore;
  worker: OutboxWorker;
  calls: Array<{ label: string; at: number }>;
  attempts: Array<{ label: string; outcome: AttemptOutcome }>;
  /** Resolves when `count` attempts matching the predicate have been recorded. */
  attemptsWhere(predicate: (entry: { label: string; outcome: AttemptOutcome }) => boolean, count?: number): Promise<void>;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.worker.stop(0);
  harness?.store.close();
  harness = undefined;
});

function start(deliver: (job: Job, signal: AbortSignal, attempt: number) => Promise<void>, overrides: Partial<Parameters<typeof createOutboxWorker>[0]> = {}): Harness {
  const store = createSqliteOutboxStore({ path: ":memory:" });
  const calls: Harness["calls"] = [];
  const attempts: Harness["attempts"] = [];
  const waiters: Array<() => void> = [];
  const attemptCounts = new Map<string, number>();
  const delivery: Delivery = {
    deliver(j, signal) {
      const label = labelOf(j);
      calls.push({ label, at: Date.now() });
      const attempt = (attemptCounts.get(label) ?? 0) + 1;
      attemptCounts.set(label, attempt);
      return deliver(j, signal, attempt);
    },
  };
  const worker = createOutboxWorker({
    store: promised(store),
    delivery,
    logger,
    concurrency: 4,
    timeoutMs: 2_000,
    maxAttempts: 5,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    idleCheckMs: 50,
    minRateLimitWaitMs: 10,
    onAttempt(stored: StoredJob, outcome) {
      attempts.push({ label: labelOf(stored.job), outcome });
      for (const wake of [...waiters]) wake();
    },
    ...overrides,
  });
  harness = {
    store,
    worker,
    calls,
    attempts,
    attemptsWhere(predicate, count = 1) {
      return new Promise((resolve) => {
        const check = () => {
          if (attempts.filter(predicate).length >= count) {
            waiters.splice(waiters.indexOf(check), 1);
            resolve();
          }
        };
        waiters.push(check);
        check();
      });
    },
  };
  return harness;
}

describe("backoffDelay", () => {
  test("grows exponentially, stays between initial and max, with full jitter", () => {
    expect(backoffDelay(1, 1000, 300_000, () => 0)).toBe(1000);
    expect(backoffDelay(1, 1000, 300_000, () => 1)).toBe(1000);
    expect(backoffDelay(4, 1000, 300_000, () => 1)).toBe(8000);
    expect(backoffDelay(4, 1000, 300_000, () => 0)).toBe(1000);
    expect(backoffDelay(30, 1000, 300_000, () => 1)).toBe(300_000);
    expect(backoffDelay(3, 1000, 300_000, () => 0.5)).toBe(2500);
  });
});

describe("outbox worker", () => {
  test("jobs with one ordering key run strictly in order, one at a time", async () => {
    let concurrentForKey = 0;
    let maxConcurrentForKey = 0;
    const h = start(async () => {
      concurrentForKey += 1;
      maxConcurrentForKey = Math.max(maxConcurrentForKey, concurrentForKey);
      await Bun.sleep(2);
      concurrentForKey -= 1;
    });
    enqueue(h.store, ["a1", "a2", "a3", "a4"].map((label) => job("subscriber:one", "key-a", label)));
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "delivered", 4);
    expect(h.calls.map((call) => call.label)).toEqual(["a1", "a2", "a3", "a4"]);
    expect(maxConcurrentForKey).toBe(1);
  });

  test("a failing job holds back later jobs of its key but not other keys", async () => {
    const h = start(async (j, _signal, attempt) => {
      if (labelOf(j) === "a1" && attempt < 3) throw new DeliveryError("503 from subscriber", { permanent: false, status: 503 });
    });
    enqueue(h.store, [job("subscriber:one", "key-a", "a1"), job("subscriber:one", "key-a", "a2"), job("subscriber:one", "key-b", "b1")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "delivered", 3);
    const order = h.calls.map((call) => call.label);
    expect(order.indexOf("a2")).toBeGreaterThan(order.lastIndexOf("a1"));
    expect(order.indexOf("b1")).toBeLessThan(order.lastIndexOf("a1"));
    expect(h.attempts.filter((entry) => entry.label === "a1").map((entry) => entry.outcome)).toEqual(["retried", "retried", "delivered"]);
  });

  test("a hung target takes at most half the slots, so other targets keep flowing", async () => {
    const h = start((j, signal) =>
      j.target === "subscriber:hung" ? new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) : Promise.resolve(),
    );
    enqueue(h.store, [1, 2, 3, 4, 5, 6].map((n) => job("subscriber:hung", `hung-${n}`, `h${n}`)));
    enqueue(h.store, [1, 2, 3].map((n) => job("subscriber:ok", `ok-${n}`, `ok${n}`)));
    h.worker.start();
    await h.attemptsWhere((entry) => entry.label.startsWith("ok") && entry.outcome === "delivered", 3);
    expect(h.calls.filter((call) => call.label.startsWith("h")).length).toBe(2); // concurrency 4 → 2 per target
  });

  test("a target at its share is not looked at again until one of its deliveries finishes", async () => {
    // Bug: the next look counted the due jobs of a target at its share, so it was due at once and the
    // worker re-read the store in a loop (each read O(pending) then) until a delivery finished.
    const started = signalled();
    let startedCount = 0;
    const h = start((_j, signal) => {
      startedCount += 1;
      if (startedCount === 2) started.resolve();
      return new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    });
    // The next look as the worker reads it: with its claim, or alone.
    const answers: Array<number | undefined> = [];
    const nextDueAt = h.store.nextDueAt.bind(h.store);
    h.store.nextDueAt = (excludeTargets) => {
      const at = nextDueAt(excludeTargets);
      answers.push(at);
      return at;
    };
    const claimDueAndNext = h.store.claimDueAndNext.bind(h.store);
    h.store.claimDueAndNext = (options) => {
      const claimed = claimDueAndNext(options);
      if (claimed.jobs.length < options.limit) answers.push(claimed.nextDueAt);
      return claimed;
    };
    enqueue(h.store, [1, 2, 3, 4].map((n) => job("subscriber:slow", `slow-${n}`, `s${n}`)));
    h.worker.start();
    await started.promise;
    expect(h.worker.inFlight()).toBe(2); // concurrency 4 → 2 per target; the other 2 are due but must wait
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.at(-1)).toBeUndefined();
    expect(nextDueAt()).toBeLessThanOrEqual(Date.now()); // without the exclusion they would count as due now
  });

  test("at full concurrency the worker schedules no look of its own: a finishing delivery pumps", async () => {
    const started = signalled();
    let startedCount = 0;
    const h = start((_j, signal) => {
      startedCount += 1;
      if (startedCount === 4) started.resolve();
      return new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    });
    let looks = 0;
    const nextDueAt = h.store.nextDueAt.bind(h.store);
    h.store.nextDueAt = (excludeTargets) => ((looks += 1), nextDueAt(excludeTargets));
    const claimDueAndNext = h.store.claimDueAndNext.bind(h.store);
    h.store.claimDueAndNext = (options) => ((looks += 1), claimDueAndNext(options));
    enqueue(h.store, [1, 2, 3, 4, 5, 6].map((n) => job(`subscriber:t${n % 3}`, `k-${n}`, `j${n}`)));
    h.worker.start();
    await started.promise;
    expect(h.worker.inFlight()).toBe(4);
    const looksAtCapacity = looks;
    h.worker.wake();
    h.worker.wake();
    expect(looks).toBe(looksAtCapacity);
  });

  test("Retry-After blocks the whole target, not only the job", async () => {
    const h = start(async (j, _signal, attempt) => {
      if (labelOf(j) === "x1" && attempt === 1) throw new DeliveryError("429 rate limited", { permanent: false, status: 429, retryAfterMs: 300 });
    });
    enqueue(h.store, [job("subscriber:limited", "k1", "x1")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "rate_limited");
    const blockedAt = Date.now();
    enqueue(h.store, [job("subscriber:limited", "k2", "x2"), job("subscriber:free", "k3", "y1")]);
    h.worker.wake();
    await h.attemptsWhere((entry) => entry.label === "y1" && entry.outcome === "delivered");
    await h.attemptsWhere((entry) => entry.outcome === "delivered", 3);
    const x2 = h.calls.find((call) => call.label === "x2")!;
    const y1 = h.calls.find((call) => call.label === "y1")!;
    expect(x2.at - blockedAt).toBeGreaterThanOrEqual(250);
    expect(y1.at - blockedAt).toBeLessThan(250);
  });

  test("a rate limit is no failed attempt: answered 5 times in a row with maxAttempts 3, the job is delivered", async () => {
    const h = start(
      async (_j, _signal, attempt) => {
        if (attempt <= 5) throw new DeliveryError("403 from GitHub: rate limited", { permanent: false, status: 403, retryAfterMs: 20 });
      },
      { maxAttempts: 3 },
    );
    enqueue(h.store, [job("github:limited", "k1", "x1")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "delivered");
    expect(h.attempts.map((entry) => entry.outcome)).toEqual(["rate_limited", "rate_limited", "rate_limited", "rate_limited", "rate_limited", "delivered"]);
    expect(h.store.stats()).toEqual([{ kind: "subscriber", target: "github:limited", state: "done", count: 1 }]);
  });

  test("a rate-limited target and its pending jobs are listed until the wait is over", () => {
    const store = createSqliteOutboxStore({ path: ":memory:" });
    enqueue(store, [job("github:limited", "k1", "a"), job("github:limited", "k2", "b"), job("subscriber:free", "k3", "c")]);
    store.blockTarget("github:limited", 5_000);
    expect(store.rateLimitedTargets(4_999)).toEqual([{ target: "github:limited", until: 5_000, pending: 2 }]);
    expect(store.rateLimitedTargets(5_000)).toEqual([]);
    store.close();
  });

  test("reconfigure: the next retry waits the reloaded backoff, the next failure counts against the reloaded maxAttempts", async () => {
    const h = start(
      async () => {
        throw new DeliveryError("502 from GitHub", { permanent: false, status: 502 });
      },
      { initialBackoffMs: 60_000, maxBackoffMs: 60_000, maxAttempts: 100 },
    );
    enqueue(h.store, [job("github:flaky", "k1", "x1")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "retried");
    const [waiting] = h.store.claimDue({ now: Date.now() + 59_000, limit: 1, excludeTargets: [] });
    expect(waiting).toBeUndefined(); // a minute away under the old backoff
    h.worker.reconfigure({ concurrency: 4, timeoutMs: 2_000, maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 10 });
    // Make the waiting job due now, as if its minute had passed; from then on the new backoff and limit apply.
    h.store.markRetry(1, Date.now(), Date.now(), "made due by the test", false);
    h.worker.wake();
    await h.attemptsWhere((entry) => entry.outcome === "dead");
    expect(h.attempts.map((entry) => entry.outcome)).toEqual(["retried", "retried", "dead"]);
  });

  test("the free slots are claimed in one read, each target within its share; deliveries that finish together share one record", async () => {
    const real = createSqliteOutboxStore({ path: ":memory:" });
    const claims: number[] = [];
    const records: number[] = [];
    const store: SqliteOutboxStore = {
      ...real,
      claimDueAndNext(options) {
        const claimed = real.claimDueAndNext(options);
        if (claimed.jobs.length > 0) claims.push(claimed.jobs.length);
        return claimed;
      },
      markDoneMany(done) {
        records.push(done.length);
        real.markDoneMany!(done);
      },
    };
    const gate = signalled();
    const firstFive = signalled();
    let started = 0;
    const worker = createOutboxWorker({
      store: promised(store),
      delivery: { deliver: async () => (++started === 5 && firstFive.resolve(), gate.promise) },
      logger,
      concurrency: 8,
      timeoutMs: 2_000,
      maxAttempts: 3,
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      idleCheckMs: 1_000,
      onAttempt: (_stored, outcome) => void (outcome === "delivered" && ++delivered === 6 && allDelivered.resolve()),
    });
    let delivered = 0;
    const allDelivered = signalled();
    // Five jobs for one repository (its share of 8 is 4), one for a subscriber: 4 + 1 in flight, then 1 more.
    const jobs = ["a", "b", "c", "d", "e"].map((label) => job("github:org/repo", `k-${label}`, label));
    store.submit("apps-dev", "c1", (known) => ({ jobs: [...jobs, job("subscriber:one", "k-s", "s")], known }), Date.now());
    worker.start();
    await firstFive.promise;
    expect(claims).toEqual([5]); // the first pump: one claim for all five
    expect(started).toBe(5);
    gate.resolve();
    await allDelivered.promise;
    await worker.stop(0);
    expect(claims).toEqual([5, 1]);
    // The five that were in flight together are recorded in one transaction, the last alone.
    expect(records).toEqual([5, 1]);
    real.close();
  });

  test("a job taken over from another replica's lapsed lease is delivered with a warning naming that replica", async () => {
    const real = createSqliteOutboxStore({ path: ":memory:" });
    // What the PostgreSQL store answers for a claim whose lease ran out on replica "pod-a:1:x" (contract-tested there).
    const store: SqliteOutboxStore = {
      ...real,
      claimDueAndNext: (options) => {
        const claimed = real.claimDueAndNext(options);
        return { ...claimed, jobs: claimed.jobs.map((stored) => ({ ...stored, takenOverFrom: "pod-a:1:x" })) };
      },
    };
    const delivered = signalled();
    const worker = createOutboxWorker({
      store: promised(store),
      delivery: { deliver: async () => undefined },
      logger,
      concurrency: 2,
      timeoutMs: 2_000,
      maxAttempts: 3,
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      idleCheckMs: 1_000,
      onAttempt: (_stored, outcome) => void (outcome === "delivered" && delivered.resolve()),
    });
    const before = logs.length;
    store.submit("apps-dev", "c1", (known) => ({ jobs: [job("subscriber:one", "k-t", "t")], known }), Date.now());
    worker.start();
    await delivered.promise;
    await worker.stop(0);
    const warning = logs.slice(before).map((line) => JSON.parse(line)).find((entry) => entry.msg.startsWith("taking over a job"));
    expect(warning).toMatchObject({ level: "warn", from: "pod-a:1:x", kind: "subscriber", target: "subscriber:one" });
    real.close();
  });

  test("a result that cannot be recorded (disk full) is recorded later: delivered once, its key's next job after it, no restart", async () => {
    const real = createSqliteOutboxStore({ path: ":memory:" });
    let refusals = 3;
    const storageErrors: unknown[] = [];
    const store: SqliteOutboxStore = {
      ...real,
      markDone(id, at) {
        if (refusals-- > 0) throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
        real.markDone(id, at);
      },
      // The worker records deliveries in batches when it can: the disk is just as full for them.
      markDoneMany(done) {
        if (refusals-- > 0) throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
        real.markDoneMany!(done);
      },
    };
    const calls: string[] = [];
    const worker = createOutboxWorker({
      store: promised(store),
      delivery: { deliver: async (j) => void calls.push(labelOf(j)) },
      logger,
      concurrency: 4,
      timeoutMs: 2_000,
      maxAttempts: 5,
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      idleCheckMs: 20,
      recordRetryMinMs: 5,
      onStorageError: (_operation, error) => void storageErrors.push(error),
      onAttempt: (_stored, outcome) => void (outcome === "delivered" && ++delivered === 2 && bothRecorded.resolve()),
    });
    let delivered = 0;
    const bothRecorded = signalled();
    store.submit("apps-dev", "c1", (known) => ({ jobs: [job("github:x", "k1", "first"), job("github:x", "k1", "second")], known }), Date.now());
    worker.start();
    await bothRecorded.promise;
    await worker.stop(0);
    expect(real.pendingDepth()).toBe(0);
    expect(calls).toEqual(["first", "second"]); // each once, in order
    expect(storageErrors).toHaveLength(3);
    real.close();
  });

  test("a permanent failure is dead at once with its message; others are unaffected", async () => {
    const h = start(async (j) => {
      if (labelOf(j) === "bad") throw new DeliveryError("422 from GitHub: Validation Failed (description is too long)", { permanent: true, status: 422 });
    });
    enqueue(h.store, [job("subscriber:one", "k1", "bad"), job("subscriber:one", "k2", "good")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome !== "retried", 2);
    expect(h.calls.filter((call) => call.label === "bad")).toHaveLength(1);
    const dead = h.store.deadJobs();
    expect(dead).toHaveLength(1);
    expect(dead[0]?.lastError).toContain("Validation Failed");
    expect(h.attempts.find((entry) => entry.label === "good")?.outcome).toBe("delivered");
  });

  test("after maxAttempts a retryable failure is dead too", async () => {
    const h = start(async () => {
      throw new DeliveryError("503 from subscriber", { permanent: false, status: 503 });
    }, { maxAttempts: 3 });
    enqueue(h.store, [job("subscriber:down", "k1", "z")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "dead");
    expect(h.attempts.map((entry) => entry.outcome)).toEqual(["retried", "retried", "dead"]);
    expect(h.store.deadJobs()[0]?.lastError).toContain("gave up after 3 attempts");
  });

  test("a delivery that outlives timeoutMs is aborted and retried", async () => {
    const h = start(
      (j, signal, attempt) =>
        attempt === 1 ? new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) : Promise.resolve(),
      { timeoutMs: 50 },
    );
    enqueue(h.store, [job("subscriber:slow", "k1", "slow")]);
    h.worker.start();
    await h.attemptsWhere((entry) => entry.outcome === "delivered");
    expect(h.attempts.map((entry) => entry.outcome)).toEqual(["retried", "delivered"]);
    expect(logs.some((line) => line.includes("timed out after 50 ms"))).toBe(true);
  });

  test("stop lets deliveries in flight finish within the grace", async () => {
    const started = signalled();
    const h = start(() => (started.resolve(), Bun.sleep(30)));
    enqueue(h.store, [job("subscriber:one", "k1", "in-flight")]);
    h.worker.start();
    await started.promise;
    const result = await h.worker.stop(5_000);
    expect(result).toEqual({ finished: 1, interrupted: 0 });
    expect(h.store.pendingDepth()).toBe(0);
  });

  test("stop returns even when a delivery ignores the abort", async () => {
    const started = signalled();
    const h = start(() => (started.resolve(), new Promise<void>(() => undefined)));
    enqueue(h.store, [job("subscriber:deaf", "k1", "deaf")]);
    h.worker.start();
    await started.promise;
    const result = await h.worker.stop(10);
    expect(result.interrupted).toBe(1);
  });

  test("stop aborts what outlives the grace and leaves it pending, unclaimed", async () => {
    const started = signalled();
    const h = start((_, signal) => {
      started.resolve();
      return new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    });
    enqueue(h.store, [job("subscriber:hung", "k1", "stuck")]);
    h.worker.start();
    await started.promise;
    const result = await h.worker.stop(20);
    expect(result).toEqual({ finished: 0, interrupted: 1 });
    expect(h.store.pendingDepth()).toBe(1);
    expect(h.store.claimDue({ now: Date.now() + 1, limit: 10, excludeTargets: [] })).toHaveLength(1);
  });
});
