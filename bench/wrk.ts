/**
 * Load from wrk (Debian's package), as bench/webhook-throughput.ts uses it: one thread, closed loop, every
 * request a JSON event for a distinct commit (bench/wrk-post.lua fills it into a body template), and the
 * figures read from the one machine-readable WRK_RESULT line the script prints, with wrk's own CPU time from
 * its process accounting, so a saturated generator shows.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const WRK_SCRIPT = join(import.meta.dir, "wrk-post.lua");
/** In each body template; wrk-post.lua replaces it per request with `<prefix><thread><counter><WRK_FILLER>`. */
const PLACEHOLDER = "feedface".repeat(5);
const WRK_FILLER = "c0ffee".repeat(4).slice(0, 20);
/** A wrk run taking this much longer than asked is killed (a crash, not a figure). */
const WRK_GRACE_MS = 30_000;

/** wrk on PATH, or undefined. */
export const findWrk = (): string | undefined => Bun.which("wrk") ?? undefined;

/** `wrk -v`'s first words (`wrk debian/4.1.0-3+b2 [epoll]`), or undefined when wrk is not installed. */
export async function wrkVersion(): Promise<string | undefined> {
  const wrk = findWrk();
  if (wrk === undefined) return undefined;
  const proc = Bun.spawn([wrk, "-v"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return `${stdout}${stderr}`.split("\n")[0]?.replace(/\s*Copyright.*$/, "").trim() || "wrk (version unknown)";
}

/**
 * Writes `body(placeholder)` as JSON to `<dir>/<name>.json`: the template wrk-post.lua sends, a fresh commit in
 * place of the placeholder for each request.
 */
export function writeWrkTemplate(dir: string, name: string, body: (commit: string) => Record<string, unknown>): string {
  const text = JSON.stringify(body(PLACEHOLDER));
  if (text.split(PLACEHOLDER).length !== 2) throw new Error(`bench: the ${name} template must hold the placeholder exactly once`);
  const path = join(dir, `${name}.json`);
  writeFileSync(path, text);
  return path;
}

/** A commit shaped as wrk-post.lua makes them for `prefix`, in thread slot ff (which -t1 never uses): for a probe. */
export const wrkStyleCommit = (prefix: string) => `${prefix}ff${"1".padStart(10, "0")}${WRK_FILLER}`;

/** The settings of one wrk run; `prefix` (8 hex) keeps each phase's commits apart. */
export interface WrkOptions {
  readonly wrk: string;
  readonly url: string;
  readonly templatePath: string;
  readonly prefix: string;
  readonly connections: number;
  readonly seconds: number;
}

/** One wrk run, from its WRK_RESULT line and its process accounting. */
export interface WrkRun {
  readonly requests: number;
  /** Answers with a status >= 400 (wrk's count; neither server answers 3xx). */
  readonly non2xx: number;
  readonly socketErrors: number;
  /** 2xx answers per second of wrk's measured duration. */
  readonly okPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** wrk's user + system CPU over its wall time (1 = one core). */
  readonly generatorCpuShare: number;
  readonly wallMs: number;
}

/** Runs wrk against `<url>/gitopsphase`; throws when it fails or prints no result line. */
export async function runWrk(options: WrkOptions): Promise<WrkRun> {
  const command = [options.wrk, "-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--latency", "-s", WRK_SCRIPT, `${options.url}/gitopsphase`];
  const started = performance.now();
  const proc = Bun.spawn([...command, "--", options.templatePath, PLACEHOLDER, options.prefix, WRK_FILLER], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), options.seconds * 1000 + WRK_GRACE_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(killer);
  const wallMs = performance.now() - started;
  const line = stdout.split("\n").find((text) => text.startsWith("WRK_RESULT "));
  if (code !== 0 || line === undefined) throw new Error(`bench: ${command.join(" ")} exited with ${code} and no result line:\n${stdout}${stderr}`);
  const result = JSON.parse(line.slice("WRK_RESULT ".length)) as Record<string, unknown>;
  const field = (name: string) => {
    const value = result[name];
    if (typeof value !== "number") throw new Error(`bench: wrk result line lacks ${name}: ${line}`);
    return value;
  };
  const cpu = proc.resourceUsage()?.cpuTime;
  const requests = field("requests");
  const non2xx = field("statusErrors");
  return {
    requests,
    non2xx,
    socketErrors: field("connectErrors") + field("readErrors") + field("writeErrors") + field("timeouts"),
    okPerSecond: (requests - non2xx) / (field("durationUs") / 1e6),
    p50Ms: field("p50Us") / 1000,
    p99Ms: field("p99Us") / 1000,
    generatorCpuShare: cpu ? Number(cpu.user + cpu.system) / 1000 / wallMs : Number.NaN,
    wallMs,
  };
}
