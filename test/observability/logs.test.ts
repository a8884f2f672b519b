/**
 * The log lines people and log queries rely on (README "Logs"): exactly one info line per webhook with its
 * fields and, when refused, the reason; one line per delivery attempt (info delivered, warn retried, error
 * dead) with job id, kind, target, HTTP status, duration and attempt; payloads only at debug; the level from
 * --log-level, then LOG_LEVEL, then config logLevel (which a reload applies). Webhook lines through the HTTP
 * app; everything else from the real daemon process (the compiled binary when GITOPS_CONNECTOR_BIN is set).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bufferByTurn } from "../../src/observability/logger.ts";
import { buildTestApp, post } from "../support/app.ts";
import { githubInstance } from "../support/instances.ts";
import { jsonLines, spawnConnector, startDaemon, type RunningChild } from "../support/daemon.ts";
import { isStatusPost, startFakeApi, type FakeApi } from "../support/fake-api.ts";

const PAT = "ghp_logsTestTokenThatMustNeverBeLogged0001";
const COMMIT = "c1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4";
/** Only in the webhook payload: at info they must appear in no line, at debug they must. */
const MARKER_REPORTER = "kustomize-controller-marker-5e1f0a";
const MARKER_MESSAGE = "marker-message-9c2a7d";

type Line = Record<string, any>;

function fluxEvent(reason: string, message: string, name = "apps-dev") {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name, uid: "5f0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-11-20T10:15:00Z",
    message,
    reason,
    metadata: { revision: `main@sha1:${COMMIT}` },
    reportingController: "kustomize-controller",
    reportingInstance: MARKER_REPORTER,
  };
}
const succeeded = (name = "apps-dev") => fluxEvent("ReconciliationSucceeded", `Reconciliation finished in 2.1s, next run in 10m0s ${MARKER_MESSAGE}`, name);

// ---------------------------------------------------------------------------------------------- webhook lines

