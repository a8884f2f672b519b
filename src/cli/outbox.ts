/**
 * `gitops-connector outbox <stats|dead|retry|purge>`: looks into and repairs the outbox the daemon delivers
 * from. It finds the file the way `serve` does (outbox.path from the config, relative to --data-dir), opens it
 * beside the running daemon (WAL, busy_timeout) and runs one short statement per action; with `driver: postgres`
 * it opens the database instead, beside the replicas (two connections, no LISTEN). Exit codes: 0 ok,
 * 2 bad usage (a retry of a job that is not dead included), 1 when the outbox cannot be opened or read.
 */
import { parseArgs } from "node:util";
import { OUTBOX_USAGE } from "./usage.ts";
import type { Env } from "../config/load.ts";
import { PRODUCT } from "../core/version.ts";
import { commitOfJob, type Job } from "../core/model.ts";
import { resolveOutboxPath } from "../outbox/paths.ts";
import { locateOutbox } from "./locate-outbox.ts";
import { createPostgresOutboxStore } from "../outbox/postgres-store.ts";
import { promised } from "../outbox/promised.ts";
import { createSqliteOutboxStore } from "../outbox/store.ts";
import type { AdminStore, StatsRow, StoredJob } from "../outbox/types.ts";

export { resolveOutboxPath };

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;
const EXIT_CODES = { usage: EXIT_USAGE, runtime: EXIT_RUNTIME } as const;

export interface OutboxCliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Env;
  readonly cwd: string;
  readonly now: () => number;
}

const processIo: OutboxCliIo = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  env: process.env,
  cwd: process.cwd(),
  now: Date.now,
};

function formatTable(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ").trimEnd())
    .join("\n");
}

interface StatsLine {
  kind: string;
  target: string;
  pending: number;
  dead: number;
  done: number;
}

function toStatsLines(rows: readonly StatsRow[]): StatsLine[] {
  const lines = new Map<string, StatsLine>();
  for (const row of rows) {
    const key = `${row.kind}\u0000${row.target}`;
    const line = lines.get(key) ?? { kind: row.kind, target: row.target, pending: 0, dead: 0, done: 0 };
    line[row.state] += row.count;
    lines.set(key, line);
  }
  return [...lines.values()];
}

async function showStats(store: AdminStore, path: string, json: boolean, io: OutboxCliIo): Promise<number> {
  const lines = toStatsLines(await store.stats());
  const rateLimited = await store.rateLimitedTargets(io.now());
  if (json) {
    io.out(JSON.stringify({ path, jobs: lines, rateLimited: rateLimited.map((blocked) => ({ ...blocked, until: new Date(blocked.until).toISOString() })) }));
    return EXIT_OK;
  }
  if (lines.length === 0) {
    io.out(`outbox ${path}: no jobs`);
    return EXIT_OK;
  }
  const total = (state: "pending" | "dead" | "done") => String(lines.reduce((sum, line) => sum + line[state], 0));
  const rows = [
    ["KIND", "TARGET", "PENDING", "DEAD", "DONE"],
    ...lines.map((line) => [line.kind, line.target, String(line.pending), String(line.dead), String(line.done)]),
    ["total", "", total("pending"), total("dead"), total("done")],
  ];
  io.out(`outbox ${path}\n${formatTable(rows, new Set([2, 3, 4]))}`);
  if (rateLimited.length > 0) {
    io.out("\nwaiting on a rate limit (not counted as attempts):");
    for (const blocked of rateLimited) {
      const seconds = Math.ceil((blocked.until - io.now()) / 1000);
      io.out(`  ${blocked.target}: ${blocked.pending} pending, until ${new Date(blocked.until).toISOString()} (in ${seconds}s)`);
    }
  }
  return EXIT_OK;
}

/** What the job was about: the commit, and the status context or subscriber or outcome. */
function subjectOf(stored: StoredJob): { commit: string; detail: string } {
  const { job } = stored;
  return { commit: commitOfJob(job) ?? "-", detail: detailOf(job) };
}

function detailOf(job: Job): string {
  switch (job.kind) {
    case "status":
      return `context ${job.payload.status.context} (${job.payload.status.state})`;
    case "subscriber":
      return `context ${job.payload.body.context} (${job.payload.body.state})`;
    case "orchestrator":
      return `outcome ${job.payload.outcome} (${job.payload.reconciler})`;
    case "abandoned-pr":
      return `fail the task of abandoned PR ${job.payload.pullRequest}`;
    case "supersede":
      return `tell the commits since ${job.payload.since} (${job.payload.reconciler}, ${job.payload.outcome})`;
    case "promotion":
      return `advance the promotions ${job.payload.kustomization} ${job.payload.outcome === "succeeded" ? "deployed" : "failed to deploy"}`;
    case "promotion-new":
      return `promote ${job.payload.group}/${job.payload.app} ${job.payload.tag}`;
  }
}

