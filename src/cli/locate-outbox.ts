/**
 * Which outbox file the offline `outbox` commands open: the one `serve` would use with the same --config and
 * --data-dir, read from the config when there is one (even one that does not validate here, say with a token
 * variable unset in this shell).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CONFIG_ENV_VARIABLE, loadConfig, resolveConfigSource, type Env } from "../config/load.ts";
import { parseYaml } from "../config/yaml.ts";
import { dryRunOutboxPath, resolveOutboxPath } from "../outbox/paths.ts";

export type LocatedOutbox =
  | { readonly ok: true; readonly path: string }
  /** usage: a config was named but cannot be found; runtime: no outbox file to open. */
  | { readonly ok: false; readonly kind: "usage" | "runtime"; readonly error: string };

/** outbox.path as written in a config that does not validate (a token variable unset in this shell, say). */
function rawOutboxPath(file: string): string | undefined {
  try {
    const tree = parseYaml(readFileSync(file, "utf8"), file).tree as { outbox?: { path?: unknown } } | undefined;
    const path = tree?.outbox?.path;
    return typeof path === "string" && !path.includes("${") ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The existing outbox file an offline tool should open: outbox.path from the config (--config, then
 * $GITOPS_CONNECTOR_CONFIG, then ./config.yaml) when there is one, else DATA_DIR/outbox.db.
 */
export function locateOutbox(options: { config?: string; dataDir?: string; dryRun?: boolean; env: Env; cwd: string; warn: (text: string) => void }): LocatedOutbox {
  const dataDir = resolve(options.cwd, options.dataDir ?? "./data");
  const source = resolveConfigSource({ flag: options.config, env: options.env, cwd: options.cwd });
  let configuredPath: string | undefined;
  if (!source.ok) {
    // Without any config the data dir alone says where the outbox is; a config that was named must exist.
    if (options.config !== undefined || options.env[CONFIG_ENV_VARIABLE]) return { ok: false, kind: "usage", error: source.error };
  } else if (source.source.kind === "file") {
    const loaded = loadConfig({ source: source.source, env: options.env });
    if (loaded.ok) configuredPath = loaded.config.outbox.path;
    else {
      configuredPath = rawOutboxPath(source.source.path);
      const count = loaded.errors.length;
      options.warn(`${source.source.description} has ${count} error${count === 1 ? "" : "s"} (see check-config); reading outbox.path as written`);
    }
  }
  const livePath = resolveOutboxPath({ configuredPath, dataDir });
  const path = options.dryRun ? dryRunOutboxPath(livePath) : livePath;
  if (path === ":memory:")
    return { ok: false, kind: "runtime", error: "outbox.path is :memory: in the config: that outbox lives inside the daemon's process and cannot be opened from here" };
  if (!existsSync(path))
    return {
      ok: false,
      kind: "runtime",
      error: `no outbox at ${path}: pass the --data-dir (and --config) the daemon runs with${options.dryRun ? "" : ", and --dry-run for a daemon started with --dry-run"}`,
    };
  return { ok: true, path };
}
