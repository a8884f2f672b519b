/**
 * One line per instance for `check-config` and start-up logs: what talks to what, never a token. Each git
 * provider and orchestrator describes itself (src/git/registry.ts, src/orchestrators/registry.ts).
 */
import { gitProviderOf } from "../git/registry.ts";
import { orchestratorOf } from "../orchestrators/registry.ts";
import type { InstanceConfig } from "./schema.ts";

/** `apps-dev (default): FLUX → GITHUB org/manifests → GITHUB org/app-src, 1 subscriber`. */
export function describeInstance(instance: InstanceConfig): string {
  const count = Object.keys(instance.subscribers).length;
  const marker = [instance.default ? " (default)" : "", instance.environment ? ` [environment ${instance.environment}]` : ""].join("");
  const orchestrator = orchestratorOf(instance.ciCdOrchestratorType)?.describe(instance) ?? "NONE";
  const promotion = [instance.promotion.enabled ? "promotes on success" : "", instance.promotion.api ? "POST /api/promotions" : ""].filter(Boolean).join(", ");
  return (
    `${instance.name}${marker}: ${instance.gitOpsOperatorType} → ${gitProviderOf(instance.gitRepositoryType).describe(instance)} → ${orchestrator}, ` +
    `${count} subscriber${count === 1 ? "" : "s"}${promotion ? `; promotion: ${promotion}` : ""}`
  );
}
