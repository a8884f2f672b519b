/**
 * The last guard of "tokens never appear in errors" (DESIGN §5). Messages already describe tokens by type
 * only, but a few messages quote a value to help fix a typo (`must be FLUX or ARGOCD (got "flux")`), and a
 * token can end up in the wrong key (`default: ${AZDO_PAT}`). So before errors leave the loader, values
 * that came from `${…}` are not quoted, and every value found under a token key is replaced wherever it
 * appears.
 */
import { formatPath, quote, SECRET_KEYS, type ConfigPath, type LocatedError } from "../schema/errors.ts";

export const HIDDEN = "[REDACTED]";

/** Every string under a token key (`pat`, `orchestratorPat`, `hmacKey(s)`, `bearerToken(s)`), anywhere. */
export function secretCandidates(tree: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown, underSecret: boolean) => {
    if (typeof node === "string") {
      if (underSecret && node !== "") found.push(node);
    } else if (Array.isArray(node)) {
      for (const item of node) walk(item, underSecret);
    } else if (typeof node === "object" && node !== null) {
      for (const [key, value] of Object.entries(node)) walk(value, underSecret || SECRET_KEYS.has(key));
    }
  };
  walk(tree, false);
  return found;
}

export function hideValues(
  errors: readonly LocatedError[],
  options: { secrets: readonly string[]; expanded?: ReadonlyMap<string, string> },
): LocatedError[] {
  const secrets = [...new Set(options.secrets)].filter((secret) => secret !== "").sort((a, b) => b.length - a.length);
  return errors.map(({ path, message }: { path: ConfigPath; message: string }) => {
    let text = message;
    const expanded = options.expanded?.get(formatPath(path));
    if (expanded) text = text.split(quote(expanded)).join("a value from ${…}");
    for (const secret of secrets) text = text.split(secret).join(HIDDEN);
    return { path, message: text };
  });
}
