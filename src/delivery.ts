/**
 * Delivery: where a job goes once it is planned. The dry-run delivery logs it; the network deliveries
 * (git providers, subscribers, orchestrators) arrive with the outbox and providers issues behind the same port.
 */
import type { Job } from "./model.ts";

export interface Delivery {
  deliver(job: Job): Promise<void>;
}
