/**
 * Runs a command the way deploy/systemd/gitops-connector.service would, as far as a root process can without
 * systemd as PID 1: the unit's directives become mounts in a private mount namespace (unshare), a non-root
 * UID with no capabilities and no_new_privs (setpriv), and libseccomp filters built the way systemd builds
 * them (seccomp-exec.ts). Used by systemd.test.ts; its header lists what is exercised and what is not.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SeccompAction, SeccompFilter, SeccompPolicy, SeccompRule } from "./seccomp-exec.ts";

/** The [Service] (or another section's) directives of a unit file, each key with its values in order. */
export type UnitSection = ReadonlyMap<string, readonly string[]>;

/** Parses a unit file's sections (no line continuations, which the unit does not use). */
export function parseUnit(text: string): ReadonlyMap<string, UnitSection> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const at = line.indexOf("=");
    if (at < 0 || !current) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, at).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(at + 1).trim()]);
  }
  return sections;
}

/** The last value of a directive (systemd's rule for single-valued settings). */
export function lastValue(section: UnitSection, key: string): string | undefined {
  return section.get(key)?.at(-1);
}

export function isYes(section: UnitSection, key: string): boolean {
  return ["yes", "true", "on", "1"].includes(lastValue(section, key) ?? "");
}

/** `systemd-analyze syscall-filter` output → group name → its members (syscalls and nested @groups). */
export function parseSyscallGroups(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    if (/^@\S+$/.test(line)) groups.set(line, (current = []));
    else if (current && line.trim() && !line.trim().startsWith("#")) current.push(line.trim());
  }
  return groups;
}

function expandGroup(name: string, groups: ReadonlyMap<string, readonly string[]>): string[] {
  if (!name.startsWith("@")) return [name];
  const members = groups.get(name);
  if (!members) throw new Error(`unknown syscall group ${name}`);
  return members.flatMap((member) => expandGroup(member, groups));
}

const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;
const deny = (errno: number): SeccompAction => ({ errno });
const ADDRESS_FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 };
const NAMESPACE_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]; // CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
const PROT_WRITE = 0x2;
const PROT_EXEC = 0x4;
const SHM_EXEC = 0o100000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const O_CREAT = 0o100;
const O_TMPFILE = 0o20200000;

/**
 * The seccomp filters systemd installs for the unit's directives (src/shared/seccomp-util.c), in the order it
 * loads them: the SystemCallFilter= allow-list last, since it need not allow seccomp() itself. `denied` is what
 * a call outside the allow-list gets; systemd gives SystemCallErrorNumber=, a test may prefer to be killed.
 */
