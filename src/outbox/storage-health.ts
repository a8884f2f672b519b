/**
 * Whether the outbox can be written now. A failed write (a full disk, a read-only remount, a lock held past
 * busy_timeout, an I/O error) turns it unhealthy: webhooks are answered 503 with Retry-After and `/readyz` says
 * why. Any write that works again, or the probe that tries one every few seconds meanwhile (a pod taken out of
 * its Service gets no webhook to try with), turns it healthy again, without a restart.
 */
import type { Logger } from "../observability/logger.ts";

/** Where a storage error happened: a label of `gitops_connector_storage_errors_total`. */
export type StorageOperation = "intake" | "claim" | "record" | "probe" | "schedule";

export interface StorageHealth {
  /** Undefined while writes work; else why not, for /readyz and the 503. */
  failing(): string | undefined;
  failed(operation: StorageOperation, error: unknown): void;
  ok(): void;
  stop(): void;
}

/**
 * SQLSTATE classes that mean the database cannot take writes now, not that the statement is wrong: connection
 * exceptions (08), insufficient resources such as a full disk (53), operator intervention such as a shutdown or
 * a server starting (57), system errors (58), and a read-only standby (25006).
 */
const PG_UNAVAILABLE = /^(08|53|57|58)|^25006$/;

/**
 * True for SQLite's own errors (`SQLITE_FULL`, `SQLITE_READONLY`, `SQLITE_IOERR_…`, `SQLITE_BUSY`, …) and for a
 * PostgreSQL that cannot be reached or cannot write (Bun's `ERR_POSTGRES_CONNECTION_…`, the SQLSTATEs above).
 */
export function isStorageError(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  if ((error instanceof Error && error.name === "SQLiteError") || (typeof code === "string" && code.startsWith("SQLITE_"))) return true;
  if (typeof code === "string" && code.startsWith("ERR_POSTGRES_") && code !== "ERR_POSTGRES_SERVER_ERROR" && code !== "ERR_POSTGRES_SYNTAX_ERROR") return true;
  if (code === "ERR_POSTGRES_SERVER_ERROR" && typeof errno === "string" && PG_UNAVAILABLE.test(errno)) return true;
  return typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"].includes(code);
}

/** `database or disk is full (SQLITE_FULL)`. */
export function describeStorageError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
}

export function createStorageHealth(options: {
  /** One small write; throws (or rejects) when storage still fails. */
  probe: () => void | Promise<void>;
  logger: Logger;
  onError?: (operation: StorageOperation) => void;
  probeIntervalMs?: number;
}): StorageHealth {
  const log = options.logger.child({ component: "outbox" });
  const interval = options.probeIntervalMs ?? 2_000;
  let reason: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const recovered = () => {
    if (reason === undefined) return;
    log.info({ was: reason }, "outbox storage works again; accepting webhooks");
    reason = undefined;
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const probeLater = () => {
    if (stopped || timer) return;
    timer = setTimeout(async () => {
      timer = undefined;
      try {
        await options.probe();
        recovered();
      } catch {
        options.onError?.("probe");
        probeLater();
      }
    }, interval);
    timer.unref?.();
  };

  return {
    failing: () => reason,
    failed(operation, error) {
      options.onError?.(operation);
      const text = describeStorageError(error);
      if (reason === undefined) log.error({ operation, error: text }, "outbox storage failing: webhooks get 503 until a write works again");
      reason = text;
      probeLater();
    },
    ok: recovered,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
