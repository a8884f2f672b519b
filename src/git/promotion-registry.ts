/**
 * The providers `promote` can run on without a config instance, keyed on gitops-promotion's `--provider` values:
 * how each recognises a repository URL (`--repo`, the `origin` remote) and the repository its CI is running for,
 * which token variable its CI provides, and how it creates the promotion port. With `--instance`, the instance's
 * provider module creates the port instead (GitProviderModule.promotion).
 */
import type { Credentials } from "../clients/credentials.ts";
import type { FetchLike } from "../core/http.ts";
import type { PromotionRepository } from "../promotion/port.ts";
import { createAzureReposPromotion } from "./azure-repos-promotion.ts";
import { createGitHubPromotion } from "./github-promotion.ts";

export interface PromotionLocation {
  /** The API root: Octokit's baseUrl, or Azure DevOps' `https://dev.azure.com/org/project`. */
  readonly apiUrl: string;
  /** GitHub's owner; empty on Azure DevOps, where the project is in apiUrl. */
  readonly owner: string;
  readonly repo: string;
  /** `github.com/org/manifests`, `dev.azure.com/org/project/_git/manifests`. */
  readonly display: string;
}

export interface PromotionProvider {
  readonly name: "github" | "azdo";
  /** The token its CI hands a job. */
  readonly tokenVariable: string;
  parseUrl(url: string): PromotionLocation | undefined;
  fromCi(env: Readonly<Record<string, string | undefined>>): PromotionLocation | undefined;
  create(location: PromotionLocation, deps: { credentials: Credentials; userAgent: string; fetch?: FetchLike }): PromotionRepository;
}

function withoutGit(name: string): string {
  return name.replace(/\.git$/, "");
}

const gitHub: PromotionProvider = {
  name: "github",
  tokenVariable: "GITHUB_TOKEN",
  parseUrl(url) {
    const ssh = /^(?:ssh:\/\/)?git@([^:/]+)[:/]([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
    if (ssh) return location(`https://${ssh[1]}`, ssh[2]!, ssh[3]!);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
    const api = /^\/(?:api\/v3\/)?repos\/([^/]+)\/([^/]+?)\/?$/.exec(parsed.pathname);
    if (api) return location(parsed.origin, api[1]!, api[2]!);
    const web = /^\/([^/]+)\/([^/]+?)\/?$/.exec(parsed.pathname);
    return web ? location(parsed.origin, web[1]!, withoutGit(web[2]!)) : undefined;
  },
  fromCi(env) {
    const [owner, repo] = (env.GITHUB_REPOSITORY ?? "").split("/");
    if (!owner || !repo) return undefined;
    const apiUrl = (env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");
    const web = (env.GITHUB_SERVER_URL ?? "https://github.com").replace(/^https?:\/\//, "").replace(/\/+$/, "");
    return { apiUrl, owner, repo, display: `${web}/${owner}/${repo}` };
  },
  create(location, deps) {
    return createGitHubPromotion({ location: { baseUrl: location.apiUrl, owner: location.owner }, repo: location.repo, display: location.display, ...deps });
  },
};

/** github.com → api.github.com; any other host is GitHub Enterprise, whose API is under /api/v3. */
function location(origin: string, owner: string, repo: string): PromotionLocation {
  const host = origin.replace(/^https?:\/\//, "");
  const apiUrl = host === "github.com" || host === "api.github.com" ? "https://api.github.com" : `${origin}/api/v3`;
  const webHost = host === "api.github.com" ? "github.com" : host;
  return { apiUrl, owner: decodeURIComponent(owner), repo: decodeURIComponent(repo), display: `${webHost}/${owner}/${repo}` };
}

const azureDevOps: PromotionProvider = {
  name: "azdo",
  tokenVariable: "SYSTEM_ACCESSTOKEN",
  parseUrl(url) {
    const ssh = /^(?:ssh:\/\/)?git@ssh\.dev\.azure\.com:v3\/([^/]+)\/([^/]+)\/([^/]+?)\/?$/.exec(url);
    if (ssh) return azureLocation(`https://dev.azure.com/${ssh[1]}/${ssh[2]}`, ssh[3]!);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    const match = /^(.*)\/_git\/([^/]+?)\/?$/.exec(parsed.pathname);
    if (!match || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) return undefined;
    return azureLocation(`${parsed.protocol}//${parsed.host}${match[1]}`, match[2]!);
  },
  fromCi(env) {
    const collection = env.SYSTEM_COLLECTIONURI?.replace(/\/+$/, "");
    if (!collection || !env.SYSTEM_TEAMPROJECT || !env.BUILD_REPOSITORY_NAME) return undefined;
    return azureLocation(`${collection}/${encodeURIComponent(env.SYSTEM_TEAMPROJECT)}`, env.BUILD_REPOSITORY_NAME);
  },
  create(location, deps) {
    return createAzureReposPromotion({ orgUrl: location.apiUrl, repo: location.repo, display: location.display, ...deps });
  },
};

function azureLocation(orgUrl: string, repo: string): PromotionLocation {
  const name = decodeURIComponent(repo);
  return { apiUrl: orgUrl, owner: "", repo: name, display: `${orgUrl.replace(/^https?:\/\//, "")}/_git/${name}` };
}

export const PROMOTION_PROVIDERS = { github: gitHub, azdo: azureDevOps } as const;
export type PromotionProviderName = keyof typeof PROMOTION_PROVIDERS;

/** The provider a URL belongs to: Azure DevOps for `_git/` or its hosts, else GitHub's `host/owner/repo`. */
export function providerOfUrl(url: string): PromotionProviderName | undefined {
  if (/(?:^|[@/.])(?:dev\.azure\.com|visualstudio\.com)[:/]|\/_git\//.test(url)) return azureDevOps.parseUrl(url) ? "azdo" : undefined;
  return gitHub.parseUrl(url) ? "github" : undefined;
}
