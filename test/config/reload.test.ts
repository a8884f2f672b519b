import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig, type Config, type LoadResult } from "../../src/config/load.ts";
import { createConfigReloader, type ConfigReloader } from "../../src/config/reload.ts";
import { createLogger } from "../../src/observability/logger.ts";

const fixtures = resolve(import.meta.dir, "../fixtures/config");
const minimalYaml = readFileSync(join(fixtures, "minimal.yaml"), "utf8");
const twoInstancesYaml = `${minimalYaml}  - name: apps-prod
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/contoso/gitops-manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/contoso
    gitHubGitOpsManifestsRepoName: gitops-manifests
`;
const brokenYaml = readFileSync(join(fixtures, "three-mistakes.yaml"), "utf8");

const temp = mkdtempSync(join(tmpdir(), "gitops-connector-reload-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

const running: ConfigReloader[] = [];
afterEach(() => {
  for (const reloader of running.splice(0)) reloader.stop();
});

let counter = 0;
/** A config file in its own directory, a reloader on it, and ways to await what it does. */
function setup(content: string, debounceMs = 20) {
  const dir = join(temp, String(counter++));
  mkdirSync(dir);
  const file = join(dir, "config.yaml");
  writeFileSync(file, content);
  const lines: LogLine[] = [];
  const lineWaiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const logger = createLogger({
    level: "debug",
    write(text) {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of lineWaiters.filter((w) => w.match(line))) {
        lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    },
  });
  const applied: Config[] = [];
  let onApplied: ((config: Config) => void) | undefined;
  let loads = 0;
  const reloader = createConfigReloader({
    load(): LoadResult {
      loads += 1;
      return loadConfig({ source: { kind: "file", path: file, description: file }, env: {} });
    },
    watchFile: file,
    logger,
    debounceMs,
    onReload(config) {
      applied.push(config);
      onApplied?.(config);
    },
  });
  running.push(reloader);
  return {
    dir,
    file,
    lines,
    applied,
    reloader,
    loads: () => loads,
    /** Resolves with the next applied config; rejects after a bounded wait. */
    nextReload(ms = 5000): Promise<Config> {
      return withTimeout(new Promise((done) => (onApplied = done)), ms, "no reload");
    },
    /** Resolves with the next log line that matches. */
    nextLog(match: (line: LogLine) => boolean, ms = 5000): Promise<LogLine> {
      return withTimeout(new Promise((done) => lineWaiters.push({ match, resolve: done })), ms, "no such log line");
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("reload()", () => {
  test("a good config is applied and logged with its instance names", () => {
    const t = setup(minimalYaml);
    writeFileSync(t.file, twoInstancesYaml);
    expect(t.reloader.reload("SIGHUP")).toBe(true);
    expect(t.applied.map((config) => config.instances.map((i) => i.name))).toEqual([["apps-dev", "apps-prod"]]);
    const line = t.lines.find((l) => l.msg === "config reloaded");
    expect(line).toMatchObject({ level: "info", trigger: "SIGHUP", component: "config", instances: ["apps-dev", "apps-prod"] });
  });

  test("a bad config keeps the running one and logs every error, then a summary", () => {
    const t = setup(minimalYaml);
    writeFileSync(t.file, brokenYaml);
    expect(t.reloader.reload("SIGHUP")).toBe(false);
    expect(t.applied).toEqual([]);
    const errors = t.lines.filter((line) => line.level === "error");
    expect(errors.map((line) => line.path)).toEqual(["server.port", "instances[0].gitOpsOperatorType", "instances[1].azdoOrgUrl", undefined]);
    expect(errors[0]?.msg).toBe("config error: server.port: must be a whole number from 1 to 65535 (got 70000)");
    expect(errors[3]).toMatchObject({ errors: 3, msg: "config reload rejected (3 errors); keeping the running config" });
  });

  test("SIGHUP reloads even when the file is unchanged (a ${file:} secret may have changed)", () => {
    const t = setup(minimalYaml);
    expect(t.reloader.reload("SIGHUP")).toBe(true);
  });

  test("a file change with unchanged content does not reload", () => {
    const t = setup(minimalYaml);
    expect(t.reloader.reload("file-change")).toBe(false);
    expect(t.loads()).toBe(0);
    writeFileSync(t.file, twoInstancesYaml);
    expect(t.reloader.reload("file-change")).toBe(true);
    expect(t.reloader.reload("file-change")).toBe(false);
    expect(t.loads()).toBe(1);
  });

  test("an onReload that throws is logged and reported as not applied", () => {
    const t = setup(minimalYaml);
    const reloader = createConfigReloader({
      load: () => loadConfig({ source: { kind: "file", path: t.file, description: t.file }, env: {} }),
      logger: createLogger({ level: "silent" }),
      onReload() {
        throw new Error("boom");
      },
    });
    expect(reloader.reload("SIGHUP")).toBe(false);
  });
});

describe("watching the file", () => {
  test("writing the file triggers a reload", async () => {
    const t = setup(minimalYaml);
    t.reloader.start();
    const reloaded = t.nextReload();
    writeFileSync(t.file, twoInstancesYaml);
    const config = await reloaded;
    expect(config.instances.map((i) => i.name)).toEqual(["apps-dev", "apps-prod"]);
    expect(t.lines.find((l) => l.msg === "config reloaded")?.trigger).toBe("file-change");
  });

  test("rewriting the same content does not reload", async () => {
    const t = setup(minimalYaml);
    t.reloader.start();
    const skipped = t.nextLog((line) => line.msg === "config file unchanged; not reloading");
    writeFileSync(t.file, minimalYaml);
    await skipped;
    expect(t.applied).toEqual([]);
    expect(t.loads()).toBe(0);
  });

  test("a burst of writes is debounced into one reload", async () => {
    const t = setup(minimalYaml, 100);
    t.reloader.start();
    const reloaded = t.nextReload();
    writeFileSync(t.file, brokenYaml);
    writeFileSync(t.file, twoInstancesYaml);
    await reloaded;
    expect(t.loads()).toBe(1);
  });

  test("a Kubernetes ConfigMap update (..data symlink swap) triggers a reload", async () => {
    const t = setup("");
    // Rebuild the directory as the kubelet lays it out: config.yaml → ..data/config.yaml → ..v1/config.yaml.
    rmSync(t.file);
    mkdirSync(join(t.dir, "..v1"));
    writeFileSync(join(t.dir, "..v1", "config.yaml"), minimalYaml);
    symlinkSync("..v1", join(t.dir, "..data"));
    symlinkSync("..data/config.yaml", t.file);
    t.reloader.start();

    const reloaded = t.nextReload();
    mkdirSync(join(t.dir, "..v2"));
    writeFileSync(join(t.dir, "..v2", "config.yaml"), twoInstancesYaml);
    symlinkSync("..v2", join(t.dir, "..data_tmp"));
    renameSync(join(t.dir, "..data_tmp"), join(t.dir, "..data"));
    const config = await reloaded;
    expect(config.instances).toHaveLength(2);
  });

  test("a bad file change keeps the running config and logs its errors", async () => {
    const t = setup(minimalYaml);
    t.reloader.start();
    const rejected = t.nextLog((line) => line.msg.startsWith("config reload rejected"));
    writeFileSync(t.file, brokenYaml);
    expect((await rejected).trigger).toBe("file-change");
    expect(t.applied).toEqual([]);
  });

  test("stop() ends watching", async () => {
    const t = setup(minimalYaml);
    t.reloader.start();
    t.reloader.stop();
    writeFileSync(t.file, twoInstancesYaml);
    // A live watcher with the same debounce, written at the same moment, bounds the wait: it reloads, the stopped one must not.
    const witness = setup(minimalYaml);
    const seen = witness.nextReload();
    witness.reloader.start();
    writeFileSync(witness.file, twoInstancesYaml);
    await seen;
    expect(t.applied).toEqual([]);
  });
});
