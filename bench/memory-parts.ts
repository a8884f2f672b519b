/**
 * Where the daemon's resident memory goes: small programs compiled with the flags of package.json's "build",
 * each adding one part of the daemon to the one before (the Bun runtime, an HTTP server, SQLite, Elysia,
 * Octokit, the rest of the dependencies, then the daemon's own modules), started, left idle for a moment and
 * their VmRSS read from /proc. A part's share is what it adds to the program before it. Run alone:
 * `bun bench/memory-parts.ts`; the daemon's own figures under load are in lifecycle.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processMemory } from "./harness.ts";
import { formatSummary, formatTable, summarize, type Summary } from "./stats.ts";

const ROOT = join(import.meta.dir, "..");
const MIB = 1024 * 1024;
const SETTLE_MS = 1_500;

/** Each program is the one before plus these lines (imports resolved from the project root). */
const PARTS: ReadonlyArray<{ name: string; code: string }> = [
  { name: "Bun runtime (an idle timer)", code: "" },
  { name: "+ Bun.serve on loopback", code: `Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });` },
  {
    name: "+ bun:sqlite, a WAL file",
    code: `import { Database } from "bun:sqlite"; const db = new Database(join(tmpdir(), "memory-parts-" + process.pid + ".db"), { create: true }); db.run("PRAGMA journal_mode = WAL"); db.run("CREATE TABLE IF NOT EXISTS t (x)"); process.on("exit", () => db.close());`,
  },
  { name: "+ Elysia app", code: `import { Elysia } from "elysia"; new Elysia().get("/", () => "ok").post("/x", ({ request }) => request.text(), { parse: "none" });` },
  { name: "+ Octokit (rest, auth-app)", code: `import { Octokit } from "@octokit/rest"; import { createAppAuth } from "@octokit/auth-app"; void createAppAuth; void new Octokit({ auth: "x".repeat(40) }).rest.repos.createCommitStatus;` },
  {
    name: "+ pino, prom-client, valibot, yaml, preact",
    code: `import pino from "pino"; import { Registry, Counter } from "prom-client"; import * as v from "valibot"; import YAML from "yaml"; import { h } from "preact"; import { renderToString } from "preact-render-to-string";
pino({ level: "info" }, pino.destination({ dest: 1, sync: true })); new Counter({ name: "x_total", help: "x", registers: [new Registry()] }); v.parse(v.object({ a: v.string() }), { a: "b" }); YAML.parse("a: 1"); renderToString(h("p", null, "x"));`,
  },
  { name: "+ the daemon's modules (loaded, not started)", code: `import { startDaemon } from "${join(ROOT, "src/cli/daemon.ts")}"; (globalThis as Record<string, unknown>).keep = startDaemon;` },
];

const HEADER = `import { join } from "node:path"; import { tmpdir } from "node:os";`;

async function build(dir: string, index: number): Promise<string> {
  const source = join(dir, `part-${index}.ts`);
  const code = PARTS.slice(0, index + 1).map((part) => part.code);
  // Imports first (an ES module requires it), then the statements, then an idle timer that keeps it alive.
  const lines = code.join("\n").split("\n");
  const imports = lines.filter((line) => line.startsWith("import "));
  const rest = lines.filter((line) => !line.startsWith("import "));
  writeFileSync(source, [HEADER, ...imports, ...rest, "setInterval(() => {}, 60_000);"].join("\n"));
  const binary = join(dir, `part-${index}`);
  const proc = Bun.spawn([process.execPath, "build", source, "--compile", "--bytecode", "--minify", "--outfile", binary], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [code_, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code_ !== 0) throw new Error(`memory-parts: building ${PARTS[index]!.name} failed:\n${err}`);
  return binary;
}

async function residentMiB(binary: string): Promise<number> {
  const proc = Bun.spawn([binary], { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
  try {
    await Bun.sleep(SETTLE_MS); // nothing to await: the figure is what an idle process keeps
    if (proc.exitCode !== null) throw new Error(`memory-parts: ${binary} exited with ${proc.exitCode}`);
    return processMemory(proc.pid).rss / MIB;
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

export async function measureMemoryParts(runs = 3): Promise<Array<{ name: string; rss: Summary; added: number }>> {
  // Inside the project, so the programs resolve its node_modules; removed at the end.
  const dir = mkdtempSync(join(import.meta.dir, ".memory-parts-"));
  try {
    const binaries = [];
    for (let index = 0; index < PARTS.length; index++) binaries.push(await build(dir, index));
    const rows = [];
    let before = 0;
    for (const [index, binary] of binaries.entries()) {
      const samples = [];
      for (let run = 0; run < runs; run++) samples.push(await residentMiB(binary));
      const rss = summarize(samples);
      rows.push({ name: PARTS[index]!.name, rss, added: index === 0 ? rss.median : rss.median - before });
      before = rss.median;
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  console.log(`memory parts: VmRSS of compiled programs, idle ${SETTLE_MS} ms after start, ${new Date().toISOString()}, bun ${Bun.version}`);
  const rows = await measureMemoryParts();
  console.log(formatTable(["program", "RSS MiB", "added MiB"], rows.map((row) => [row.name, formatSummary(row.rss, 1), row.added.toFixed(1)])));
}
