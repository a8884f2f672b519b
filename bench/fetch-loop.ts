/**
 * The limit of delivery (bench/delivery.ts), in a process of its own as the daemon is: `count` POSTs of the
 * request the daemon sent (same path shape, headers and body), `concurrency` at a time with Bun's fetch and
 * nothing else, each a new commit in the path. Prints `{"ms": …, "failed": …}`; exits 2 on bad arguments.
 *
 * With `"durable": "<sqlite file>"` it is the durable floor of delivery instead: the `count` jobs are first
 * written to one table of a SQLite file (WAL, synchronous NORMAL, as the outbox; not timed, as the daemon's
 * outbox is full before its clock starts), and each request reads its job's row before the call and marks it
 * done after it, the completions of one turn of the event loop in one transaction, each lane going on once
 * that has committed: batched completion and nothing else (no claim query, no ordering keys, no indexes but
 * the row id, no retries). What delivering from a durable outbox costs on this runtime at least.
 *
 *   bun bench/fetch-loop.ts '{"url":"http://127.0.0.1:1234","path":"/repos/org/manifests/statuses/{sha}",
 *                             "headers":{…},"body":"…","count":10000,"concurrency":8}'
 */
import { Database } from "bun:sqlite";
import { benchCommit } from "./events.ts";
import { commitPerTurn } from "./per-turn.ts";

export interface FetchLoopOptions {
  readonly url: string;
  /** `{sha}` is replaced by a commit of its own for each request. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly count: number;
  readonly concurrency: number;
  /** A SQLite file: the durable floor (see the top of this file). */
  readonly durable?: string;
}

export async function fetchLoop(options: FetchLoopOptions): Promise<{ ms: number; failed: number }> {
  let next = 0;
  let failed = 0;
  const outbox = options.durable === undefined ? undefined : durableJobs(options.durable, options.count, options.body);
  const started = performance.now();
  const lane = async () => {
    while (next < options.count) {
      const n = next++;
      const body = outbox ? outbox.read(n) : options.body;
      const response = await fetch(options.url + options.path.replace("{sha}", benchCommit(0xfe, n)), { method: "POST", headers: options.headers, body });
      await response.arrayBuffer();
      if (!response.ok) failed += 1;
      if (outbox) await outbox.done(n);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return { ms: performance.now() - started, failed };
}

/** The jobs of the durable floor: one row each, read by id, marked done in one transaction per turn. */
function durableJobs(path: string, count: number, body: string) {
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, state TEXT NOT NULL, updated_at INTEGER)");
  const insert = db.query<unknown, [number, string]>("INSERT INTO jobs (id, payload, state) VALUES (?, ?, 'pending')");
  db.transaction(() => {
    for (let n = 0; n < count; n += 1) insert.run(n + 1, JSON.stringify({ kind: "status", payload: body }));
  })();
  const select = db.query<{ payload: string }, [number]>("SELECT payload FROM jobs WHERE id = ?");
  const markDone = db.query<unknown, [number, number]>("UPDATE jobs SET state = 'done', updated_at = ? WHERE id = ?");
  const record = db.transaction((ids: readonly number[]) => {
    const at = Date.now();
    for (const id of ids) markDone.run(at, id);
  });
  const done = commitPerTurn<number>((ids) => record.immediate(ids));
  return {
    read: (n: number) => (JSON.parse(select.get(n + 1)!.payload) as { payload: string }).payload,
    done: (n: number) => done(n + 1),
  };
}

if (import.meta.main) {
  let options: FetchLoopOptions;
  try {
    options = JSON.parse(process.argv[2] ?? "") as FetchLoopOptions;
    if (!options.url || !options.path || !(options.count > 0) || !(options.concurrency > 0)) throw new Error("url, path, count and concurrency are required");
  } catch (error) {
    console.error(`usage: bun bench/fetch-loop.ts '<json options>' (${(error as Error).message})`);
    process.exit(2);
  }
  console.log(JSON.stringify(await fetchLoop(options)));
}