describe("one webhook line per request", () => {
  const webhookLines = (logs: string[]) => logs.map((line) => JSON.parse(line) as Line).filter((line) => line.component === "webhook" && line.msg === "webhook");

  test("accepted: instance, operator, commit, reconciler, result, jobs, status at info", async () => {
    const { app, logs } = buildTestApp();
    expect((await app.handle(post("/gitopsphase", JSON.stringify(succeeded())))).status).toBe(202);
    expect(webhookLines(logs)).toEqual([
      expect.objectContaining({
        level: "info",
        instance: "apps-dev",
        operator: "FLUX",
        commit: COMMIT,
        reconciler: "Kustomization/flux-system/apps-dev",
        result: "accepted",
        jobs: expect.any(Number),
        status: 202,
      }),
    ]);
    expect(webhookLines(logs)[0]!.jobs).toBeGreaterThan(0);
  });

  const refusals: Array<[string, number, string, () => ReturnType<typeof buildTestApp>, () => Request]> = [
    ["unsupported_media_type", 415, "send application/json", () => buildTestApp(), () => post("/gitopsphase", "{}", { "content-type": "text/plain" })],
    ["too_large", 413, "server.maxBodyBytes", () => buildTestApp({ maxBodyBytes: 16 }), () => post("/gitopsphase", JSON.stringify(succeeded()))],
    ["unauthorized", 401, "authentication failed", () => buildTestApp({ auth: { hmacKeys: [], bearerTokens: ["the-token"] } }), () => post("/gitopsphase", JSON.stringify(succeeded()))],
    ["invalid", 400, "malformed JSON", () => buildTestApp(), () => post("/gitopsphase", "{")],
    ["invalid", 400, "must be a JSON object", () => buildTestApp(), () => post("/gitopsphase", "[]")],
    ["unknown_instance", 404, 'no instance named "ghost"', () => buildTestApp(), () => post("/gitopsphase/ghost", JSON.stringify(succeeded()))],
    ["ignored", 200, "carry no git deployment state", () => buildTestApp(), () => post("/gitopsphase", JSON.stringify({ ...succeeded(), involvedObject: { ...succeeded().involvedObject, kind: "HelmRelease" } }))],
  ];
  for (const [result, status, reason, makeApp, request] of refusals) {
    test(`${result} (${status}): one info line with the reason`, async () => {
      const { app, logs } = makeApp();
      expect((await app.handle(request())).status).toBe(status);
      const lines = webhookLines(logs);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: "info", result, status, jobs: 0 });
      expect(lines[0]!.reason).toContain(reason);
      expect(typeof lines[0]!.instance).toBe("string");
      expect(lines[0]!.instance).not.toBe("ghost"); // a name nobody configured is not an instance
    });
  }

  test("unavailable while draining: one info line with the reason", async () => {
    const { app, logs, setDraining } = buildTestApp();
    setDraining(true);
    expect((await app.handle(post("/gitopsphase/apps-dev", JSON.stringify(succeeded())))).status).toBe(503);
    expect(webhookLines(logs)).toEqual([expect.objectContaining({ level: "info", result: "unavailable", status: 503, instance: "apps-dev", operator: "FLUX", reason: expect.stringContaining("shutting down") })]);
  });

  test("a reason is cut, so a huge instance name in a payload is not a huge line", async () => {
    const { app, logs } = buildTestApp();
    const name = "x".repeat(10_000);
    const event = { ...succeeded(), metadata: { ...succeeded().metadata, gitops_connector_config_name: name } };
    expect((await app.handle(post("/gitopsphase", JSON.stringify(event)))).status).toBe(404);
    expect(webhookLines(logs)[0]!.reason.length).toBeLessThanOrEqual(300);
  });

  test("accepted and not finished: the line says outcome pending", async () => {
    const { app, logs } = buildTestApp();
    expect((await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent("Progressing", "Deployment/default/podinfo configured")))))).toHaveProperty("status", 202);
    expect((await app.handle(post("/gitopsphase", JSON.stringify(succeeded()))))).toHaveProperty("status", 202);
    expect(webhookLines(logs).map((line) => line.outcome)).toEqual(["pending", "succeeded"]);
  });

  test("the payload line names the instance that handled it, also when it was routed by the payload", async () => {
    const { app, logs } = buildTestApp({ instances: [githubInstance(), githubInstance({ name: "apps-prod" })] });
    const routed = { ...succeeded(), metadata: { ...succeeded().metadata, gitops_connector_config_name: "apps-prod" } };
    expect((await app.handle(post("/gitopsphase", JSON.stringify(routed))))).toHaveProperty("status", 202);
    expect((await app.handle(post("/gitopsphase/apps-dev", JSON.stringify(succeeded()))))).toHaveProperty("status", 202);
    const payloadLines = logs.map((line) => JSON.parse(line) as Line).filter((line) => line.msg === "webhook payload");
    expect(payloadLines.map((line) => line.instance)).toEqual(["apps-prod", "apps-dev"]);
  });

  test("the payload is a debug line of its own, never in the info line", async () => {
    const { app, logs } = buildTestApp();
    await app.handle(post("/gitopsphase", JSON.stringify(succeeded())));
    const payloadLines = logs.map((line) => JSON.parse(line) as Line).filter((line) => line.msg === "webhook payload");
    expect(payloadLines).toEqual([expect.objectContaining({ level: "debug", component: "webhook", payload: expect.objectContaining({ reportingInstance: MARKER_REPORTER }) })]);
    for (const line of webhookLines(logs)) expect(JSON.stringify(line)).not.toContain(MARKER_REPORTER);
  });
});

// ---------------------------------------------------------------------------------------------- daemon

let api: FakeApi;
const children: RunningChild[] = [];
beforeAll(() => {
  api = startFakeApi();
});
afterAll(() => api.stop());
afterEach(() => {
  for (const child of children.splice(0)) child.proc.kill("SIGKILL");
  api.reset();
});

function writeConfig(top = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-logs-"));
  const path = join(dir, "config.yaml");
  writeFileSync(
    path,
    `${top}
server: { host: 127.0.0.1 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200, timeoutMs: 10000 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    pat: "\${PAT}"
    subscribers: { spektate: "${api.url}/api/flux" }
`,
  );
  return path;
}

