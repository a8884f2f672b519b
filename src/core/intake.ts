/**
 * The intake port: the step between a translated webhook and delivery. It plans the observation against what is
 * known of the commit, records the result and the jobs, and says whether it can take more. The webhook calls it;
 * the daemon's is the durable outbox intake (src/outbox/intake.ts: one SQLite transaction before the 202).
 */
import type { Job, Observation } from "./model.ts";
import type { PlanningInstance } from "./planner.ts";

export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

export interface Intake {
  /** Plans and records the jobs for one observation. Rejects with {@link IntakeFullError} at capacity. */
  submit(instance: PlanningInstance, observation: Observation): Promise<readonly Job[]>;
  readiness(): Promise<Readiness>;
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
