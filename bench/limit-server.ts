/**
 * The limit for bench/webhook-throughput.ts: the least any Bun webhook receiver must do, and nothing more. Run as
 * a script (`bun bench/limit-server.ts <port>`) it is a plain `Bun.serve` on 127.0.0.1 that reads and parses each
 * JSON body and answers 200 with an empty body (400 when the body is not JSON). The daemon's throughput is
 * reported as a share of this one's, measured by the same load generator with the same bodies in the same run.
 * `startLimitServer()` is the bench's side: it runs this file in a bun process of its own, as the daemon is.
 *
 * With `--durable <file>` (`startLimitServer({ durable })`) it is the durable floor instead: each parsed body is
 * also stored, one row of one table in a SQLite file (WAL, synchronous NORMAL, as the outbox), the webhooks of one
 * turn of the event loop in one transaction, each answered once that has committed — group commit and nothing
 * else: no schema of jobs, no indexes, no knowledge read. What a durable 202 costs on this runtime at least.
 */
import { Database } from "bun:sqlite";
import { startBenchScript, type BenchScript } from "./harness.ts";
import { commitPerTurn } from "./per-turn.ts";

export type LimitServer = BenchScript;

/** Starts this file in its own bun process on a free port; ready when it answers a JSON POST with 200. */
export function startLimitServer(options: { durable?: string } = {}): Promise<LimitServer> {
  return startBenchScript(import.meta.path, (port) => [String(port), ...(options.durable ? ["--durable", options.durable] : [])], 200);
}

function serve(port: number, durable: string | undefined): void {
  const store = durable === undefined ? undefined : groupCommit(durable);
  Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(request) {
      let body: unknown;
      try {
        body = await request.json();
      } catch {
        return new Response(null, { status: 400 });
      }
      if (store) await store(JSON.stringify(body));
      return new Response(null, { status: 200 });
    },
  });
}

/** Stores each body in `path`; the bodies of one turn of the event loop in one transaction. */
function groupCommit(path: string): (body: string) => Promise<void> {
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const insert = db.query<unknown, [string]>("INSERT INTO bodies (body) VALUES (?)");
  const storeAll = db.transaction((bodies: readonly string[]) => {
    for (const body of bodies) insert.run(body);
  });
  return commitPerTurn<string>((bodies) => storeAll(bodies));
}

if (import.meta.main) {
  const port = Number(process.argv[2]);
  const durable = process.argv[3] === "--durable" ? process.argv[4] : undefined;
  if (!Number.isInteger(port) || port <= 0 || port > 65_535 || (process.argv.length > 3 && !durable)) {
    console.error(`usage: bun bench/limit-server.ts <port> [--durable <sqlite file>]   (got ${process.argv.slice(2).join(" ") || "nothing"})`);
    process.exit(2);
  }
  serve(port, durable);
}
