/**
 * In-process scheduler for periodic jobs (outbox pruning, the Azure Pipelines abandoned-PR sweep). Each task
 * runs every `intervalMs` plus a random jitter, never overlapping itself; a failing run is logged and the task
 * keeps its schedule. `stop()` cancels future runs and waits for a running one.
 */
import type { Logger } from "../observability/logger.ts";

export interface PeriodicTask {
  readonly name: string;
  readonly intervalMs: number;
  /** Up to this much is added to each wait, so replicas and restarts do not all fire at once. */
  readonly jitterMs: number;
  run(): Promise<void> | void;
}

export interface Scheduler {
  start(): void;
  stop(): Promise<void>;
}

export function createScheduler(tasks: readonly PeriodicTask[], logger: Logger, random: () => number = Math.random): Scheduler {
  const log = logger.child({ component: "scheduler" });
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const runs = new Set<Promise<void>>();
  let stopped = true;

  function plan(task: PeriodicTask): void {
    if (stopped) return;
    const delay = task.intervalMs + Math.round(random() * task.jitterMs);
    timers.set(task.name, setTimeout(() => void runOnce(task), delay));
  }

  async function runOnce(task: PeriodicTask): Promise<void> {
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
    plan(task); // the next wait starts after this run ends, so runs never overlap
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      for (const task of tasks) plan(task);
    },
    async stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(runs);
    },
  };
}
