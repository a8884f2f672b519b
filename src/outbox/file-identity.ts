/**
 * Notices the outbox file being deleted or replaced under the running daemon (a `rm -rf` of the data dir, a
 * restored backup moved into place, a volume remounted): SQLite would go on writing to the old, unlinked inode,
 * and every webhook answered 202 would land in a file nobody reads again. The file's device and inode are
 * compared with those at open, before each webhook is stored and every few seconds.
 */
import { statSync } from "node:fs";

export interface FileIdentity {
  /** Undefined while the path still names the file opened; else what happened to it. */
  changed(): string | undefined;
}

export function watchFileIdentity(path: string): FileIdentity {
  if (path === ":memory:") return { changed: () => undefined };
  const opened = statSync(path);
  return {
    changed() {
      try {
        const now = statSync(path);
        return now.dev === opened.dev && now.ino === opened.ino ? undefined : `${path} was replaced by another file`;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return code === "ENOENT" ? `${path} was deleted` : `${path} cannot be checked (${String(code ?? error)})`;
      }
    },
  };
}