export function seccompPolicyFor(service: UnitSection, syscallGroups: ReadonlyMap<string, readonly string[]>, denied: SeccompAction): SeccompPolicy {
  const filters: SeccompFilter[] = [];
  const families = (lastValue(service, "RestrictAddressFamilies") ?? "").split(/\s+/).filter(Boolean);
  if (families.length > 0) {
    if (families.some((family) => family.startsWith("~"))) throw new Error("only an allow-list RestrictAddressFamilies= is supported here");
    const allowed = families.map((family) => {
      const number = ADDRESS_FAMILIES[family];
      if (number === undefined) throw new Error(`unknown address family ${family}`);
      return number;
    });
    const [first, last] = [Math.min(...allowed), Math.max(...allowed)];
    const rules: SeccompRule[] = [
      { syscall: "socket", action: deny(EAFNOSUPPORT), when: [{ arg: 0, op: "lt", value: first }] },
      { syscall: "socket", action: deny(EAFNOSUPPORT), when: [{ arg: 0, op: "gt", value: last }] },
    ];
    for (let family = first + 1; family < last; family++)
      if (!allowed.includes(family)) rules.push({ syscall: "socket", action: deny(EAFNOSUPPORT), when: [{ arg: 0, op: "eq", value: family }] });
    filters.push({ name: "RestrictAddressFamilies", defaultAction: "allow", rules });
  }
  if (isYes(service, "RestrictNamespaces")) {
    const rules: SeccompRule[] = [{ syscall: "setns", action: deny(EPERM) }];
    for (const flag of NAMESPACE_FLAGS) {
      rules.push({ syscall: "unshare", action: deny(EPERM), when: [{ arg: 0, op: "masked-eq", mask: flag, value: flag }] });
      rules.push({ syscall: "clone", action: deny(EPERM), when: [{ arg: 0, op: "masked-eq", mask: flag, value: flag }] });
    }
    // clone3's flags sit in a struct seccomp cannot read: ENOSYS makes libc fall back to clone.
    rules.push({ syscall: "clone3", action: deny(ENOSYS) });
    filters.push({ name: "RestrictNamespaces", defaultAction: "allow", rules });
  }
  if (isYes(service, "LockPersonality")) {
    filters.push({ name: "LockPersonality", defaultAction: "allow", rules: [{ syscall: "personality", action: deny(EPERM), when: [{ arg: 0, op: "ne", value: 0 }] }] });
  }
  if (isYes(service, "RestrictRealtime")) {
    // SCHED_OTHER 0, SCHED_BATCH 3 and SCHED_IDLE 5 stay allowed.
    const rules: SeccompRule[] = [1, 2, 4].map((policy) => ({ syscall: "sched_setscheduler", action: deny(EPERM), when: [{ arg: 1, op: "eq", value: policy }] }));
    rules.push({ syscall: "sched_setscheduler", action: deny(EPERM), when: [{ arg: 1, op: "gt", value: 5 }] });
    filters.push({ name: "RestrictRealtime", defaultAction: "allow", rules });
  }
  if (isYes(service, "RestrictSUIDSGID")) {
    const rules: SeccompRule[] = [];
    for (const bit of [S_ISUID, S_ISGID]) {
      const mode = (arg: number) => ({ arg, op: "masked-eq" as const, mask: bit, value: bit });
      rules.push({ syscall: "chmod", action: deny(EPERM), when: [mode(1)] });
      rules.push({ syscall: "fchmod", action: deny(EPERM), when: [mode(1)] });
      rules.push({ syscall: "fchmodat", action: deny(EPERM), when: [mode(2)] });
      rules.push({ syscall: "fchmodat2", action: deny(EPERM), when: [mode(2)] });
      rules.push({ syscall: "creat", action: deny(EPERM), when: [mode(1)] });
      for (const flag of [O_CREAT, O_TMPFILE]) {
        const flags = (arg: number) => ({ arg, op: "masked-eq" as const, mask: flag, value: flag });
        rules.push({ syscall: "open", action: deny(EPERM), when: [flags(1), mode(2)] });
        rules.push({ syscall: "openat", action: deny(EPERM), when: [flags(2), mode(3)] });
      }
    }
    filters.push({ name: "RestrictSUIDSGID", defaultAction: "allow", rules });
  }
  if (isYes(service, "MemoryDenyWriteExecute")) {
    const writeExec = PROT_WRITE | PROT_EXEC;
    filters.push({
      name: "MemoryDenyWriteExecute",
      defaultAction: "allow",
      rules: [
        { syscall: "mmap", action: deny(EPERM), when: [{ arg: 2, op: "masked-eq", mask: writeExec, value: writeExec }] },
        { syscall: "mprotect", action: deny(EPERM), when: [{ arg: 2, op: "masked-eq", mask: PROT_EXEC, value: PROT_EXEC }] },
        { syscall: "pkey_mprotect", action: deny(EPERM), when: [{ arg: 2, op: "masked-eq", mask: PROT_EXEC, value: PROT_EXEC }] },
        { syscall: "shmat", action: deny(EPERM), when: [{ arg: 2, op: "masked-eq", mask: SHM_EXEC, value: SHM_EXEC }] },
      ],
    });
  }
  const syscallFilter = service.get("SystemCallFilter") ?? [];
  if (syscallFilter.length > 0) {
    // The first line decides allow-list or deny-list; in an allow-list, ~ lines take syscalls out (systemd.exec(5)).
    if (syscallFilter[0]!.startsWith("~")) throw new Error("only an allow-list SystemCallFilter= is supported here");
    const allowed = new Set<string>();
    for (const line of syscallFilter) {
      const remove = line.startsWith("~");
      for (const name of line.replace(/^~/, "").split(/\s+/).filter(Boolean))
        for (const syscall of expandGroup(name, syscallGroups)) remove ? allowed.delete(syscall) : allowed.add(syscall);
    }
    filters.push({ name: "SystemCallFilter", defaultAction: denied, rules: [...allowed].map((syscall) => ({ syscall, action: "allow" })) });
  }
  return { filters };
}

/** What the sandbox is built from; paths are the unit's, files are copied or bind-mounted there. */
export interface SandboxSpec {
  service: UnitSection;
  unitName: string;
  /** The compiled binary, mounted at `binaryPath` (ExecStart's). */
  binary: string;
  binaryPath: string;
  /** The file installed at `configPath`. */
  configText: string;
  configPath: string;
  /** The unit's state directory path (the --data-dir); `stateDir` on the host is mounted there. */
  statePath: string;
  stateDir: string;
  /** Credential ID → content, installed in /run/credentials/<unit>/. */
  credentials: Record<string, string>;
  policy: SeccompPolicy;
  /** The service's UID (DynamicUser= allocates one from 61184–65519). */
  uid: number;
  /** Scratch directory, only root's. */
  workDir: string;
  /** The argv to run, e.g. the unit's ExecStart. */
  command: string[];
}

