/**
 * Reloads instances without a restart (DESIGN §3): on SIGHUP (wired by main.ts) and when the config file
 * changes. The file's directory is watched, not the file: Kubernetes updates a ConfigMap mount by swapping
 * the `..data` symlink, and editors replace files by rename, both of which a watch on the file itself
 * misses. Changes are debounced, and a change that leaves the content as it was does nothing. A bad new
 * config is logged error by error and the running one is kept.
 */
import { watch, readFileSync, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "../observability/logger.ts";
import type { Config, LoadResult } from "./load.ts";

export interface ConfigReloaderOptions {
  /** Loads the config again from the same source. */
  load: () => LoadResult;
  /** The config file; undefined in legacy env mode (then only SIGHUP reloads). */
  watchFile?: string;
  logger: Logger;
  /** Applies a new, valid config. */
  onReload: (config: Config) => void;
  debounceMs?: number;
}

export interface ConfigReloader {
  start(): void;
  stop(): void;
  /** Reloads now; true when a new config was applied, false when it was rejected or nothing changed. */
  reload(trigger: string): boolean;
}

/** The trigger used for file changes; only this one is skipped when the content is unchanged. */
export const FILE_CHANGE_TRIGGER = "file-change";

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function createConfigReloader(options: ConfigReloaderOptions): ConfigReloader {
  const log = options.logger.child({ component: "config" });
  const debounceMs = options.debounceMs ?? 200;
  const file = options.watchFile;
  let lastContent = file === undefined ? undefined : readText(file);
  let watcher: FSWatcher | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function reload(trigger: string): boolean {
    if (file !== undefined) {
      const content = readText(file);
      // SIGHUP always reloads: a ${file:…} secret may have changed while the config did not.
      if (trigger === FILE_CHANGE_TRIGGER && content !== undefined && content === lastContent) {
        log.debug({ trigger, file }, "config file unchanged; not reloading");
        return false;
      }
      if (content !== undefined) lastContent = content;
    }
    const result = options.load();
    if (!result.ok) {
      for (const error of result.errors) log.error({ trigger, path: error.path }, `config error: ${error.path}: ${error.message}`);
      log.error(
        { trigger, errors: result.errors.length },
        `config reload rejected (${result.errors.length} error${result.errors.length === 1 ? "" : "s"}); keeping the running config`,
      );
      return false;
    }
    try {
      options.onReload(result.config);
    } catch (error) {
      log.error({ trigger, err: error }, "applying the reloaded config failed; keeping the running config");
      return false;
    }
    log.info({ trigger, source: result.config.source, instances: result.config.instances.map((i) => i.name) }, "config reloaded");
    return true;
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reload(FILE_CHANGE_TRIGGER);
    }, debounceMs);
  }

  return {
    start() {
      if (file === undefined || watcher) return;
      const name = basename(file);
      try {
        watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
          // `..data` is the symlink Kubernetes swaps on a ConfigMap or Secret update.
          if (changed === null || changed === name || changed === "..data") schedule();
        });
        watcher.on("error", (error) => log.warn({ err: error, file }, "config file watch failed; SIGHUP still reloads"));
      } catch (error) {
        log.warn({ err: error, file }, "cannot watch the config file; SIGHUP still reloads");
      }
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      watcher?.close();
      watcher = undefined;
    },
    reload,
  };
}
