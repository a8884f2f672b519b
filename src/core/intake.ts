/**
 * Intake: the step between a translated webhook and delivery. It plans the observation against what is known
 * of the commit, remembers the result, and hands the jobs on. The daemon uses the durable outbox intake
 * (src/outbox/intake.ts: one SQLite transaction before the 202); the in-memory intake here delivers at once and
 * keeps nothing on disk — it backs the HTTP tests, which assert on the dry-run lines a request produces.
 */
import type { CommitLedger } from "./commit-knowledge.ts";
import type { Delivery } from "./delivery.ts";
import type { Job, Observation } from "./model.ts";
import type { Logger } from "../observability/logger.ts";
import { planWithLedger, type PlanningInstance } from "./planner.ts";

export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

export interface Intake {
  /** Plans and records the jobs for one observation. Throws {@link IntakeFullError} at capacity. */
  submit(instance: PlanningInstance, observation: Observation): readonly Job[];
  readiness(): Readiness;
}

/** The intake cannot take this event now (full, storage failing); the webhook answers 503 with Retry-After. */
export class IntakeUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = "IntakeUnavailableError";
  }
}

/** The intake is at capacity (outbox.maxDepth). */
export class IntakeFullError extends IntakeUnavailableError {
  override readonly name = "IntakeFullError";
}

export function createDirectIntake(options: { ledger: CommitLedger; delivery: Delivery; logger: Logger }): Intake {
  const log = options.logger.child({ component: "intake" });
  return {
    submit(instance, observation) {
      const jobs = planWithLedger(options.ledger, observation, instance);
      for (const job of jobs) {
        options.delivery.deliver(job, AbortSignal.timeout(10_000)).catch((error: unknown) => log.error({ err: error, job: job.kind }, "delivery failed"));
      }
      return jobs;
    },
    readiness: () => ({ ready: true }),
  };
}
