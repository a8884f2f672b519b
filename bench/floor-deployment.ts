/**
 * The floor for bench/cpu-per-deployment.ts: the least a Bun program does for one Flux success with the
 * daemon's durability, and nothing more. Run as a script (`bun bench/floor-deployment.ts '<json options>'`) it is
 * a plain `Bun.serve` that parses each webhook's JSON, takes the commit from `metadata.revision`, stores the three
 * jobs the daemon plans for it (status, supersede read, dispatch) in one SQLite transaction per turn of the event
 * loop (WAL, synchronous NORMAL, as the outbox), answers 202 once that has committed, then makes the daemon's four
 * calls (the status; the compare read since the last finished commit; the commit read and the dispatch) by
 * `fetch`, at most 8 at a time, and records each finished job done, one transaction per turn. No validation,
 * no read model, no logs, no metrics, no retries: what is left is the runtime's own cost of an HTTP request, a
 * durable write, four outbound calls and their records. `startFloorDeployment()` is the bench's side: this file
 * in a bun process of its own, as the daemon is.
 */
import { Database } from "bun:sqlite";
import { startBenchScript, type BenchScript } from "./harness.ts";

const CONCURRENCY = 8;

export interface FloorOptions {
  readonly port: number;
  /** The fake API's repositories base, `http://127.0.0.1:n/repos/org`. */
  readonly api: string;
  readonly db: string;
}

export type FloorDeployment = BenchScript;

/** Starts this file in its own bun process; ready when it answers a webhook without a commit with 400. */
export function startFloorDeployment(options: Omit<FloorOptions, "port">): Promise<FloorDeployment> {
  return startBenchScript(import.meta.path, (port) => [JSON.stringify({ ...options, port })], 400);
}

type Kind = "status" | "supersede" | "dispatch";
interface Job {
  readonly id: number;
  readonly kind: Kind;
  readonly commit: string;
}

function serveFloor(options: FloorOptions): void {
  const db = new Database(options.db, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run('CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "commit" TEXT NOT NULL, state TEXT NOT NULL)');
  const insert = db.query<{ id: number }, [string, string]>("INSERT INTO jobs (kind, \"commit\", state) VALUES (?, ?, 'pending') RETURNING id");
  const markDone = db.query<unknown, [number]>("UPDATE jobs SET state = 'done' WHERE id = ?");
  const store = db.transaction((commits: readonly string[]) =>
    commits.flatMap((commit) => (["status", "supersede", "dispatch"] as const).map((kind) => ({ id: insert.get(kind, commit)!.id, kind, commit }))),
  );
  const recordDone = db.transaction((ids: readonly number[]) => {
    for (const id of ids) markDone.run(id);
  });
  const headers = { authorization: "token floor", accept: "application/vnd.github+json", "user-agent": "floor", "content-type": "application/json" };

  let waiting: { commit: string; resolve(): void }[] = [];
  const flushWaiting = () => {
    const batch = waiting;
    waiting = [];
    queue.push(...store(batch.map((entry) => entry.commit)));
    for (const entry of batch) entry.resolve();
    drain();
  };

  const queue: Job[] = [];
  let inFlight = 0;
  let lastFinished: string | undefined;
  let done: number[] = [];
  const flushDone = () => {
    const ids = done;
    done = [];
    recordDone(ids);
  };
  const call = async (path: string, init?: RequestInit) => {
    const response = await fetch(options.api + path, { ...init, headers });
    await response.arrayBuffer();
  };
  const deliver = async (job: Job) => {
    if (job.kind === "status") {
      await call(`/manifests/statuses/${job.commit}`, { method: "POST", body: JSON.stringify({ state: "success", context: "kustomization/apps-dev", description: "Reconciliation finished" }) });
    } else if (job.kind === "supersede") {
      if (lastFinished !== undefined) await call(`/manifests/compare/${lastFinished}...${job.commit}`);
      lastFinished = job.commit;
    } else {
      await call(`/manifests/commits/${job.commit}`);
      await call("/app-src/dispatches", { method: "POST", body: JSON.stringify({ event_type: "sync-success", client_payload: { sha: job.commit } }) });
    }
  };
  function drain(): void {
    while (inFlight < CONCURRENCY && queue.length > 0) {
      const job = queue.shift()!;
      inFlight += 1;
      void deliver(job).then(() => {
        inFlight -= 1;
        done.push(job.id);
        if (done.length === 1) setImmediate(flushDone);
        drain();
      });
    }
  }

  Bun.serve({
    hostname: "127.0.0.1",
    port: options.port,
    async fetch(request) {
      const event = (await request.json().catch(() => undefined)) as { metadata?: { revision?: unknown } } | undefined;
      const commit = /([0-9a-f]{40})$/.exec(String(event?.metadata?.revision ?? ""))?.[1];
      if (commit === undefined) return new Response("no commit", { status: 400 });
      await new Promise<void>((resolve) => {
        waiting.push({ commit, resolve });
        if (waiting.length === 1) setImmediate(flushWaiting);
      });
      return Response.json({ jobs: 3 }, { status: 202 });
    },
  });
  process.on("SIGTERM", () => process.exit(0));
}

if (import.meta.main) {
  let options: FloorOptions;
  try {
    options = JSON.parse(process.argv[2] ?? "") as FloorOptions;
    if (!(options.port > 0) || !options.api || !options.db) throw new Error("port, api and db are required");
  } catch (error) {
    console.error(`usage: bun bench/floor-deployment.ts '<json options>' (${(error as Error).message})`);
    process.exit(2);
  }
  serveFloor(options);
}