async function showDead(store: AdminStore, path: string, json: boolean, io: OutboxCliIo): Promise<number> {
  const dead = await store.deadJobs();
  if (json) {
    const jobs = dead.map((stored) => ({
      id: stored.id,
      kind: stored.job.kind,
      instance: stored.job.instance,
      target: stored.job.target,
      attempts: stored.attempts,
      lastError: stored.lastError ?? null,
      createdAt: new Date(stored.createdAt).toISOString(),
      deadAt: new Date(stored.updatedAt).toISOString(),
      job: stored.job,
    }));
    io.out(JSON.stringify({ path, jobs }));
    return EXIT_OK;
  }
  if (dead.length === 0) {
    io.out(`outbox ${path}: no dead jobs`);
    return EXIT_OK;
  }
  io.out(`outbox ${path}: ${dead.length} dead job${dead.length === 1 ? "" : "s"}`);
  for (const stored of dead) {
    const { commit, detail } = subjectOf(stored);
    io.out(
      [
        `#${stored.id} ${stored.job.kind} ${stored.job.instance} -> ${stored.job.target}, ${stored.attempts} attempt${stored.attempts === 1 ? "" : "s"}, dead since ${new Date(stored.updatedAt).toISOString()}`,
        `    commit ${commit}, ${detail}`,
        `    last error: ${stored.lastError ?? "(none recorded)"}`,
      ].join("\n"),
    );
  }
  io.out(`re-queue with: ${PRODUCT} outbox retry <id> (or --all); delete with: ${PRODUCT} outbox purge --dead`);
  return EXIT_OK;
}

function usageError(message: string, io: OutboxCliIo): number {
  io.err(`${PRODUCT}: ${message}\n\n${OUTBOX_USAGE}`);
  return EXIT_USAGE;
}

/** `where`: the file, or the database without its credentials. */
type Action = (store: AdminStore, where: string) => Promise<number>;

/** Checks the action's arguments and returns what to run, or an exit code for a usage error. */
function actionFor(positionals: string[], flags: { all: boolean; dead: boolean; json: boolean }, io: OutboxCliIo): Action | number {
  const [name, ...operands] = positionals;
  const counted = (key: string, verb: string, count: number) =>
    io.out(flags.json ? JSON.stringify({ [key]: count }) : `${verb} ${count} dead job${count === 1 ? "" : "s"}`);
  if (name === undefined) return usageError("outbox needs an action: stats, dead, retry or purge", io);
  if (!["stats", "dead", "retry", "purge"].includes(name)) return usageError(`unknown outbox action "${name}"`, io);
  if (flags.all && name !== "retry") return usageError("--all only goes with retry", io);
  if (flags.dead && name !== "purge") return usageError("--dead only goes with purge", io);
  if (name !== "retry" && operands.length > 0) return usageError(`outbox ${name} takes no arguments, got "${operands.join(" ")}"`, io);
  switch (name) {
    case "stats":
      return (store, path) => showStats(store, path, flags.json, io);
    case "dead":
      return (store, path) => showDead(store, path, flags.json, io);
    case "purge":
      if (!flags.dead) return usageError("outbox purge deletes dead jobs only when told so: pass --dead", io);
      return async (store) => (counted("purged", "purged", await store.purgeDead()), EXIT_OK);
    default: {
      if (flags.all && operands.length > 0) return usageError("outbox retry takes a job id or --all, not both", io);
      if (flags.all) return async (store) => (counted("requeued", "re-queued", await store.retryDead("all", io.now())), EXIT_OK);
      const [operand, ...extra] = operands;
      if (operand === undefined || extra.length > 0) return usageError("outbox retry needs one job id (see outbox dead) or --all", io);
      const id = /^\d+$/.test(operand) ? Number(operand) : NaN;
      if (!Number.isSafeInteger(id) || id < 1) return usageError(`"${operand}" is not a job id (a positive integer, see outbox dead)`, io);
      return async (store) => {
        const count = await store.retryDead(id, io.now());
        if (count === 0) {
          io.err(`${PRODUCT}: job ${id} is not a dead job, or a newer status has superseded it; "${PRODUCT} outbox dead" lists the dead ones`);
          return EXIT_USAGE;
        }
        counted("requeued", "re-queued", count);
        return EXIT_OK;
      };
    }
  }
}

/** Runs `outbox …` with the arguments after the command name; returns the exit code. */
export async function runOutboxCommand(args: string[], io: OutboxCliIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "data-dir": { type: "string" },
        config: { type: "string" },
        json: { type: "boolean" },
        all: { type: "boolean" },
        dead: { type: "boolean" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return usageError((error as Error).message, io);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(OUTBOX_USAGE);
    return EXIT_OK;
  }
  const action = actionFor(positionals, { all: values.all ?? false, dead: values.dead ?? false, json: values.json ?? false }, io);
  if (typeof action === "number") return action;

  const located = locateOutbox({ config: values.config, dataDir: values["data-dir"], dryRun: values["dry-run"] ?? false, env: io.env, cwd: io.cwd, warn: (text) => io.err(`${PRODUCT}: warning: ${text}`) });
  if (!located.ok) {
    io.err(`${PRODUCT}: ${located.error}`);
    return EXIT_CODES[located.kind];
  }
  let store: AdminStore & { close(): unknown };
  const where = located.driver === "postgres" ? located.where : located.path;
  try {
    store =
      located.driver === "postgres"
        ? await createPostgresOutboxStore({ url: located.url, listen: false, max: 2 })
        : promised(createSqliteOutboxStore({ path: located.path }));
  } catch (error) {
    // SQLite's open errors name the file already; PostgreSQL's name neither the database nor its host.
    io.err(`${PRODUCT}: ${located.driver === "postgres" ? `outbox ${where}: ` : ""}${(error as Error).message}`);
    return EXIT_RUNTIME;
  }
  try {
    return await action(store, where);
  } catch (error) {
    io.err(`${PRODUCT}: outbox ${where}: ${(error as Error).message}`);
    return EXIT_RUNTIME;
  } finally {
    await store.close();
  }
}
