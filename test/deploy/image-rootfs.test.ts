/**
 * What the container image promises, checked without a container engine. The Dockerfile's final stage is read
 * (base, USER, ENV, VOLUME, ENTRYPOINT, CMD) and then run the way a runtime would: a root filesystem holding
 * only the compiled binary and the libraries `ldd` says it links, mounted read-only in a private mount and PID
 * namespace, /proc, /sys, a tmpfs /dev and /tmp, the data directory as a writable bind (a volume) and a
 * read-only secrets mount; the binary runs as uid/gid 65532 and is PID 1 there. The host's network namespace
 * is kept so the test can reach it on 127.0.0.1. Every mount lives only in that namespace, so it goes when
 * the daemon does, even when the test fails; afterAll still lazily unmounts anything it finds.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import packageJson from "../../package.json" with { type: "json" };

const ROOT = join(import.meta.dir, "..", "..");
const NONROOT = 65532;

type Instruction = { keyword: string; args: string };
type Stage = { from: string; instructions: Instruction[] };

/** The Dockerfile's stages: comments dropped, continuation lines joined, one instruction per entry. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => line.trim() !== "");
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = "", args = ""] = line.trim().match(/^(\S+)\s*(.*)$/) ?? [];
    if (keyword.toUpperCase() === "FROM") stages.push({ from: args, instructions: [] });
    else stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1) ?? "";
const jsonArray = (args: string) => JSON.parse(args) as string[];

function finalStage() {
  const stages = parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
  const stage = stages.at(-1)!;
  const env = Object.fromEntries(all(stage, "ENV").flatMap((args) => [...args.matchAll(/(\w+)=("[^"]*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, "")])));
  const binary = all(stage, "COPY").map((args) => args.split(/\s+/)).find((words) => words.at(-1)?.startsWith("/usr/local/bin/"))?.at(-1);
  return {
    stages,
    stage,
    env,
    binary,
    user: last(stage, "USER"),
    entrypoint: jsonArray(last(stage, "ENTRYPOINT")),
    cmd: jsonArray(last(stage, "CMD")),
    volumes: jsonArray(last(stage, "VOLUME")),
  };
}

describe("container image", () => {
  test("the Dockerfile builds with the pinned Bun and runs the binary alone on distroless as 65532", () => {
    const image = finalStage();
    const bunVersion = packageJson.packageManager.replace(/^bun@/, "");
    const [build] = image.stages;
    expect(build!.from).toBe(`oven/bun:${bunVersion} AS build`);
    const runs = all(build!, "RUN").join("\n");
    expect(runs).toContain("bun install --frozen-lockfile");
    expect(runs).toContain("bun run build");
    expect(image.stage.from).toBe("gcr.io/distroless/cc-debian12:nonroot");
    expect(image.user).toBe(`${NONROOT}:${NONROOT}`);
    expect(all(image.stage, "EXPOSE")).toEqual(["8080"]);
    expect(image.volumes).toEqual(["/var/lib/gitops-connector"]);
    expect(image.entrypoint).toEqual([image.binary!]);
    expect(image.cmd).toEqual(["serve", "--data-dir", image.volumes[0]!]);
    expect(image.env.GITOPS_CONNECTOR_CONFIG).toBe("/etc/gitops-connector/config.yaml");
    // Every file the build stage copies from the context must survive the .dockerignore allow-list.
    const allowed = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").filter((line) => line.startsWith("!"));
    const sources = all(build!, "COPY").flatMap((args) => args.split(/\s+/).filter((word) => !word.startsWith("--")).slice(0, -1));
    for (const source of sources) expect(allowed.some((line) => line.replace(/^!|\/$/g, "") === source)).toBe(true);
  });

  const PATH_WITH_SBIN = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
  const tools = ["unshare", "chroot", "mount", "umount", "mknod", "ldd", "sh"];
  const missing = tools.filter((tool) => !Bun.which(tool, { PATH: PATH_WITH_SBIN }));
  const skipReason =
    process.platform !== "linux" || process.getuid?.() !== 0
      ? "it needs root on Linux (mount and PID namespaces, chroot to uid 65532)"
      : missing.length > 0
        ? `it needs ${missing.join(", ")} (util-linux, coreutils, libc-bin)`
        : undefined;
  if (skipReason) console.log(`skipping the image root filesystem test: ${skipReason}`);

  const base = mkdtempSync(join(tmpdir(), "gitops-connector-image-"));
  const mountsUnder = (path: string) =>
    readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[1] ?? "")
      .filter((point) => point === path || point.startsWith(`${path}/`));
  afterAll(() => {
    // Nothing should be left: the mounts were made in a namespace that died with the daemon.
    for (const point of mountsUnder(base).reverse()) Bun.spawnSync(["umount", "--lazy", point], { env: { PATH: PATH_WITH_SBIN } });
    if (mountsUnder(base).length === 0) rmSync(base, { recursive: true, force: true });
  });

  test.skipIf(skipReason !== undefined)(
    "the image's command serves from a read-only root holding only the binary and its libraries, as uid 65532",
    async () => {
      const image = finalStage();
      const binary = compiledBinary(join(base, "build"));
      const root = join(base, "rootfs");
      const volume = join(base, "volume");
      const secrets = join(base, "secrets");
      const dataDir = image.volumes[0]!;
      const configPath = image.env.GITOPS_CONNECTOR_CONFIG!;

      const libraries = linkedLibraries(binary);
      expect(libraries.some((path) => path.includes("/ld-linux"))).toBe(true);
      const directories: Array<[string, number]> = [["/tmp", 0o1777], ["/proc", 0o555], ["/sys", 0o555], ["/dev", 0o755], ["/run/secrets", 0o755], [dirname(configPath), 0o755], [dataDir, 0o755]];
      for (const [dir, mode] of directories) mkdirSync(join(root, dir), { recursive: true, mode });
      for (const [dir, mode] of directories) chmodSync(join(root, dir), mode);
      chownSync(join(root, dataDir), NONROOT, NONROOT);
      for (const file of [image.binary!, ...libraries]) {
        mkdirSync(join(root, dirname(file)), { recursive: true });
        copyFileSync(file === image.binary ? binary : file, join(root, file));
        chmodSync(join(root, file), 0o755);
      }
      writeFileSync(join(root, configPath), CONFIG);
      mkdirSync(volume, { mode: 0o755 });
      chownSync(volume, NONROOT, NONROOT);
      mkdirSync(secrets);
      writeFileSync(join(secrets, "webhook-token"), `${TOKEN}\n`, { mode: 0o444 });

      const before = listTree(root);
      const expectedFiles = [image.binary!, ...libraries, configPath].map((file) => file.slice(1)).sort();
      expect(before.filter((entry) => !entry.endsWith("/"))).toEqual(expectedFiles);
      expect(before.filter((entry) => entry.endsWith("/") && readdirSync(join(root, entry)).length === 0).sort()).toEqual(
        ["dev/", "proc/", "run/secrets/", "sys/", "tmp/", `${dataDir.slice(1)}/`].sort(),
      );

      const env = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/home/nonroot", ...image.env };
      const command = [...image.entrypoint, ...image.cmd, "--dry-run", "--port", "0"];
      const unshare = Bun.which("unshare", { PATH: PATH_WITH_SBIN })!;
      const probe = probeScript(["/", dirname(configPath), dirname(image.binary!), "/run/secrets", "/tmp", dataDir]);
      const args = [root, volume, dataDir, secrets, probe, ...command];
      const proc = Bun.spawn([unshare, "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", CONTAINER_SCRIPT, "container", ...args], {
        env,
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
      });
      const output = watchLines(proc);
      try {
        const exitedEarly = proc.exited.then((code) => Promise.reject(new Error(`exited with ${code}:\n${output.lines.join("\n")}`)));
        exitedEarly.catch(() => {}); // it rejects at the planned exit too, after the races that need it
        const probed = JSON.parse(await Promise.race([output.waitFor((line) => line.startsWith('{"probe"')), exitedEarly]));
        // Only the volume and /tmp take writes; everything else is read-only, whatever its permissions.
        expect(probed).toEqual({
          probe: { "/": "EROFS", [dirname(configPath)]: "EROFS", [dirname(image.binary!)]: "EROFS", "/run/secrets": "EROFS", "/tmp": "ok", [dataDir]: "ok" },
          uid: NONROOT,
          gid: NONROOT,
          groups: [],
          cwd: "/",
        });
        const listening = JSON.parse(await Promise.race([output.waitFor((line) => line.includes('"msg":"gitops-connector listening"')), exitedEarly]));
        expect(listening).toMatchObject({ dryRun: true, config: configPath, outbox: `${dataDir}/outbox.dry-run.db` });
        const url = listening.url as string;
        expect(url).toStartWith("http://127.0.0.1:");

        const daemonPid = Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim());
        const status = readFileSync(`/proc/${daemonPid}/status`, "utf8");
        expect(status).toMatch(new RegExp(`^Uid:\\s+${NONROOT}\\s+${NONROOT}\\s+${NONROOT}\\s+${NONROOT}$`, "m"));
        expect(status).toMatch(/^NSpid:\s+\d+\s+1$/m); // PID 1 in its namespace, as in a container without an init
        // The daemon's own view of its mounts: a read-only root, the volume and /tmp writable.
        const mounts = Object.fromEntries(
          readFileSync(`/proc/${daemonPid}/mounts`, "utf8").trim().split("\n").map((line) => line.split(" ")).map(([, point, , options]) => [point!, options!.split(",")[0]]),
        );
        expect(mounts).toMatchObject({ "/": "ro", "/proc": "rw", "/sys": "ro", "/dev": "rw", "/tmp": "rw", [dataDir]: "rw", "/run/secrets": "ro" });
        // They exist only in the daemon's namespace: the host never sees them, so none can outlive it.
        expect(mountsUnder(base)).toEqual([]);

        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        expect((await fetch(`${url}/readyz`)).status).toBe(200);
        const fixture = readFileSync(join(ROOT, "test", "fixtures", "flux", "kustomization-progressing.json"), "utf8");
        const post = (headers: Record<string, string>) =>
          fetch(`${url}/gitopsphase/apps-dev`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: fixture });
        expect((await post({})).status).toBe(401); // the token read through ${file:/run/secrets/…} is in force
        const accepted = await post({ authorization: `Bearer ${TOKEN}` });
        expect(accepted.status).toBe(202);
        expect(await accepted.json()).toMatchObject({ accepted: true, instance: "apps-dev" });
        expect(readdirSync(`/proc/${daemonPid}/root/tmp`)).toEqual([]); // nothing needed /tmp

        process.kill(daemonPid, "SIGTERM");
        expect(await proc.exited).toBe(0);
        await output.drained;
        expect(output.lines.some((line) => line.includes('"msg":"stopped; pending jobs stay in the outbox"'))).toBe(true);
        expect(listTree(root)).toEqual(before);
        expect(readdirSync(volume)).toContain("outbox.dry-run.db");
        expect(statSync(join(volume, "outbox.dry-run.db")).uid).toBe(NONROOT);
      } finally {
        if (proc.exitCode === null) proc.kill("SIGKILL"); // --kill-child takes the namespace's PID 1 with it
        await proc.exited;
      }
      expect(mountsUnder(base)).toEqual([]);
    },
    30_000,
  );
});

const TOKEN = "image-test-token";

/** config.example.yaml's first instance, reduced; the webhook token comes from a mounted secret file. */
const CONFIG = `server: { host: 127.0.0.1 }
auth: { bearerToken: "\${file:/run/secrets/webhook-token}" }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/contoso/gitops-manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/contoso
    gitHubGitOpsManifestsRepoName: gitops-manifests
`;