/** Root's part: mounts in a private mount namespace, then drops to the service's UID and loads the filters. */
const SANDBOX_SCRIPT = `
set -eu
S=/run/gitops-connector-sandbox
# Overlays, so files can sit at the unit's paths without touching the host.
for d in /etc /var/lib /usr/local /run; do
  o="$W/overlay$(echo "$d" | tr / _)"; mkdir -p "$o/upper" "$o/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$o/upper,workdir=$o/work" "$d"
done
mkdir -p "$(dirname "$BINARY_PATH")"; : > "$BINARY_PATH"; mount --bind "$BINARY" "$BINARY_PATH"
# ConfigurationDirectory= (0755, root's) holding the world-readable config.
install -d -m 0755 "$(dirname "$CONFIG_PATH")"; install -m 0644 "$W/config.yaml" "$CONFIG_PATH"
# StateDirectory= with StateDirectoryMode=0700, owned by the service's user.
mkdir -p "$STATE_PATH"; chown "$SERVICE_UID:$SERVICE_UID" "$STATE_DIR"; chmod 0700 "$STATE_DIR"; mount --bind "$STATE_DIR" "$STATE_PATH"
# LoadCredential=: read-only copies only the service's user can read.
install -d -m 0700 "$CREDENTIALS_PATH"
for f in "$W"/credentials/*; do install -m 0400 -o "$SERVICE_UID" -g "$SERVICE_UID" "$f" "$CREDENTIALS_PATH/"; done
chown "$SERVICE_UID:$SERVICE_UID" "$CREDENTIALS_PATH"; chmod 0500 "$CREDENTIALS_PATH"
install -d -m 0755 "$S"; install -m 0644 "$W/policy.json" "$W/seccomp-exec.ts" "$S/"; : > "$S/bun"; mount --bind "$BUN" "$S/bun"
# PrivateDevices=: a /dev with only the pseudo devices.
D="$W/dev"; mkdir -p "$D"; mount -t tmpfs -o mode=0755,nosuid,noexec tmpfs "$D"
for n in null zero full random urandom tty; do : > "$D/$n"; mount --bind "/dev/$n" "$D/$n"; done
mkdir "$D/shm"; mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$D/shm"
ln -s /proc/self/fd "$D/fd"; ln -s /proc/self/fd/0 "$D/stdin"; ln -s /proc/self/fd/1 "$D/stdout"; ln -s /proc/self/fd/2 "$D/stderr"
mount --move "$D" /dev
# PrivateTmp=
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
# ProtectHome=yes
for h in /root /home /run/user; do if [ -d "$h" ]; then mount -t tmpfs -o ro,mode=000 tmpfs "$h"; fi; done
# ProtectProc=invisible, ProcSubset=pid: a procfs instance of our own (Linux >= 5.8).
mount -t proc -o nosuid,nodev,noexec,hidepid=invisible,subset=pid proc /proc
# ProtectSystem=strict, ProtectKernelTunables=, ProtectControlGroups=: every other mount read-only.
findmnt -rno TARGET,VFS-OPTIONS | while read -r target options; do
  case "$target" in /proc|/proc/*|/dev|/dev/*|/tmp|/var/tmp|"$STATE_PATH") continue ;; esac
  case ",$options," in *,ro,*) continue ;; esac
  mount -o remount,bind,ro "$target"
done
umask "$UMASK"
cd /
# A system service's environment: PATH, the user's, the directories', nothing inherited.
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/ USER="$UNIT_USER" LOGNAME="$UNIT_USER" \\
  SHELL=/usr/sbin/nologin CREDENTIALS_DIRECTORY="$CREDENTIALS_PATH" STATE_DIRECTORY="$STATE_PATH" \\
  CONFIGURATION_DIRECTORY="$(dirname "$CONFIG_PATH")" \\
  setpriv --reuid="$SERVICE_UID" --regid="$SERVICE_UID" --clear-groups --no-new-privs \\
    --bounding-set=-all --inh-caps=-all --ambient-caps=-all \\
  "$S/bun" "$S/seccomp-exec.ts" "$S/policy.json" "$@"
`;

/** The argv that runs `spec.command` in the sandbox (spawn it as root). */
export function sandboxCommand(spec: SandboxSpec): { argv: string[]; env: Record<string, string> } {
  const { workDir: w } = spec;
  mkdirSync(join(w, "credentials"), { recursive: true });
  writeFileSync(join(w, "config.yaml"), spec.configText);
  for (const [id, content] of Object.entries(spec.credentials)) writeFileSync(join(w, "credentials", id), content);
  writeFileSync(join(w, "policy.json"), JSON.stringify(spec.policy));
  copyFileSync(join(import.meta.dir, "seccomp-exec.ts"), join(w, "seccomp-exec.ts"));
  if (spec.service.has("Environment") || spec.service.has("EnvironmentFile")) throw new Error("Environment= is not passed into the sandbox yet");
  const umask = lastValue(spec.service, "UMask") ?? "0022";
  return {
    argv: ["unshare", "--mount", "--uts", "--ipc", "--propagation", "private", "--", "sh", "-c", SANDBOX_SCRIPT, "sandbox", ...spec.command],
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      W: w,
      BUN: process.execPath,
      BINARY: spec.binary,
      BINARY_PATH: spec.binaryPath,
      CONFIG_PATH: spec.configPath,
      STATE_PATH: spec.statePath,
      STATE_DIR: spec.stateDir,
      CREDENTIALS_PATH: `/run/credentials/${spec.unitName}`,
      SERVICE_UID: String(spec.uid),
      UNIT_USER: spec.unitName.replace(/\.service$/, ""),
      UMASK: umask,
    },
  };
}
