/**
 * Combines the config keys that provider modules bring (src/git/*, src/orchestrators/*) into one set for the
 * instance schema. A key two modules share (`gitHubOrgUrl`: the GitHub repository and GitHub Actions) must be the
 * same schema object in both, so it cannot mean two things; anything else is a programming error, thrown at once.
 */
import type * as v from "valibot";

export type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

export function mergeKeys<K extends Record<string, v.GenericSchema>>(sets: readonly K[]): UnionToIntersection<K> {
  const merged: Record<string, v.GenericSchema> = {};
  for (const keys of sets) {
    for (const [key, schema] of Object.entries(keys)) {
      if (merged[key] !== undefined && merged[key] !== schema) throw new Error(`config key ${key} is declared twice with different schemas; share one`);
      merged[key] = schema;
    }
  }
  return merged as UnionToIntersection<K>;
}
