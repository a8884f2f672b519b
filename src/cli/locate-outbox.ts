/**
 * Which outbox file the offline `outbox` commands open: the one `serve` would use with the same --config and
 * --data-dir, read from the config when there is one (even one that does not validate here, say with a token
 * variable unset in this shell).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CONFIG_ENV_VARIABLE, loadConfig, resolveConfigSource, type Env } from "../config/load.ts";
import { parseYaml } from "../config/yaml.ts";
import { dryRunOutboxPath, postgresWhere, resolveOutboxPath } from "../outbox/paths.ts";

export type LocatedOutbox =
  | { readonly ok: true; readonly driver: "sqlite"; readonly path: string }
  /** `where`: the URL without its credentials, for the output. */
  | { readonly ok: true; readonly driver: "postgres"; readonly url: string; readonly where: string }
  /** usage: a config was named but cannot be found; runtime: no outbox file to open. */
  | { readonly ok: false; readonly kind: "usage" | "runtime"; readonly error: string };

/** `outbox:` as written in a config that does not validate (a token variable unset in this shell, say). */
function rawOutbox(file: string): { path?: string; postgres: boolean } {
  try {
    const tree = parseYaml(readFileSync(file, "utf8"), file).tree as { outbox?: { path?: unknown; driver?: unknown } } | undefined;
    const path = tree?.outbox?.path;
    return { ...(typeof path === "string" && !path.includes("${") ? { path } : {}), postgres: tree?.outbox?.driver === "postgres" };
  } catch {
    return { postgres: false };
  }
}

/**
 * The existing outbox an offline tool should open: outbox.path from the config (--config, then
 * $GITOPS_CONNECTOR_CONFIG, then ./config.yaml) when there is one, else DATA_DIR/outbox.db; or, with
 * `driver: postgres`, the database (the config must then load: its URL is usually a `${…}` reference).
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
    if (loaded.ok) {
      const { outbox } = loaded.config;
      // A dry run keeps a SQLite file of its own whatever the driver, as `serve --dry-run` does.
      if (outbox.driver === "postgres" && !options.dryRun) {
        const url = outbox.url ?? "";
        return { ok: true, driver: "postgres", url, where: postgresWhere(url) };
      }
      configuredPath = outbox.path;
    } else {
      const raw = rawOutbox(source.source.path);
      const count = loaded.errors.length;
      const errors = `${source.source.description} has ${count} error${count === 1 ? "" : "s"} (see check-config)`;
      if (raw.postgres && !options.dryRun) {
        return { ok: false, kind: "runtime", error: `${errors}; its outbox is on PostgreSQL, whose URL is read only from a config that loads: run this where the daemon's variables are set (kubectl exec into a replica)` };
      }
      configuredPath = raw.path;
      options.warn(`${errors}; reading outbox.path as written`);
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
  return { ok: true, driver: "sqlite", path };
}
