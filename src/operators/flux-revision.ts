/**
 * Finds the manifests commit in a Flux event. notification-controller has sent the revision under unprefixed
 * metadata keys since v0.23 (`revision`, `originRevision`, `commit`), older controllers and the docs under
 * prefixed ones (`kustomize.toolkit.fluxcd.io/revision`, `source.toolkit.fluxcd.io/revision`), and old
 * GitRepository events only in their message ("Fetched revision: main/<sha>"). Revisions come as
 * `<ref>@sha1:<sha>` (Flux ≥ 2.0), `sha1:<sha>`, `<branch>/<sha>` (Flux < 2.0) or a bare `<sha>`; an OCI or
 * bucket `sha256:` digest names an artifact, not a commit.
 * See https://fluxcd.io/flux/components/source/gitrepositories/#artifact (revision format).
 */

/** Preferred first: an explicit commit, then the origin of an OCI artifact, then the source revision. */
const REVISION_KEYS = ["commit", "originRevision", "revision"] as const;

/** Abbreviated (7) to SHA-256 (64) hex object names. */
const COMMIT_SHA = /^[0-9a-f]{7,64}$/i;
/** `<algorithm>:<hex>` at the end of a Flux ≥ 2.0 revision, after an optional `<ref>@`. */
const DIGEST = /^(sha1|sha256|sha384|sha512|blake3):(.+)$/i;
/** Old source-controller messages: "Fetched revision: main/<sha>". */
const MESSAGE_REVISION = /\brevision:?\s+'?([^\s']+)/i;

export type CommitLookup =
  | { readonly found: true; readonly commit: string }
  | { readonly found: false; readonly reason: string };

interface RevisionSource {
  readonly metadata: Readonly<Record<string, string>>;
  readonly message: string;
  /** Whether the message may carry the revision (old GitRepository events). */
  readonly revisionInMessage: boolean;
}

/** The value of `name` under its bare key or any `*.fluxcd.io/` prefix, with the key it was found under. */
function metadataValue(metadata: Readonly<Record<string, string>>, name: string): [string, string] | undefined {
  const bare = metadata[name]?.trim();
  if (bare) return [name, bare];
  for (const [key, value] of Object.entries(metadata)) {
    if (key.endsWith(`.fluxcd.io/${name}`) && value.trim()) return [key, value.trim()];
  }
  return undefined;
}

/** Where the revision comes from (for messages) and its raw text. */
function findRevision(source: RevisionSource): [string, string] | undefined {
  for (const name of REVISION_KEYS) {
    const found = metadataValue(source.metadata, name);
    if (found) return [`metadata ${found[0]}`, found[1]];
  }
  if (!source.revisionInMessage) return undefined;
  const candidates: [string, string | undefined][] = [
    ["message", source.message],
    ["metadata message", source.metadata["message"]],
  ];
  for (const [where, text] of candidates) {
    const match = text ? MESSAGE_REVISION.exec(text) : null;
    if (match?.[1]) return [where, match[1]];
  }
  return undefined;
}

/** The commit a revision names, or why it names none. */
export function commitFromRevision(revision: string, where = "revision"): CommitLookup {
  const value = revision.trim();
  const digest = DIGEST.exec(value.slice(value.lastIndexOf("@") + 1));
  let candidate: string;
  if (digest) {
    if (digest[1]?.toLowerCase() !== "sha1") {
      return { found: false, reason: `${where} "${value}" is an OCI artifact digest, not a git commit` };
    }
    candidate = digest[2] ?? "";
  } else {
    // `<branch>/<sha>`; branches may themselves contain slashes, the SHA is always last.
    candidate = value.slice(value.lastIndexOf("/") + 1);
  }
  return COMMIT_SHA.test(candidate)
    ? { found: true, commit: candidate.toLowerCase() }
    : { found: false, reason: `${where} "${value}" holds no git commit SHA (expected 7–64 hex digits)` };
}

/** The commit a Flux event reports, or why it reports none. */
export function findFluxCommit(source: RevisionSource): CommitLookup {
  const revision = findRevision(source);
  if (!revision) {
    const where = source.revisionInMessage ? "metadata or message" : "metadata";
    return { found: false, reason: `no revision: ${where} has no commit, originRevision or revision` };
  }
  return commitFromRevision(revision[1], revision[0]);
}
