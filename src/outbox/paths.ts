/**
 * Where the outbox file lives (DESIGN §10): `outbox.path` from the config, relative paths inside the data dir
 * (`--data-dir`, default ./data). Shared by `serve` and the `outbox` CLI (src/cli/locate-outbox.ts) so both open
 * the same file.
 */
import { isAbsolute, join } from "node:path";

/** Absolute paths and ":memory:" stay as given; a relative path (default "outbox.db") joins the data dir. */
export function resolveOutboxPath(options: { configuredPath?: string; dataDir: string }): string {
  const configured = options.configuredPath ?? "outbox.db";
  if (configured === ":memory:" || isAbsolute(configured)) return configured;
  return join(options.dataDir, configured);
}

/**
 * The file a dry run keeps its outbox in, beside the live one: `outbox.db` → `outbox.dry-run.db`. A dry run must
 * leave nothing a live run trusts (what it "delivered" would otherwise count as known, and a live run would skip
 * those commits), and must not "deliver" a live run's pending jobs to its log either.
 */
export function dryRunOutboxPath(path: string): string {
  if (path === ":memory:") return path;
  return path.endsWith(".db") ? `${path.slice(0, -".db".length)}.dry-run.db` : `${path}.dry-run`;
}

/** A PostgreSQL URL as logs and the CLI show it: host, port and database, never the user or password. */
export function postgresWhere(url: string): string {
  const parsed = new URL(url);
  return `postgres://${parsed.host}${parsed.pathname}`;
}
