/**
 * deploy/systemd: the unit (gitops-connector.service) and the config it reads (config.yaml).
 *
 * Checked everywhere systemd-analyze exists:
 *   - `systemd-analyze verify` prints nothing for the unit. It also checks that ExecStart's binary exists, so
 *     it runs on a copy whose ExecStart names the binary built here; no other line differs.
 *   - `systemd-analyze security --offline` rates it OK (exposure at most 2.0).
 *   - The unit and the config agree: a LoadCredential= for each ${file:${CREDENTIALS_DIRECTORY}/ID} and the
 *     other way round, ExecStart's --config and --data-dir in the ConfigurationDirectory= and StateDirectory=,
 *     TimeoutStopSec above server.shutdownGraceMs, and each hardening directive the issue asks for.
 *   - The binary's check-config accepts the config given its credentials, and names CREDENTIALS_DIRECTORY
 *     without them.
 *
 * Exercised for real, as root (systemd is not PID 1 here, so the unit itself cannot be started): the unit's
 * own ExecStart, on the compiled binary, in a sandbox built from the unit's directives (systemd-sandbox.ts):
 *   - ProtectSystem=strict (+ ProtectKernelTunables=, ProtectControlGroups=): every mount read-only except
 *     the state directory, /tmp, /var/tmp, /dev/shm and /proc.
 *   - StateDirectory= (0700, the service's user), ConfigurationDirectory= (config 0644), LoadCredential=
 *     (copies in /run/credentials/gitops-connector.service, 0400, read through ${file:…}), at the unit's paths
 *     (overlays on /etc, /var/lib, /usr/local and /run inside the namespace; the host is untouched).
 *   - PrivateTmp=, PrivateDevices= (only null, zero, full, random, urandom, tty, shm), ProtectHome=,
 *     ProtectProc=invisible + ProcSubset=pid (a procfs instance of its own), PrivateIPC= and
 *     ProtectHostname= (IPC and UTS namespaces), UMask=0077. ProtectKernelLogs=, ProtectClock= and
 *     ProtectKernelModules= as far as they come down to those mounts and to the syscall allow-list (no
 *     syslog, clock_settime or init_module in it).
 *   - DynamicUser=: a UID from its range (61184) with no capabilities (CapabilityBoundingSet= empty) and
 *     NoNewPrivileges= (setpriv); not an allocated dynamic user.
 *   - SystemCallFilter=, SystemCallArchitectures=native, RestrictAddressFamilies=, RestrictNamespaces=,
 *     LockPersonality=, RestrictRealtime=, RestrictSUIDSGID=, MemoryDenyWriteExecute=: libseccomp filters
 *     with systemd's rules, loaded in its order. A call outside the allow-list kills the process here, where
 *     the unit's SystemCallErrorNumber=EPERM only fails the call, so a denied call cannot go unnoticed.
 *   A shell in the sandbox shows each of these bites; the daemon then serves (readiness, a signed webhook,
 *   SIGHUP reload, SIGTERM exit 0) and delivers a commit status with the credential's token.
 * Only verified by systemd-analyze, not exercised: systemd's own handling of Restart=, KillMode=,
 * TimeoutStopSec=, ExecReload= (the test sends the same SIGHUP and SIGTERM, and checks the exit within
 * TimeoutStopSec), RemoveIPC=, DynamicUser='s UID allocation, the device cgroup rules PrivateDevices= and
 * ProtectClock= add, ProtectKernelModules=' hiding of /usr/lib/modules, LoadCredential='s own copying (the
 * test places the copies), and the unit's [Install] section. The mounts are built from the directives the
 * issue asks for (the static tests pin them); the seccomp filters are derived from the unit's lines.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dlopen } from "bun:ffi";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYamlText } from "yaml";
import packageJson from "../../package.json" with { type: "json" };
import { isStatusPost, startFakeApi } from "../support/fake-api.ts";
import { isYes, lastValue, parseSyscallGroups, parseUnit, sandboxCommand, seccompPolicyFor } from "./systemd-sandbox.ts";
import type { SeccompPolicy } from "./seccomp-exec.ts";

const ROOT = join(import.meta.dir, "..", "..");
const UNIT_NAME = "gitops-connector.service";
const UNIT_TEXT = readFileSync(join(ROOT, "deploy", "systemd", UNIT_NAME), "utf8");
const CONFIG_TEXT = readFileSync(join(ROOT, "deploy", "systemd", "config.yaml"), "utf8");
const INSTALLED_BINARY = "/usr/local/bin/gitops-connector";
const SERVICE_UID = 61184; // the first UID DynamicUser= hands out
const CREDENTIALS = { "github-token": "ghp_systemdCredentialToken0123456789\n", "webhook-hmac-key": "hmac-from-systemd-credential-4f1e\n" };

const unit = parseUnit(UNIT_TEXT);
const service = unit.get("Service")!;
const execStart = lastValue(service, "ExecStart")!.split(/\s+/);
const flagValue = (argv: readonly string[], flag: string) => argv[argv.indexOf(flag) + 1];

const hasSystemdAnalyze = Bun.which("systemd-analyze") !== null;
const sandboxSkipReason = (() => {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (mount namespaces, a UID change)";
  for (const tool of ["systemd-analyze", "unshare", "setpriv", "findmnt", "perl"]) if (!Bun.which(tool)) return `needs ${tool}`;
  try {
    dlopen("libseccomp.so.2", { seccomp_api_get: { args: [], returns: "u32" } }).close();
  } catch {
    return "needs libseccomp.so.2";
  }
  return undefined;
})();
if (sandboxSkipReason) console.warn(`test/deploy/systemd.test.ts: skipping the sandbox tests: ${sandboxSkipReason}`);

const scratch = mkdtempSync(join(tmpdir(), "gitops-connector-systemd-"));
let binary = "";

/** The binary CI built (GITOPS_CONNECTOR_BIN), else one built here with package.json's build flags. */
function buildBinary(): string {
  if (process.env.GITOPS_CONNECTOR_BIN) return resolve(process.env.GITOPS_CONNECTOR_BIN);
  const [bun, build, ...args] = packageJson.scripts.build.split(/\s+/);
  expect([bun, build]).toEqual(["bun", "build"]);
  const outfile = join(scratch, "gitops-connector");
  const argv = args.map((arg, index) => (args[index - 1] === "--outfile" ? outfile : arg));
  const result = Bun.spawnSync([process.execPath, "build", ...argv], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`bun build failed:\n${result.stderr.toString()}`);
  return outfile;
}

