/**
 * What every daemon benchmark shares: the compiled binary (what the image and the systemd unit run), a config
 * pointing one GitHub instance at a loopback fake API, a daemon started on a known free port and timed until
 * /readyz answers 200, its memory and CPU read from /proc, and a stop that cannot hang. Loopback and temp dirs
 * only; every temp dir is removed, on a failed start too.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApi, type FakeApi } from "../test/support/fake-api.ts";

const ROOT = join(import.meta.dir, "..");
export const PAT = "ghp_benchTokenThatIsOnlyEverSentToLoopback01";

/** What to undo when this process exits before a benchmark could (Ctrl-C, a crash): daemons left running, temp dirs. */
const leftovers = new Set<() => void>();
let exitHooked = false;

/** Runs `undo` at exit, also on Ctrl-C or SIGTERM (which skip "exit" handlers unless handled); returns its cancel. */
function atExit(undo: () => void): () => void {
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", () => leftovers.forEach((pending) => pending()));
    for (const [signal, number] of [["SIGINT", 2], ["SIGTERM", 15]] as const) process.once(signal, () => process.exit(128 + number));
  }
  leftovers.add(undo);
  return () => leftovers.delete(undo);
}

let built: Promise<string> | undefined;

/**
 * The binary under test: GITOPS_CONNECTOR_BIN when set; else package.json's "build" script run once per bench
 * process with its `--outfile` pointed at a temp dir (removed when this process exits), so the figures are of
 * what users deploy, built with exactly the flags that ship, and the shared dist/ is left alone.
 */
export function benchBinary(): Promise<string> {
  const given = process.env.GITOPS_CONNECTOR_BIN;
  if (given) return Promise.resolve(given);
  built ??= buildBinary();
  return built;
}

