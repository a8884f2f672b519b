/**
 * The lookup every provider's state table goes through (each table lives in its provider's module). Lookups are
 * total: a state nobody has mapped yet gets the provider's neutral one, so a new operator release never crashes a
 * delivery and never claims a success it did not report.
 */
import type { OperatorState } from "../core/model.ts";

// `Object.hasOwn` keeps inherited names (`constructor`, `__proto__`) from resolving to non-states.
export function lookupState<S extends string>(table: Readonly<Record<string, S>>, state: OperatorState, fallback: S): S {
  return Object.hasOwn(table, state) ? (table[state] ?? fallback) : fallback;
}