beforeAll(() => {
  binary = buildBinary();
}, 60_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the unit whose ExecStart runs the binary built here (verify checks it exists). */
function unitCopy(): string {
  const dir = join(scratch, "unit");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, UNIT_NAME);
  writeFileSync(path, UNIT_TEXT.replace(`ExecStart=${INSTALLED_BINARY} `, `ExecStart=${binary} `));
  return path;
}

function run(argv: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync(argv, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|min)?$/.exec(text);
  if (!match) throw new Error(`unsupported duration ${text}`);
  return Number(match[1]) * ({ ms: 1, s: 1000, min: 60_000 }[match[2] ?? "s"] ?? 1000);
}

/** Every string in the config that reads a credential: ${file:${CREDENTIALS_DIRECTORY}/ID} → ID. */
function credentialsReadBy(configText: string): string[] {
  const ids: string[] = [];
  const walk = (node: unknown): void => {
    if (typeof node === "string") for (const match of node.matchAll(/\$\{file:\$\{CREDENTIALS_DIRECTORY\}\/([^}]+)\}/g)) ids.push(match[1]!);
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") Object.values(node).forEach(walk);
  };
  walk(parseYamlText(configText));
  return ids;
}

describe("deploy/systemd/gitops-connector.service", () => {
  test.skipIf(!hasSystemdAnalyze)("systemd-analyze verify has nothing to say about it", () => {
    expect(execStart[0]).toBe(INSTALLED_BINARY);
    const copy = unitCopy();
    const changed = readFileSync(copy, "utf8").split("\n").filter((line, index) => line !== UNIT_TEXT.split("\n")[index]);
    expect(changed).toEqual([lastValue(service, "ExecStart")!.replace(INSTALLED_BINARY, binary)].map((value) => `ExecStart=${value}`));
    const { code, stdout, stderr } = run(["systemd-analyze", "verify", copy]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test.skipIf(!hasSystemdAnalyze)("systemd-analyze security rates its sandbox OK", () => {
    const { code, stdout, stderr } = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unitCopy()]);
    expect(code).toBe(0);
    const exposure = /Overall exposure level for gitops-connector\.service: ([\d.]+) (\w+)/.exec(stdout + stderr);
    expect(exposure, stdout + stderr).not.toBeNull();
    expect(Number(exposure![1])).toBeLessThanOrEqual(2);
  });

  test("the unit and config.yaml agree on credentials, paths and the stop timeout", () => {
    const loaded = (service.get("LoadCredential") ?? []).map((value) => value.split(":"));
    const configDir = `/etc/${lastValue(service, "ConfigurationDirectory")}`;
    expect(loaded.length).toBeGreaterThan(0);
    for (const [, source] of loaded) expect(source).toStartWith(`${configDir}/credentials/`);
    expect(loaded.map(([id]) => id).sort()).toEqual([...new Set(credentialsReadBy(CONFIG_TEXT))].sort());
    expect(Object.keys(CREDENTIALS).sort()).toEqual(loaded.map(([id]) => id!).sort());

    expect(execStart.slice(1, 2)).toEqual(["serve"]);
    expect(flagValue(execStart, "--config")).toBe(`${configDir}/config.yaml`);
    expect(flagValue(execStart, "--data-dir")).toBe(`/var/lib/${lastValue(service, "StateDirectory")}`);
    expect(execStart).not.toContain("--dry-run");

    const config = parseYamlText(CONFIG_TEXT) as { server?: { shutdownGraceMs?: number } };
    const graceMs = config.server?.shutdownGraceMs ?? 10_000;
    expect(durationMs(lastValue(service, "TimeoutStopSec")!)).toBeGreaterThan(graceMs + 5_000);
    expect(lastValue(service, "KillSignal")).toBe("SIGTERM");
    expect(lastValue(service, "ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(lastValue(service, "Type")).toBe("simple");
    expect(lastValue(service, "Restart")).toBe("on-failure");
    expect(lastValue(unit.get("Install") ?? new Map(), "WantedBy")).toBe("multi-user.target"); // systemctl enable
  });

  test("carries every hardening directive asked for", () => {
    const yes = [
      "DynamicUser", "NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
      "ProtectKernelLogs", "ProtectControlGroups", "RestrictNamespaces", "LockPersonality", "RestrictRealtime", "RestrictSUIDSGID",
      "MemoryDenyWriteExecute",
    ];
    for (const key of yes) expect(`${key}=${isYes(service, key)}`).toBe(`${key}=true`);
    expect(lastValue(service, "ProtectSystem")).toBe("strict");
    expect(lastValue(service, "CapabilityBoundingSet")).toBe("");
    expect(lastValue(service, "RestrictAddressFamilies")!.split(/\s+/).sort()).toEqual(["AF_INET", "AF_INET6", "AF_UNIX"]);
    expect(service.get("SystemCallFilter")![0]).toBe("@system-service");
    expect(lastValue(service, "SystemCallArchitectures")).toBe("native");
    expect(lastValue(service, "UMask")).toBe("0077");
  });

  test("check-config accepts config.yaml with its credentials and names CREDENTIALS_DIRECTORY without them", () => {
    const credentials = join(scratch, "credentials");
    mkdirSync(credentials, { recursive: true });
    for (const [id, content] of Object.entries(CREDENTIALS)) writeFileSync(join(credentials, id), content);
    const configPath = join(scratch, "config.yaml");
    writeFileSync(configPath, CONFIG_TEXT);

    const ok = run([binary, "check-config", "--config", configPath], { CREDENTIALS_DIRECTORY: credentials });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("apps-prod");
    const missing = run([binary, "check-config", "--config", configPath]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("CREDENTIALS_DIRECTORY is not set");
  });
});

interface Sandboxed {
  proc: ReturnType<typeof Bun.spawn>;
  lines: string[];
  exited: Promise<number>;
  stateDir: string;
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

describe.skipIf(sandboxSkipReason !== undefined)("the compiled binary under the unit's sandbox", () => {
  let policy: SeccompPolicy;
  let runs = 0;
  const running: Sandboxed[] = [];

  beforeAll(() => {
    const groups = parseSyscallGroups(Bun.spawnSync(["systemd-analyze", "syscall-filter", "--no-pager"]).stdout.toString());
    policy = seccompPolicyFor(service, groups, "kill-process");
  });
  afterAll(() => {
    for (const child of running) child.proc.kill("SIGKILL");
  });

  /** Runs `command` in a fresh sandbox with `configText` installed at the unit's --config path. */
  function sandboxed(command: string[], configText = CONFIG_TEXT): Sandboxed {
    runs += 1;
    const workDir = join(scratch, `sandbox-${runs}`);
    const stateDir = join(workDir, "state");
    mkdirSync(stateDir, { recursive: true });
    const { argv, env } = sandboxCommand({
      service,
      unitName: UNIT_NAME,
      binary,
      binaryPath: execStart[0]!,
      configText,
      configPath: flagValue(execStart, "--config")!,
      statePath: flagValue(execStart, "--data-dir")!,
      stateDir,
      credentials: CREDENTIALS,
      policy,
      uid: SERVICE_UID,
      workDir,
      command,
    });
    const proc = Bun.spawn(argv, { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const lines: string[] = [];
    const waiters: Array<{ predicate: (line: string) => boolean; resolve: (line: string) => void }> = [];
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of stream) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          lines.push(line);
          for (const waiter of waiters.filter((w) => w.predicate(line))) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
      if (buffered) lines.push(buffered);
    };
    const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
    const child: Sandboxed = {
      proc,
      lines,
      stateDir,
      exited: pumped.then(() => proc.exited),
      waitForLine(predicate, timeoutMs = 10_000) {
        const seen = lines.find(predicate);
        if (seen !== undefined) return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms:\n${lines.join("\n")}`)), timeoutMs);
          waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
        });
      },
    };
    running.push(child);
    return child;
  }

  /** Starts the unit's ExecStart plus `extra` flags; resolves with its URL once it listens. */
  async function startService(extra: string[], configText?: string) {
    const child = sandboxed([...execStart, "--port", "0", ...extra], configText);
    const listening = await Promise.race([
      child.waitForLine((line) => line.includes('"msg":"gitops-connector listening"')),
      child.exited.then((code) => {
        // SIGSYS is how the test's SystemCallFilter= answers a call outside it; strace -f names the call.
        const why = child.proc.signalCode === "SIGSYS" ? " (SIGSYS: a system call outside SystemCallFilter=)" : "";
        return Promise.reject(new Error(`exited with ${code}${why} before listening:\n${child.lines.join("\n")}`));
      }),
    ]);
    const url = (JSON.parse(listening) as { url: string }).url.replace("0.0.0.0", "127.0.0.1");
    return { ...child, url };
  }

  /** The Progressing fixture, addressed to config.yaml's instance and signed with the credential's key. */
  function signedFluxWebhook(url: string) {
    const instance = (parseYamlText(CONFIG_TEXT) as { instances: Array<{ name: string }> }).instances[0]!.name;
    const event = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "flux", "kustomization-progressing.json"), "utf8"));
    event.involvedObject.name = instance;
    event.metadata.gitops_connector_config_name = instance;
    const body = JSON.stringify(event);
    const key = CREDENTIALS["webhook-hmac-key"].trimEnd();
    const signature = `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
    return fetch(`${url}/gitopsphase`, { method: "POST", body, headers: { "content-type": "application/json", "x-signature": signature } });
  }

  async function stopWithSigterm(child: Sandboxed): Promise<number> {
    child.proc.kill("SIGTERM");
    const timeoutMs = durationMs(lastValue(service, "TimeoutStopSec")!);
    return Promise.race([child.exited, Bun.sleep(timeoutMs).then(() => Promise.reject(new Error(`still running ${timeoutMs} ms after SIGTERM`)))]);
  }

  /** Log lines at warn or worse: a restriction the daemon noticed shows up here first. */
  const complaints = (lines: readonly string[]) => lines.filter((line) => /"level":"(warn|error|fatal)"/.test(line) || !line.startsWith("{"));

  const secretsIn = (lines: readonly string[]) =>
    Object.values(CREDENTIALS).filter((secret) => lines.some((line) => line.includes(secret.trimEnd())));

  test("a shell in the sandbox finds each restriction in force", async () => {
    const probe = `
      echo uid=$(id -u)
      echo umask=$(umask)
      echo tmp=$(ls -A /tmp)
      grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/self/status | tr -d ' \\t' | sed 's/:/=/'
      for p in /etc /usr "$STATE_DIRECTORY" /tmp; do
        if touch "$p/probe" 2>/dev/null; then echo "write:$p=yes"; else echo "write:$p=no"; fi
      done
      echo dev=$(ls /dev | tr '\\n' ' ')
      if ls /root >/dev/null 2>&1; then echo home=readable; else echo home=inaccessible; fi
      if [ -e /proc/1 ]; then echo pid1=visible; else echo pid1=hidden; fi
      if [ -e /proc/sys ]; then echo proc_sys=visible; else echo proc_sys=hidden; fi
      echo credential=$(cat "$CREDENTIALS_DIRECTORY/github-token")
      echo credential_mode=$(stat -c %a "$CREDENTIALS_DIRECTORY/github-token")
      hostname sandbox-probe 2>/dev/null; echo sethostname=$?
      unshare --user true 2>/dev/null; echo unshare=$?
      setarch "$(uname -m)" -R true 2>/dev/null; echo personality=$?
      chmod u+s "$STATE_DIRECTORY/probe" 2>/dev/null; echo setuid_bit=$?
      perl -e 'print "netlink=", (socket(my $s, 16, 3, 0) ? "allowed" : "$!"), "\\n"; print "inet=", (socket(my $t, 2, 1, 0) ? "allowed" : "$!"), "\\n"'
    `;
    const child = sandboxed(["/bin/sh", "-c", probe]);
    expect(await child.exited, child.lines.join("\n")).toBe(0);
    const seen = Object.fromEntries(child.lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    expect(seen).toMatchObject({
      uid: String(SERVICE_UID),
      umask: "0077",
      NoNewPrivs: "1",
      Seccomp: "2", // filter mode
      CapEff: "0000000000000000",
      CapBnd: "0000000000000000",
      "write:/etc": "no",
      "write:/usr": "no",
      "write:/var/lib/gitops-connector": "yes",
      "write:/tmp": "yes",
      home: "inaccessible",
      pid1: "hidden",
      proc_sys: "hidden",
      credential: CREDENTIALS["github-token"].trimEnd(),
      credential_mode: "400",
      sethostname: "159", // killed by SIGSYS: @privileged is not allowed
      unshare: "1", // RestrictNamespaces: EPERM
      personality: "1", // LockPersonality: EPERM
      setuid_bit: "1", // RestrictSUIDSGID: EPERM
      netlink: "Address family not supported by protocol", // RestrictAddressFamilies
      inet: "allowed",
    });
    expect(seen.tmp).toBe(""); // PrivateTmp: an empty /tmp of its own
    expect(seen.dev!.trim().split(" ").sort()).toEqual(["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"]);
  });

  test("serve --dry-run with config.yaml: ready, takes a signed webhook, reloads on SIGHUP, exits 0 on SIGTERM", async () => {
    const daemon = await startService(["--dry-run"]);
    expect((await fetch(`${daemon.url}/readyz`)).status).toBe(200);
    // prom-client's process metrics read /proc/self, all that ProcSubset=pid leaves.
    const metrics = await fetch(`${daemon.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^process_resident_memory_bytes [1-9]/m);
    const accepted = await signedFluxWebhook(daemon.url);
    expect(accepted.status).toBe(202);
    expect(((await accepted.json()) as { jobs: number }).jobs).toBeGreaterThan(0);
    // The key came from the credential: an unsigned webhook is refused.
    expect((await fetch(`${daemon.url}/gitopsphase`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status).toBe(401);

    const status = readFileSync(`/proc/${daemon.proc.pid}/status`, "utf8");
    expect(status).toMatch(new RegExp(`^Uid:\\s+${SERVICE_UID}\\s+${SERVICE_UID}\\s+${SERVICE_UID}\\s+${SERVICE_UID}$`, "m"));
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(new RegExp(`^Seccomp_filters:\\s+${policy.filters.length}$`, "m"));
    expect(status).toMatch(/^CapBnd:\s+0+$/m);
    // MemoryDenyWriteExecute: JavaScriptCore's writable+executable JIT region was refused, and it runs anyway.
    const maps = readFileSync(`/proc/${daemon.proc.pid}/maps`, "utf8");
    expect(maps.split("\n").filter((line) => / rwx. /.test(line))).toEqual([]);

    daemon.proc.kill("SIGHUP"); // what ExecReload= sends
    await daemon.waitForLine((line) => line.includes('"msg":"config reloaded"'));

    expect(await stopWithSigterm(daemon)).toBe(0);
    const outbox = statSync(join(daemon.stateDir, "outbox.dry-run.db"));
    expect({ uid: outbox.uid, mode: (outbox.mode & 0o777).toString(8) }).toEqual({ uid: SERVICE_UID, mode: "600" });
    expect(secretsIn(daemon.lines)).toEqual([]);
    expect(complaints(daemon.lines)).toEqual([]);
  }, 20_000);

  test("delivers a commit status to GitHub with the github-token credential", async () => {
    const api = startFakeApi();
    try {
      // localhost, not 127.0.0.1: the name goes through the resolver under RestrictAddressFamilies.
      const configText = CONFIG_TEXT.replace("https://api.github.com/repos/contoso", `http://localhost:${api.port}/repos/contoso`);
      expect(configText).not.toBe(CONFIG_TEXT);
      const daemon = await startService([], configText);
      expect((await signedFluxWebhook(daemon.url)).status).toBe(202);
      const posted = await api.waitFor(isStatusPost);
      expect(posted.headers.authorization).toContain(CREDENTIALS["github-token"].trimEnd());
      expect(await stopWithSigterm(daemon)).toBe(0);
      expect(secretsIn(daemon.lines)).toEqual([]);
      expect(complaints(daemon.lines)).toEqual([]);
    } finally {
      await api.stop();
    }
  }, 20_000);
});
