/**
 * The limit for bench/webhook-throughput.ts: the least any Bun webhook receiver must do, and nothing more. Run as
 * a script (`bun bench/limit-server.ts <port>`) it is a plain `Bun.serve` on 127.0.0.1 that reads and parses each
 * JSON body and answers 200 with an empty body (400 when the body is not JSON). The daemon's throughput is
 * reported as a share of this one's, measured by the same load generator with the same bodies in the same run.
 * `startLimitServer()` is the bench's side: it runs this file in a bun process of its own, as the daemon is.
 */
import { freePort } from "./harness.ts";

const START_TIMEOUT_MS = 10_000;

export interface LimitServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts this file in its own bun process on a free port; ready when it answers a JSON POST with 200. */
export async function startLimitServer(): Promise<LimitServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([process.execPath, import.meta.path, String(port)], { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  };
  const started = performance.now();
  for (;;) {
    const status = await fetch(`${url}/gitopsphase`, { method: "POST", body: "{}" }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return { url, pid: proc.pid, stop };
    if (proc.exitCode !== null || performance.now() - started > START_TIMEOUT_MS) {
      await stop();
      throw new Error(`bench: limit server not answering 200 (last ${status}, exit ${proc.exitCode}):\n${await new Response(proc.stderr).text()}`);
    }
    await Bun.sleep(5);
  }
}

function serve(port: number): void {
  Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(request) {
      try {
        await request.json();
      } catch {
        return new Response(null, { status: 400 });
      }
      return new Response(null, { status: 200 });
    },
  });
}

if (import.meta.main) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    console.error(`usage: bun bench/limit-server.ts <port>   (got ${process.argv[2] ?? "nothing"})`);
    process.exit(2);
  }
  serve(port);
}
