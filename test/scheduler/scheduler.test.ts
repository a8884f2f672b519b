/**
 * The periodic-task scheduler: runs on its interval plus jitter, never overlaps a task with itself, survives a
 * failing run, and stop() waits for a run in progress.
 */
import { describe, expect, test } from "bun:test";
import { createLogger } from "../../src/observability/logger.ts";
import { createScheduler } from "../../src/scheduler/scheduler.ts";

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "debug", write: (line) => void lines.push(line) }) };
}

function countdown(count: number) {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  let left = count;
  return { done, tick: () => --left <= 0 && resolve() };
}

describe("scheduler", () => {
  test("runs a task repeatedly, never two runs of it at once", async () => {
    const { logger } = capture();
    let running = 0;
    let overlapped = false;
    const runs = countdown(4);
    const scheduler = createScheduler(
      [
        {
          name: "slow",
          intervalMs: 1,
          jitterMs: 0,
          async run() {
            running += 1;
            if (running > 1) overlapped = true;
            await Bun.sleep(15); // longer than the interval
            running -= 1;
            runs.tick();
          },
        },
      ],
      logger,
    );
    scheduler.start();
    await runs.done;
    await scheduler.stop();
    expect(overlapped).toBe(false);
  });

  test("waits the interval plus a jitter of at most jitterMs", async () => {
    const { logger } = capture();
    const starts: number[] = [];
    const runs = countdown(3);
    const scheduler = createScheduler([{ name: "jittered", intervalMs: 20, jitterMs: 30, run: () => void (starts.push(performance.now()), runs.tick()) }], logger, () => 1);
    const begun = performance.now();
    scheduler.start();
    await runs.done;
    await scheduler.stop();
    const gaps = starts.map((at, index) => at - (index === 0 ? begun : starts[index - 1]!));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(49); // random() = 1 → full jitter: 20 + 30
  });

  test("replan: a task waiting an hour runs soon after its interval is shortened", async () => {
    const { logger } = capture();
    let intervalMs = 3_600_000;
    const ran = countdown(1);
    const scheduler = createScheduler([{ name: "sweep", intervalMs: () => intervalMs, jitterMs: () => intervalMs / 10, run: () => void ran.tick() }], logger, () => 0);
    scheduler.start();
    intervalMs = 5;
    scheduler.replan();
    await ran.done;
    await scheduler.stop();
  });

  test("a failing run is logged and the task keeps its schedule", async () => {
    const { lines, logger } = capture();
    const runs = countdown(3);
    const scheduler = createScheduler(
      [
        {
          name: "flaky",
          intervalMs: 1,
          jitterMs: 0,
          run() {
            runs.tick();
            throw new Error("sweep failed: 503 from dev.azure.com");
          },
        },
      ],
      logger,
    );
    scheduler.start();
    await runs.done;
    await scheduler.stop();
    const failures = lines.filter((line) => line.includes("periodic task failed"));
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toContain('"task":"flaky"');
    expect(failures[0]).toContain("503 from dev.azure.com");
  });

  test("stop waits for the run in progress and plans no more", async () => {
    const { logger } = capture();
    let finished = 0;
    let started = 0;
    const first = countdown(1);
    const scheduler = createScheduler(
      [
        {
          name: "long",
          intervalMs: 1,
          jitterMs: 0,
          async run() {
            started += 1;
            first.tick();
            await Bun.sleep(20);
            finished += 1;
          },
        },
      ],
      logger,
    );
    scheduler.start();
    await first.done;
    await scheduler.stop();
    expect(finished).toBe(started);
    const startedAtStop = started;
    await Bun.sleep(10);
    expect(started).toBe(startedAtStop);
  });
});
