/**
 * GitHub App authentication (Flux and Argo CD have it; the original connector never did): the app's private key
 * signs a JWT, which `POST /app/installations/{id}/access_tokens` exchanges for an installation token valid an
 * hour. @octokit/auth-app signs and exchanges; this file keeps the token until five minutes before it expires,
 * mints one at a time however many deliveries ask at once, and mints afresh when a call is refused with 401 (a
 * token revoked or rotated early), once. A failure to mint is a DeliveryError naming the app's keys; the private
 * key and the tokens never appear in one, and every token minted goes to the logger's redactor.
 */
import { createAppAuth } from "@octokit/auth-app";
import { request as octokitRequest } from "@octokit/request";
import { createPrivateKey } from "node:crypto";
import * as v from "valibot";
import type { FetchLike } from "../core/http.ts";
import { secretText, type ReportIssue } from "../schema/parts.ts";
import type { GitHubAppCredentials } from "./credentials.ts";
import { toDeliveryError, type FailureParty } from "./http-failure.ts";

/** A token this close to its expiry is not handed out: a delivery that starts with it must finish with it. */
export const TOKEN_EXPIRY_MARGIN_MS = 5 * 60_000;

export interface InstallationTokens {
  /** A valid token: the cached one, or a new one when none is cached or it expires within the margin. */
  token(): Promise<string>;
  /** A new token, whatever is cached (after a 401). */
  refresh(): Promise<string>;
}

export interface InstallationTokenOptions {
  readonly credentials: GitHubAppCredentials;
  /** Octokit's baseUrl: `https://api.github.com`, or GitHub Enterprise's `…/api/v3`. */
  readonly baseUrl: string;
  readonly userAgent: string;
  readonly instance: string;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
}

/** Whether a PEM text is a private key Node can read (checked at load, so a broken key fails check-config). */
export function isReadablePrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

/**
 * @octokit/auth-app sends `authorization: bearer <jwt>`; GitHub documents (and strict validators of its description
 * expect) the scheme as `Bearer`. Scheme names are case-insensitive (RFC 9110 §11.1), so this changes nothing for
 * GitHub itself.
 */
function withBearerSpelledAsDocumented(fetch: FetchLike): FetchLike {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    const authorization = headers.get("authorization");
    if (authorization && /^bearer /i.test(authorization)) headers.set("authorization", `Bearer ${authorization.slice("bearer ".length)}`);
    return fetch(input, { ...init, headers });
  };
}

export function createInstallationTokens(options: InstallationTokenOptions): InstallationTokens {
  const { credentials } = options;
  const now = options.now ?? Date.now;
  const fetch = withBearerSpelledAsDocumented(options.fetch ?? globalThis.fetch);
  const auth = createAppAuth({
    appId: credentials.appId,
    privateKey: credentials.privateKey,
    installationId: credentials.installationId,
    request: octokitRequest.defaults({ baseUrl: options.baseUrl, headers: { "user-agent": options.userAgent }, request: { fetch } }),
  });
  const who: FailureParty = {
    service: "GitHub",
    instance: options.instance,
    resource: `installation ${credentials.installationId} of GitHub App ${credentials.appId}`,
    tokenKey: credentials.keys.privateKey,
    permission: "an installation of the app on the repository's owner",
    notFound: `GitHub App ${credentials.appId} has no installation ${credentials.installationId} (check ${credentials.keys.appId} and ${credentials.keys.installationId}, and that the app is installed on the repository's owner)`,
  };
  let cached: { readonly token: string; readonly expiresAt: number } | undefined;
  let minting: Promise<string> | undefined;

  function mint(): Promise<string> {
    minting ??= (async () => {
      try {
        const result = await auth({ type: "installation", refresh: true });
        const expiresAt = Date.parse(result.expiresAt);
        cached = { token: result.token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : now() + 55 * 60_000 };
        credentials.onToken?.(result.token);
        return result.token;
      } catch (error) {
        throw toDeliveryError(error, who);
      } finally {
        minting = undefined;
      }
    })();
    return minting;
  }

  return {
    async token() {
      if (cached && cached.expiresAt - now() > TOKEN_EXPIRY_MARGIN_MS) return cached.token;
      return mint();
    },
    refresh() {
      cached = undefined;
      return mint();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The config keys of a GitHub App, for the repository (`gitHubApp…`) and for GitHub Actions
// (`orchestratorGitHubApp…`), and the credentials they make.

export type AppKeyPrefix = "gitHub" | "orchestratorGitHub";

export interface GitHubAppKeyNames {
  readonly appId: string;
  readonly installationId: string;
  readonly privateKey: string;
}

export function gitHubAppKeyNames(prefix: AppKeyPrefix): GitHubAppKeyNames {
  return { appId: `${prefix}AppId`, installationId: `${prefix}AppInstallationId`, privateKey: `${prefix}AppPrivateKey` };
}

/** The private key: a secret (its messages never show it) that Node can read as a private key. */
export function privateKeySchema() {
  return v.pipe(
    secretText(),
    v.check((pem) => pem === undefined || isReadablePrivateKey(pem), "is not a private key in PEM form (-----BEGIN RSA PRIVATE KEY----- …, as GitHub hands it out); read it with ${file:/path/to/key.pem}"),
  );
}

type AppFields = Readonly<Record<string, unknown>>;

/** Whether the instance names a GitHub App under these keys (any of the three). */
export function hasGitHubApp(instance: AppFields, names: GitHubAppKeyNames): boolean {
  return [names.appId, names.installationId, names.privateKey].some((key) => instance[key] !== undefined);
}

/** All three keys or none; and not together with the token they replace. */
export function checkGitHubApp(instance: AppFields, names: GitHubAppKeyNames, tokenKey: string, report: ReportIssue): void {
  if (!hasGitHubApp(instance, names)) return;
  for (const key of [names.appId, names.installationId, names.privateKey]) {
    if (instance[key] === undefined) report([key], `required with the other GitHub App keys (${names.appId}, ${names.installationId}, ${names.privateKey})`);
  }
  if (instance[tokenKey] !== undefined) report([tokenKey], `give ${tokenKey} or a GitHub App (${names.appId}, …), not both`);
}

/** The app's credentials, when the instance names one under these keys. */
export function gitHubAppCredentials(instance: AppFields, names: GitHubAppKeyNames, onToken?: (token: string) => void): GitHubAppCredentials | undefined {
  if (!hasGitHubApp(instance, names)) return undefined;
  return {
    kind: "github-app",
    appId: String(instance[names.appId] ?? ""),
    installationId: String(instance[names.installationId] ?? ""),
    privateKey: String(instance[names.privateKey] ?? ""),
    keys: names,
    ...(onToken ? { onToken } : {}),
  };
}
