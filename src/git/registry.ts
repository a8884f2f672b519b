/**
 * The git providers, keyed on the config's `gitRepositoryType`: the only list of them. Everything else asks this
 * registry (the config schema for their keys, check-config for their description, the instance compiler for their
 * repositories). Adding a provider is one module in this folder and one line here.
 */
import { mergeKeys, type UnionToIntersection } from "../schema/merge-keys.ts";
import { azureRepos } from "./azure-repos.ts";
import { gitea } from "./gitea.ts";
import { github } from "./github.ts";
import { gitlab } from "./gitlab.ts";
import type { GitProviderModule } from "./provider.ts";

export const GIT_PROVIDERS = {
  GITHUB: github,
  AZDO: azureRepos,
  GITEA: gitea,
  GITLAB: gitlab,
} as const;

export type GitRepositoryType = keyof typeof GIT_PROVIDERS;
export const GIT_REPOSITORY_TYPES = Object.keys(GIT_PROVIDERS) as [GitRepositoryType, ...GitRepositoryType[]];

type Module = (typeof GIT_PROVIDERS)[GitRepositoryType];
type FieldsOf<M> = M extends GitProviderModule<infer F> ? F : never;

/** Every provider's config keys, for the instance schema. */
export const GIT_PROVIDER_KEYS = mergeKeys(Object.values(GIT_PROVIDERS).map((module): Module["keys"] => module.keys));

/** What any provider reads of an instance: all their keys. */
export type GitInstanceFields = UnionToIntersection<FieldsOf<Module>>;

export function gitProviderOf(type: GitRepositoryType): GitProviderModule<GitInstanceFields> {
  return GIT_PROVIDERS[type] as GitProviderModule<GitInstanceFields>;
}