async function buildBinary(): Promise<string> {
  const { scripts } = (await Bun.file(join(ROOT, "package.json")).json()) as { scripts?: Record<string, string> };
  const script = scripts?.build ?? "";
  const words = script.split(/\s+/).filter(Boolean);
  const outfile = words.indexOf("--outfile");
  // Run without a shell, so the script must be one plain `bun build … --outfile <path> …` command.
  if (words[0] !== "bun" || outfile < 0 || outfile + 1 >= words.length || /["'`$;&|<>\\]/.test(script)) {
    throw new Error(`bench: package.json's "build" script is not a plain "bun build … --outfile <path>" command: ${script}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-bench-bin-"));
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  const binary = join(dir, "gitops-connector");
  const command = [process.execPath, ...words.slice(1, outfile + 1), binary, ...words.slice(outfile + 2)];
  const build = Bun.spawn(command, { cwd: ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, stdout, stderr] = await Promise.all([build.exited, new Response(build.stdout).text(), new Response(build.stderr).text()]);
  if (code !== 0) throw new Error(`bench: ${command.join(" ")} exited with ${code}:\n${stdout}${stderr}`);
  return binary;
}

/** A port nobody listens on right now (the daemon gets it on its command line, so /readyz can be polled at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface BenchConfig {
  /** gitHubOrgUrl: `<fake api>/repos/org`. */
  readonly orgUrl: string;
  /** outbox.concurrency (default 8, the product's default). */
  readonly concurrency?: number;
  readonly maxDepth?: number;
  /** outbox.timeoutMs (default 10,000); on PostgreSQL a claim's lease is 3 × this. */
  readonly timeoutMs?: number;
  /** The outbox on PostgreSQL at this URL (`outbox.driver: postgres`) instead of the SQLite file. */
  readonly outboxUrl?: string;
  /** ciCdOrchestratorType; GITHUB adds a repository_dispatch per finished deployment. Default NONE. */
  readonly orchestrator?: "NONE" | "GITHUB";
  /** Extra YAML lines under the instance (indented by 4). */
  readonly extraInstanceYaml?: string;
}

/**
 * Writes `<dir>/etc/config.yaml`: beside the data dir, not in it, as every documented layout has it. The daemon
 * watches its config's directory, and a config inside the data dir would have the watch woken by every outbox
 * write (measured: 28 µs of a thread's CPU per webhook).
 */
export function writeBenchConfig(dir: string, config: BenchConfig): string {
  mkdirSync(join(dir, "etc"), { recursive: true });
  const path = join(dir, "etc", "config.yaml");
  const outbox = [
    config.concurrency !== undefined ? `concurrency: ${config.concurrency}` : undefined,
    config.maxDepth !== undefined ? `maxDepth: ${config.maxDepth}` : undefined,
    config.timeoutMs !== undefined ? `timeoutMs: ${config.timeoutMs}` : undefined,
    config.outboxUrl !== undefined ? `driver: postgres, url: "${config.outboxUrl}"` : undefined,
  ].filter(Boolean);
  writeFileSync(
    path,
    `server: { host: 127.0.0.1 }
${outbox.length > 0 ? `outbox: { ${outbox.join(", ")} }\n` : ""}instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: ${config.orchestrator ?? "NONE"}
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${config.orgUrl}
    gitHubGitOpsManifestsRepoName: manifests
${config.orchestrator === "GITHUB" ? "    gitHubGitOpsRepoName: app-src\n" : ""}    pat: "\${PAT}"
${config.extraInstanceYaml ?? ""}`,
  );
  return path;
}

export interface BenchDaemon {
  readonly url: string;
  readonly pid: number;
  /** Its temp dir: the data dir (the outbox), daemon.log, and the config in etc/. */
  readonly dir: string;
  readonly configPath: string;
  /** From spawn to the first 200 from /readyz. */
  readonly readyMs: number;
  /** Resolves when the process has ended: its exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;
  /** False once the process has exited (an unreaped zombie counts as exited). */
  isRunning(): boolean;
  /** Resident set now and its peak so far (VmRSS, VmHWM), in bytes. */
  memory(): { rss: number; peak: number };
  /** User + system CPU time used so far, in ms. */
  cpuMs(): number;
  /**
   * Sends the signal (unless it has exited already) and resolves with the time until the process was gone
   * (polled every millisecond) and its exit code; SIGKILL after STOP_WATCHDOG_MS, so it never hangs. Removes
   * the temp dir unless `keepDir` (then call cleanup() once done reading it).
   */
  stop(signal?: NodeJS.Signals, options?: { keepDir?: boolean }): Promise<{ exitMs: number; code: number | null }>;
  /** Removes the temp dir; idempotent. Call it only once the process has exited. */
  cleanup(): void;
  /** The daemon's output (stdout and stderr go to one file; read it when something went wrong). */
  output(): string;
}

/** How often readiness is polled: the resolution of `readyMs`. */
const READY_POLL_MS = 1;
const READY_TIMEOUT_MS = 20_000;
const EXIT_POLL_MS = 1;
const STOP_WATCHDOG_MS = 30_000;

/**
 * Starts `serve` on a fresh temp dir (its config written by `writeConfig`, its outbox inside it) and waits for
 * /readyz. Output goes to a file, so a busy daemon never blocks on a pipe this process is slow to read. When
 * the start fails (exit before ready, or no 200 within READY_TIMEOUT_MS) the process is killed and awaited and
 * the temp dir removed before the error is thrown.
 */
export async function startBenchDaemon(options: {
  binary: string;
  writeConfig: (dir: string) => string;
  env?: Record<string, string>;
  logLevel?: string;
}): Promise<BenchDaemon> {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-bench-"));
  const logPath = join(dir, "daemon.log");
  const output = () => readFileSync(logPath, "utf8");
  let proc: Bun.Subprocess | undefined;
  const forget = atExit(() => {
    if (proc?.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const configPath = options.writeConfig(dir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const log = openSync(logPath, "w");
    const spawnedAt = performance.now();
    try {
      proc = Bun.spawn([options.binary, "serve", "--config", configPath, "--data-dir", dir, "--port", String(port)], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", HOME: dir, PAT, LOG_LEVEL: options.logLevel ?? "info", ...options.env },
        stdout: log,
        stderr: log,
        stdin: "ignore",
      });
    } finally {
      closeSync(log); // the child has its own copy
    }
    const readyMs = await waitForReady(url, proc, spawnedAt, output);
    return daemonHandle(proc, forget, { url, dir, configPath, readyMs, output });
  } catch (error) {
    if (proc) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    }
    rmSync(dir, { recursive: true, force: true });
    forget();
    throw error;
  }
}

async function waitForReady(url: string, proc: Bun.Subprocess, spawnedAt: number, output: () => string): Promise<number> {
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`bench: daemon exited with ${proc.exitCode ?? proc.signalCode} before ready:\n${output()}`);
    }
    if (performance.now() - spawnedAt > READY_TIMEOUT_MS) throw new Error(`bench: daemon not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return performance.now() - spawnedAt;
    await Bun.sleep(READY_POLL_MS);
  }
}

function daemonHandle(proc: Bun.Subprocess, forget: () => void, started: { url: string; dir: string; configPath: string; readyMs: number; output: () => string }): BenchDaemon {
  const { pid } = proc;
  const exited = proc.exited.then(() => proc.exitCode);
  const isRunning = () => proc.exitCode === null && proc.signalCode === null && isProcessRunning(pid);
  let cleaned = false;
  const cleanup = () => {
    if (!cleaned) rmSync(started.dir, { recursive: true, force: true });
    cleaned = true;
    forget();
  };
  return {
    ...started,
    pid,
    exited,
    isRunning,
    memory: () => processMemory(pid),
    cpuMs: () => processCpuMs(pid),
    async stop(signal = "SIGTERM", stopOptions = {}) {
      const sentAt = performance.now();
      if (isRunning()) proc.kill(signal);
      const watchdog = setTimeout(() => isRunning() && proc.kill("SIGKILL"), STOP_WATCHDOG_MS);
      try {
        // /proc shows the exit (a zombie) before this process's event loop gets round to reaping the child.
        while (isRunning()) await Bun.sleep(EXIT_POLL_MS);
        const exitMs = performance.now() - sentAt;
        return { exitMs, code: await exited };
      } finally {
        clearTimeout(watchdog);
        if (!stopOptions.keepDir) cleanup();
      }
    },
    cleanup,
  };
}

/**
 * A fresh fake GitHub API (`prepareApi` sets its handler before anything can call it) and a daemon pointed at
 * it, for the length of `body`; both are stopped, and the daemon's temp dir removed, however `body` ends.
 */
export async function withBenchDaemon<T>(
  options: { binary: string; config?: Omit<BenchConfig, "orgUrl">; prepareApi?: (api: FakeApi) => void },
  body: (daemon: BenchDaemon, api: FakeApi) => Promise<T>,
): Promise<T> {
  const api = startFakeApi();
  let daemon: BenchDaemon | undefined;
  try {
    options.prepareApi?.(api);
    daemon = await startBenchDaemon({ binary: options.binary, writeConfig: (dir) => writeBenchConfig(dir, { ...options.config, orgUrl: api.orgUrl("org") }) });
    return await body(daemon, api);
  } finally {
    await daemon?.stop();
    await api.stop();
  }
}

/** A bench helper script (a limit or a floor) in a bun process of its own, as the daemon is, on a free port. */
export interface BenchScript {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const SCRIPT_START_TIMEOUT_MS = 10_000;

/**
 * Runs `script` with `args(port)`; ready once a POST of `{}` to /gitopsphase answers `readyStatus`. Stopped, with
 * its stderr in the error, when it exits or is not ready within 10 s.
 */
export async function startBenchScript(script: string, args: (port: number) => string[], readyStatus: number): Promise<BenchScript> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([process.execPath, script, ...args(port)], { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
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
    if (status === readyStatus) return { url, pid: proc.pid, stop };
    if (proc.exitCode !== null || performance.now() - started > SCRIPT_START_TIMEOUT_MS) {
      await stop();
      throw new Error(`bench: ${script} not answering ${readyStatus} (last ${status}, exit ${proc.exitCode}):\n${await new Response(proc.stderr).text()}`);
    }
    await Bun.sleep(5);
  }
}

/** True while the process runs (a zombie, exited but not yet reaped, counts as gone). */
export function isProcessRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.charAt(stat.lastIndexOf(")") + 2);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** VmRSS and VmHWM of a live process from /proc/<pid>/status, in bytes. */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a live process from /proc/<pid>/stat, in ms (Linux's USER_HZ is 100). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}
