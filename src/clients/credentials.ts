/**
 * How a provider proves who it is: a token (a PAT, a project access token), given as `pat` or `orchestratorPat`.
 * Only the values travel here, never the keys they came from; every value is also one of the config's secrets,
 * which the logger redacts.
 */
export interface TokenCredentials {
  readonly kind: "token";
  /** Empty when the config has none: a dry run calls nothing, and a live run refuses to start without it. */
  readonly token: string;
}

export type Credentials = TokenCredentials;

export function tokenCredentials(token: string | undefined): TokenCredentials {
  return { kind: "token", token: token ?? "" };
}
