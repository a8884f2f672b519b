/**
 * Tokens a live instance cannot work without. Every instance posts commit statuses with `pat`, and an instance
 * with an orchestrator notifies it with `orchestratorPat` (which defaults to `pat`). A token left out or
 * expanded to nothing (`${GITHUB_TOKEN:-}` with the variable unset) would otherwise be found only when the first
 * delivery goes dead; `check-config` and `serve` report it at load instead. A dry run calls nothing, so there it
 * is a warning and `config.example.yaml` runs with no token set.
 */
import { gitProviderOf } from "../git/registry.ts";
import { orchestratorOf } from "../orchestrators/registry.ts";
import type { LocatedError } from "../schema/errors.ts";
import type { InstanceConfig } from "./schema.ts";

/** `empty` when the key is there with nothing in it (after `${…}`), `not set` when it is not there at all. */
function howMissing(rawInstance: unknown, key: string): string {
  const value = typeof rawInstance === "object" && rawInstance !== null ? (rawInstance as Record<string, unknown>)[key] : undefined;
  return value === undefined ? "not set" : "empty";
}

/**
 * One error per token a live run needs and lacks, with its path (`instances[0].pat: empty; statuses to
 * github.com/org/manifests need it`). `rawInstances` is the expanded tree's instance list, to tell empty from
 * not set.
 */
export function missingTokens(instances: readonly InstanceConfig[], rawInstances: readonly unknown[] = []): LocatedError[] {
  const errors: LocatedError[] = [];
  instances.forEach((instance, index) => {
    const raw = rawInstances[index];
    const git = gitProviderOf(instance.gitRepositoryType);
    const ownCredentials = git.credentialsOf?.(instance, {});
    if (!instance.pat && !ownCredentials) {
      errors.push({
        path: ["instances", index, "pat"],
        message: `${howMissing(raw, "pat")}; statuses to ${gitProviderOf(instance.gitRepositoryType).location(instance)} need it`,
      });
    }
    const orchestrator = orchestratorOf(instance.ciCdOrchestratorType);
    const calls = orchestrator?.tokenUse(instance);
    const orchestratorCredentials = orchestrator?.credentialsOf?.(instance, { repository: ownCredentials ?? { kind: "token", token: instance.pat ?? "" } });
    if (calls && !instance.orchestratorPat && !orchestratorCredentials) {
      errors.push({
        path: ["instances", index, "orchestratorPat"],
        message: `${howMissing(raw, "orchestratorPat")} and pat is empty; ${calls} need one of them`,
      });
    }
  });
  return errors;
}
