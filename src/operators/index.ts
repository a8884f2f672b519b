/**
 * The operator registry: one translator per operator type, chosen by the instance's `gitopsOperator`.
 * Adding an operator is one file with a `translateX(payload, options)` and one line here.
 */
import type { OperatorType, Translation, TranslationOptions } from "../core/model.ts";
import { translateArgoCd } from "./argocd.ts";
import { translateFlux } from "./flux.ts";

export { FLUX_KINDS_WITH_STATE, FLUX_KNOWN_REASONS, FluxEvent, translateFlux } from "./flux.ts";
export { ArgoCdNotification, translateArgoCd } from "./argocd.ts";

/** Turns one webhook payload into an Observation, a deliberate no-op, or a client error. Pure; never throws. */
export type Translator = (payload: unknown, options: TranslationOptions) => Translation;

export const TRANSLATORS: Readonly<Record<OperatorType, Translator>> = {
  FLUX: translateFlux,
  ARGOCD: translateArgoCd,
};

/** Translates a payload with the adapter of the given operator. */
export function translate(operator: OperatorType, payload: unknown, options: TranslationOptions): Translation {
  return TRANSLATORS[operator](payload, options);
}