async function postTo(url: string, event: unknown): Promise<number> {
  const response = await fetch(`${url}/gitopsphase`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
  await response.body?.cancel();
  return response.status;
}

const workerLines = (lines: readonly string[]) => jsonLines(lines).filter((line) => line.component === "worker");

describe("the daemon's delivery lines and payloads", () => {
  /** One delivered event (its status answered 503 first) and one whose status is refused 422 (dead). */
  async function runDeliveries(env: Record<string, string> = {}) {
    api.failNext(1, { status: 503, body: { message: "Service Unavailable" } }, (r) => isStatusPost(r) && (r.body as { context: string }).context === "kustomization/apps-dev");
    api.setHandler((request) =>
      isStatusPost(request) && (request.body as { context: string }).context === "kustomization/broken"
        ? { status: 422, body: { message: "Validation Failed" } }
        : undefined,
    );
    const daemon = await startDaemon({ configPath: writeConfig(), env: { PAT, ...env }, dryRun: false });
    children.push(daemon);
    expect(await postTo(daemon.url, succeeded())).toBe(202);
    expect(await postTo(daemon.url, succeeded("broken"))).toBe(202);
    // Two subscriber posts and the main status (after its retry) delivered; the broken status dead.
    const done = () => {
      const worker = workerLines(daemon.lines);
      return worker.filter((line) => line.outcome === "delivered").length === 3 && worker.some((line) => line.outcome === "dead");
    };
    await daemon.waitForLine(() => done(), 10_000);
    return daemon;
  }

  test("info: one line per attempt with id, kind, target, status, duration, attempt; no payload anywhere", async () => {
    const daemon = await runDeliveries();
    const webhook = jsonLines(daemon.lines).filter((line) => line.msg === "webhook");
    expect(webhook).toHaveLength(2);
    for (const line of webhook) expect(line).toMatchObject({ level: "info", instance: "apps-dev", operator: "FLUX", commit: COMMIT, result: "accepted", jobs: 2 });

    const worker = workerLines(daemon.lines);
    expect(worker).toHaveLength(5); // 2 subscriber posts, main status retried + delivered, broken status dead
    const host = api.url.replace(/^http:\/\//, "");
    const base = { jobId: expect.any(Number), instance: "apps-dev", commit: COMMIT, durationMs: expect.any(Number) };
    const retried = worker.find((line) => line.outcome === "retried")!;
    // A copy: bun's toMatchObject writes its asymmetric matchers into the object it checks.
    expect({ ...retried }).toMatchObject({ ...base, level: "warn", kind: "status", target: `github:${host}/repos/org/manifests`, status: 503, attempt: 1, nextAttemptInMs: expect.any(Number) });
    expect(retried.nextAttemptInMs).toBeGreaterThanOrEqual(50);
    const delivered = worker.filter((line) => line.outcome === "delivered");
    expect(delivered).toContainEqual(expect.objectContaining({ ...base, level: "info", kind: "status", jobId: retried.jobId, status: 201, attempt: 2 }));
    expect(delivered.filter((line) => line.kind === "subscriber")).toEqual([
      expect.objectContaining({ ...base, level: "info", target: "subscriber:spektate", status: 200, attempt: 1 }),
      expect.objectContaining({ ...base, level: "info", target: "subscriber:spektate", status: 200, attempt: 1 }),
    ]);
    const dead = worker.find((line) => line.outcome === "dead")!;
    expect(dead).toMatchObject({ ...base, level: "error", kind: "status", status: 422, attempt: 1, error: expect.stringContaining("Validation Failed") });
    for (const line of worker) expect(line.payload).toBeUndefined();

    expect(jsonLines(daemon.lines).filter((line) => line.level === "debug")).toEqual([]);
    for (const line of daemon.lines) {
      expect(line).not.toContain(MARKER_REPORTER);
      expect(line).not.toContain(MARKER_MESSAGE);
      expect(line).not.toContain(PAT);
    }
  }, 20_000);

  test("debug (LOG_LEVEL): the webhook payload and each job's payload appear, tokens still do not", async () => {
    const daemon = await runDeliveries({ LOG_LEVEL: "debug" });
    const lines = jsonLines(daemon.lines);
    expect(lines.filter((line) => line.msg === "webhook payload")).toEqual([
      expect.objectContaining({ level: "debug", payload: expect.objectContaining({ reportingInstance: MARKER_REPORTER }) }),
      expect.objectContaining({ level: "debug", payload: expect.objectContaining({ reportingInstance: MARKER_REPORTER }) }),
    ]);
    const delivering = lines.filter((line) => line.msg === "delivering");
    expect(delivering.length).toBe(5);
    expect(delivering.some((line) => JSON.stringify(line.payload).includes(MARKER_MESSAGE))).toBe(true);
    for (const line of daemon.lines) expect(line).not.toContain(PAT);
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------- level

describe("log level: --log-level, then LOG_LEVEL, then config logLevel, then info", () => {
  async function serve(configPath: string, env: Record<string, string> = {}, args: string[] = []) {
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-logs-data-"));
    const child = spawnConnector(["serve", "--dry-run", "--port", "0", "--config", configPath, "--data-dir", dataDir, ...args], { PAT, ...env });
    children.push(child);
    const listening = await Promise.race([
      child.waitForLine((line) => line.includes('"msg":"gitops-connector listening"')),
      child.exited.then((code) => Promise.reject(new Error(`exited with ${code}:\n${child.lines.join("\n")}`))),
    ]);
    return { ...child, url: (JSON.parse(listening) as { url: string }).url };
  }

  /** Posts one webhook; whether its debug payload line was logged (it comes before the info line). */
  async function logsDebug(daemon: RunningChild & { url: string }): Promise<boolean> {
    const before = daemon.lines.length;
    expect(await postTo(daemon.url, succeeded())).toBe(202);
    await daemon.waitForLine((line) => daemon.lines.indexOf(line) >= before && line.includes('"msg":"webhook"'));
    return daemon.lines.slice(before).some((line) => line.includes('"msg":"webhook payload"'));
  }

  const cases: Array<[string, string, Record<string, string>, string[], boolean]> = [
    ["config logLevel debug", "logLevel: debug", {}, [], true],
    ["LOG_LEVEL=info over config debug", "logLevel: debug", { LOG_LEVEL: "info" }, [], false],
    ["LOG_LEVEL=debug over config info", "logLevel: info", { LOG_LEVEL: "debug" }, [], true],
    ["--log-level info over LOG_LEVEL=debug", "", { LOG_LEVEL: "debug" }, ["--log-level", "info"], false],
    ["--log-level debug over config info", "logLevel: info", {}, ["--log-level", "debug"], true],
    ["an empty LOG_LEVEL is unset", "logLevel: debug", { LOG_LEVEL: "" }, [], true],
    ["default info", "", {}, [], false],
  ];
  for (const [name, top, env, args, debug] of cases) {
    test(`${name} → debug lines ${debug ? "on" : "off"}`, async () => {
      expect(await logsDebug(await serve(writeConfig(top), env, args))).toBe(debug);
    }, 15_000);
  }

  test("a bad level is a usage error naming where it came from", async () => {
    for (const [env, args, source] of [[{ LOG_LEVEL: "loud" }, [], "LOG_LEVEL"], [{}, ["--log-level", "loud"], "--log-level"]] as const) {
      const child = spawnConnector(["serve", "--dry-run", "--config", writeConfig(), ...args], { PAT, ...env });
      expect(await child.exited).toBe(2);
      expect(child.lines.join("\n")).toContain(`${source} must be one of`);
    }
  }, 15_000);

  test("a reload applies a new config logLevel at once, unless the CLI set the level", async () => {
    const configPath = writeConfig("logLevel: info");
    const daemon = await serve(configPath);
    expect(await logsDebug(daemon)).toBe(false);
    writeFileSync(configPath, (await Bun.file(configPath).text()).replace("logLevel: info", "logLevel: debug"));
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes('"msg":"log level changed"') && line.includes('"logLevel":"debug"'));
    expect(await logsDebug(daemon)).toBe(true);

    const pinnedPath = writeConfig("logLevel: info");
    const pinned = await serve(pinnedPath, { LOG_LEVEL: "info" });
    writeFileSync(pinnedPath, (await Bun.file(pinnedPath).text()).replace("logLevel: info", "logLevel: debug"));
    pinned.proc.kill("SIGHUP");
    await pinned.waitForLine((line) => line.includes('"msg":"config reloaded"'));
    expect(await logsDebug(pinned)).toBe(false);
    expect(pinned.lines.some((line) => line.includes("log level changed"))).toBe(false);
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------- the stdout writer

describe("stdout: the lines of a turn in one write", () => {
  test("lines logged in one turn reach the sink together once the turn ends; after close, each at once", async () => {
    const writes: string[] = [];
    const buffered = bufferByTurn((text) => writes.push(text));
    buffered.write("a\n");
    buffered.write("b\n");
    buffered.write("c\n");
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["a\nb\nc\n"]);
    buffered.write("d\n");
    buffered.close();
    buffered.write("e\n");
    expect(writes).toEqual(["a\nb\nc\n", "d\n", "e\n"]);
  });

  test("a process that exits, or crashes, in the turn it logged still writes every line, its exit handlers' too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "logs-exit-"));
    const script = join(dir, "exit.ts");
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(join(import.meta.dir, "../../src/observability/logger.ts"))};
const log = createLogger();
process.on("exit", () => log.info("exit handler"));
log.info("first");
if (process.argv[2] === "crash") { log.error("before the crash"); throw new Error("boom"); }
log.info("before exit");
process.exit(3);
`,
    );
    for (const [mode, code, last] of [["exit", 3, "before exit"], ["crash", 1, "before the crash"]] as const) {
      const child = Bun.spawnSync([process.execPath, script, mode], { stdout: "pipe", stderr: "pipe" });
      expect(child.exitCode).toBe(code);
      expect(jsonLines(child.stdout.toString().split("\n")).map((line) => line.msg)).toEqual(["first", last, "exit handler"]);
    }
  });
});
