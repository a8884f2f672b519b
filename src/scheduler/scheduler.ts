/**
 * In-process scheduler for periodic jobs (outbox pruning, the Azure Pipelines abandoned-PR sweep). Each task
 * runs every `intervalMs` plus a random jitter, never overlapping itself; a failing run is logged and the task
 * keeps its schedule. `stop()` cancels future runs and waits for a running one.
 */
import type { Logger } from "../observability/logger.ts";

export interface PeriodicTask {
  readonly name: string;
  /** A function when a config reload may change it (read each time the next run is planned). */
  readonly intervalMs: number | (() => number);
  /** Up to this much is added to each wait, so replicas and restarts do not all fire at once. */
  readonly jitterMs: number | (() => number);
  run(): Promise<void> | void;
}

export interface Scheduler {
  start(): void;
  /** Plans every waiting task's next run again from now, with its current interval (after a config reload). */
  replan(): void;
  stop(): Promise<void>;
}

const valueOf = (value: number | (() => number)) => (typeof value === "function" ? value() : value);

export function createScheduler(tasks: readonly PeriodicTask[], logger: Logger, random: () => number = Math.random): Scheduler {
  const log = logger.child({ component: "scheduler" });
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const runs = new Set<Promise<void>>();
  let stopped = true;

  const running = new Set<string>();

  function plan(task: PeriodicTask): void {
    if (stopped) return;
    const delay = valueOf(task.intervalMs) + Math.round(random() * valueOf(task.jitterMs));
    timers.set(task.name, setTimeout(() => void runOnce(task), delay));
  }

  async function runOnce(task: PeriodicTask): Promise<void> {
    timers.delete(task.name);
    running.add(task.name);
    const started = performance.now();
    const run = (async () => {
      try {
        await task.run();
        log.debug({ task: task.name, durationMs: Math.round(performance.now() - started) }, "periodic task done");
      } catch (error) {
        log.error({ task: task.name, err: error }, "periodic task failed; next run as scheduled");
      }
    })();
    runs.add(run);
    await run;
    runs.delete(run);
    running.delete(task.name);
    plan(task); // the next wait starts after this run ends, so runs never overlap
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      for (const task of tasks) plan(task);
    },
    replan() {
      if (stopped) return;
      for (const task of tasks) {
        if (running.has(task.name)) continue; // plans its next run itself when it ends
        const timer = timers.get(task.name);
        if (timer) clearTimeout(timer);
        plan(task);
      }
    },
    async stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(runs);
    },
  };
}