/**
 * Runs as root inside the new mount and PID namespaces: mounts what a container runtime would, runs the
 * write probe, then execs the image's command as 65532 (so it becomes the namespace's PID 1).
 * Arguments: rootfs, volume, data dir, secrets dir, probe script, command…
 */
const CONTAINER_SCRIPT = `set -eu
R=$1 VOLUME=$2 DATA_DIR=$3 SECRETS=$4 PROBE=$5
shift 5
mount --bind "$R" "$R"
mount -o remount,bind,ro,nosuid,nodev "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o nosuid,mode=755,size=64k tmpfs "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3; mknod -m 666 "$R/dev/zero" c 1 5; mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8; mknod -m 666 "$R/dev/urandom" c 1 9
ln -s /proc/self/fd "$R/dev/fd"; ln -s fd/0 "$R/dev/stdin"; ln -s fd/1 "$R/dev/stdout"; ln -s fd/2 "$R/dev/stderr"
mkdir "$R/dev/shm"; mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=1m shm "$R/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777,size=16m tmpfs "$R/tmp"
mount --bind "$VOLUME" "$R$DATA_DIR"
mount --bind "$SECRETS" "$R/run/secrets"; mount -o remount,bind,ro "$R/run/secrets"
ENTRYPOINT=$1
BUN_BE_BUN=1 chroot --userspec=${NONROOT}:${NONROOT} "$R" "$ENTRYPOINT" -e "$PROBE"
exec chroot --userspec=${NONROOT}:${NONROOT} "$R" "$@"
`;

