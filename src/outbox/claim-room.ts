/**
 * What a claim leaves to the next look (both drivers' `claimDueAndNext`): the targets the claim filled, whose
 * due jobs wait for one of their deliveries to finish (which pumps) and so must not make the look due at once.
 */
import type { ClaimOptions, StoredJob } from "./types.ts";

/** The targets this claim took jobs of and left without room (`roomOf` minus what it took). */
export function targetsFilledBy(options: ClaimOptions, jobs: readonly StoredJob[]): string[] {
  if (options.roomOf === undefined) return [];
  const claimedOf = new Map<string, number>();
  for (const { job } of jobs) claimedOf.set(job.target, (claimedOf.get(job.target) ?? 0) + 1);
  return [...claimedOf].filter(([target, claimed]) => options.roomOf!(target) - claimed <= 0).map(([target]) => target);
}
