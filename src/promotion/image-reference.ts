/**
 * An image reference as Flux's setters see it: `repository[:tag][@digest]`. The tag is what follows the last
 * `:` after the last `/`, so a registry port (`host:5000/app:v1`) is never read as a tag.
 */
export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export function parseImageReference(reference: string): ImageReference {
  const at = reference.indexOf("@");
  const withoutDigest = at === -1 ? reference : reference.slice(0, at);
  const digest = at === -1 ? undefined : reference.slice(at + 1);
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", lastSlash + 1);
  if (colon === -1) return { repository: withoutDigest, digest };
  return { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1), digest };
}

export function formatImageReference({ repository, tag, digest }: ImageReference): string {
  return `${repository}${tag === undefined ? "" : `:${tag}`}${digest === undefined ? "" : `@${digest}`}`;
}

/** A tag as the OCI distribution spec allows it: what `--tag` must be. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** A digest as `--digest` must give it: `sha256:` and 64 hex digits (or another registered algorithm). */
export const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
