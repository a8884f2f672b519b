/**
 * The limit of delivery (bench/delivery.ts), in a process of its own as the daemon is: `count` POSTs of the
 * request the daemon sent (same path shape, headers and body), `concurrency` at a time with Bun's fetch and
 * nothing else, each a new commit in the path. Prints `{"ms": …, "failed": …}`; exits 2 on bad arguments.
 *
 *   bun bench/fetch-loop.ts '{"url":"http://127.0.0.1:1234","path":"/repos/org/manifests/statuses/{sha}",
 *                             "headers":{…},"body":"…","count":10000,"concurrency":8}'
 */
import { benchCommit } from "./events.ts";

export interface FetchLoopOptions {
  readonly url: string;
  /** `{sha}` is replaced by a commit of its own for each request. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly count: number;
  readonly concurrency: number;
}

export async function fetchLoop(options: FetchLoopOptions): Promise<{ ms: number; failed: number }> {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < options.count) {
      const n = next++;
      const response = await fetch(options.url + options.path.replace("{sha}", benchCommit(0xfe, n)), { method: "POST", headers: options.headers, body: options.body });
      await response.arrayBuffer();
      if (!response.ok) failed += 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return { ms: performance.now() - started, failed };
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