/**
 * Tries a write in each directory; run by the image's own binary inside the root (BUN_BE_BUN=1 makes a
 * compiled Bun executable act as bun), so it has exactly the daemon's user, root and mounts.
 */
function probeScript(dirs: string[]): string {
  return `const fs = require("node:fs");
const probe = {};
for (const dir of ${JSON.stringify(dirs)}) {
  const path = dir.replace(/\\/?$/, "/probe");
  try { fs.writeFileSync(path, "x"); fs.unlinkSync(path); probe[dir] = "ok"; } catch (error) { probe[dir] = error.code; }
}
console.log(JSON.stringify({ probe, uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), cwd: process.cwd() }));`;
}

/** GITOPS_CONNECTOR_BIN, or a fresh build with package.json's own build flags into `dir`. */
function compiledBinary(dir: string): string {
  if (process.env.GITOPS_CONNECTOR_BIN) return process.env.GITOPS_CONNECTOR_BIN;
  const words = packageJson.scripts.build.split(/\s+/);
  expect(words.slice(0, 2)).toEqual(["bun", "build"]);
  const outfile = join(dir, "gitops-connector");
  const args = words.map((word, index) => (words[index - 1] === "--outfile" ? outfile : word));
  const result = Bun.spawnSync([process.execPath, ...args.slice(1)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`build failed:\n${result.stderr.toString()}`);
  return outfile;
}

/** The loader and shared libraries the binary links, as absolute host paths (vdso has none). */
function linkedLibraries(binary: string): string[] {
  const output = Bun.spawnSync(["ldd", binary], { stdout: "pipe" }).stdout.toString();
  if (output.includes("not found")) throw new Error(`ldd cannot resolve every library:\n${output}`);
  return [...output.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((match) => match[1]!);
}

/** Every entry under `dir`, relative, directories with a trailing slash, symlinks with "@". */
function listTree(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix))
    .sort()
    .flatMap((name) => {
      const relative = prefix ? `${prefix}/${name}` : name;
      const stat = lstatSync(join(dir, relative));
      if (stat.isSymbolicLink()) return [`${relative}@`];
      return stat.isDirectory() ? [`${relative}/`, ...listTree(dir, relative)] : [relative];
    });
}

/** Collects a child's stdout and stderr lines (like test/support/daemon.ts) and waits for one that matches. */
function watchLines(proc: { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array> }) {
  const lines: string[] = [];
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      const parts = (buffered + decoder.decode(chunk, { stream: true })).split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const waiter of waiters.filter((candidate) => candidate.match(line))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  const drained = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  return {
    lines,
    /** Resolves once both streams have ended (the last lines are in `lines`). */
    drained,
    waitFor(match: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms:\n${lines.join("\n")}`)), timeoutMs);
        waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
  };
}
