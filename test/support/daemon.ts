/**
 * Runs the real daemon as a child process (the source with bun, or the compiled binary when
 * GITOPS_CONNECTOR_BIN is set), collects its output line by line, and waits for events in it.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

export function daemonCommand(): string[] {
  const binary = process.env.GITOPS_CONNECTOR_BIN;
  return binary ? [binary] : [process.execPath, join(ROOT, "src", "main.ts")];
}

export interface RunningChild {
  proc: ReturnType<typeof Bun.spawn>;
  /** Every stdout and stderr line so far. */
  lines: string[];
  /** Resolves with the first line (already seen or future) matching the predicate. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<number>;
}

export function spawnConnector(args: string[], env: Record<string, string> = {}): RunningChild {
  const proc = Bun.spawn([...daemonCommand(), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const lines: string[] = [];
  const waiters: Array<{ predicate: (line: string) => boolean; resolve: (line: string) => void }> = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
      }
    }
    if (buffered) onLine(buffered);
  };
  const pumped = Promise.all([pump(proc.stdout as ReadableStream<Uint8Array>), pump(proc.stderr as ReadableStream<Uint8Array>)]);
  return {
    proc,
    lines,
    exited: pumped.then(() => proc.exited),
    waitForLine(predicate, timeoutMs = 10_000) {
      const seen = lines.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; output:\n${lines.join("\n")}`)), timeoutMs);
        waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
  };
}

/** Starts `serve --port 0` (dry run unless told otherwise) and resolves once it logs where it listens. */
export async function startDaemon(options: { configPath: string; env?: Record<string, string>; dryRun?: boolean; dataDir?: string }) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "gitops-connector-data-"));
  const args = ["serve", "--port", "0", "--config", options.configPath, "--data-dir", dataDir];
  if (options.dryRun !== false) args.push("--dry-run");
  const child = spawnConnector(args, options.env ?? {});
  const line = await Promise.race([
    child.waitForLine((text) => text.includes('"msg":"gitops-connector listening"')),
    child.exited.then((code) => Promise.reject(new Error(`daemon exited with ${code} before listening:\n${child.lines.join("\n")}`))),
  ]);
  const url = (JSON.parse(line) as { url: string }).url.replace("0.0.0.0", "127.0.0.1");
  return { ...child, url, dataDir };
}

/** Starts `serve --dry-run --port 0` on a fresh data dir. */
export function startDryRunDaemon(configPath: string, env: Record<string, string> = {}) {
  return startDaemon({ configPath, env });
}

export function jsonLines(lines: readonly string[]): Array<Record<string, any>> {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, any>];
    } catch {
      return [];
    }
  });
}
