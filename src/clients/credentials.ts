/**
 * How a provider proves who it is: a token (a PAT, a project access token) given as `pat` or `orchestratorPat`, or,
 * on GitHub, a GitHub App installation (`gitHubAppId`, `gitHubAppInstallationId`, `gitHubAppPrivateKey`), whose
 * short-lived tokens src/clients/github-app.ts mints. Only the values travel here, with the names of the keys they
 * came from for messages; every value is one of the config's secrets, which the logger redacts.
 */
export interface TokenCredentials {
  readonly kind: "token";
  /** Empty when the config has none: a dry run calls nothing, and a live run refuses to start without it. */
  readonly token: string;
}

export interface GitHubAppCredentials {
  readonly kind: "github-app";
  readonly appId: string;
  readonly installationId: string;
  /** PEM (PKCS#1 or PKCS#8), as GitHub hands it out. */
  readonly privateKey: string;
  /** The config keys these came from (`gitHubAppPrivateKey` or `orchestratorGitHubAppPrivateKey`), for messages. */
  readonly keys: { readonly appId: string; readonly installationId: string; readonly privateKey: string };
  /** Told every token minted, so the logger redacts it too. */
  readonly onToken?: (token: string) => void;
}

export type Credentials = TokenCredentials | GitHubAppCredentials;

export function tokenCredentials(token: string | undefined): TokenCredentials {
  return { kind: "token", token: token ?? "" };
}

/** The token of token credentials; a GitHub App only authenticates GitHub, whose client mints its tokens itself. */
export function tokenOf(credentials: Credentials): string {
  if (credentials.kind === "token") return credentials.token;
  throw new Error("a GitHub App authenticates only against GitHub; this provider needs a token (pat)");
}
