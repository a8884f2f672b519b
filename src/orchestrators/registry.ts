/**
 * The CI/CD orchestrators, keyed on the config's `ciCdOrchestratorType`: the only list of them. `NONE` (statuses
 * only) is the absence of one. Adding an orchestrator is one module in this folder and one line here.
 */
import { mergeKeys, type UnionToIntersection } from "../schema/merge-keys.ts";
import { azurePipelines } from "./azure-pipelines.ts";
import { gitHubActions } from "./github-actions.ts";
import type { OrchestratorModule } from "./orchestrator.ts";

export const ORCHESTRATORS = {
  GITHUB: gitHubActions,
  AZDO: azurePipelines,
} as const;

export const NO_ORCHESTRATOR = "NONE";
export type OrchestratorType = keyof typeof ORCHESTRATORS | typeof NO_ORCHESTRATOR;
export const ORCHESTRATOR_TYPES = [...Object.keys(ORCHESTRATORS), NO_ORCHESTRATOR] as unknown as [OrchestratorType, ...OrchestratorType[]];

type Module = (typeof ORCHESTRATORS)[keyof typeof ORCHESTRATORS];
type FieldsOf<M> = M extends OrchestratorModule<infer F> ? F : never;

/** Every orchestrator's config keys, for the instance schema. */
export const ORCHESTRATOR_KEYS = mergeKeys(Object.values(ORCHESTRATORS).map((module): Module["keys"] => module.keys));

export type OrchestratorInstanceFields = UnionToIntersection<FieldsOf<Module>>;

/** The orchestrator module of a type; undefined for NONE. */
export function orchestratorOf(type: OrchestratorType): OrchestratorModule<OrchestratorInstanceFields> | undefined {
  return type === NO_ORCHESTRATOR ? undefined : (ORCHESTRATORS[type] as OrchestratorModule<OrchestratorInstanceFields>);
}
