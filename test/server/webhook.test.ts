/**
 * Every status code of DESIGN §4, produced through the real Elysia app (`app.handle`).
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { IntakeFullError } from "../../src/core/intake.ts";
import { azureInstance, githubInstance } from "../support/instances.ts";
import { buildTestApp, post } from "../support/app.ts";

const COMMIT = "8d2f7a4c1b9e3f6a5d0c2e7b4a1f9d8c6e3b2a10";

function fluxEvent(overrides: Record<string, unknown> = {}, metadata: Record<string, string> = {}) {
  return {
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps-dev", uid: "0c6e0a77-0f7e-4b1c-9c39-2d8c2d1f3c11", apiVersion: "kustomize.toolkit.fluxcd.io/v1" },
    severity: "info",
    timestamp: "2026-11-20T10:15:00Z",
    message: "Reconciliation finished in 1.2s, next run in 10m0s",
    reason: "ReconciliationSucceeded",
    metadata: { revision: `main@sha1:${COMMIT}`, ...metadata },
    reportingController: "kustomize-controller",
    reportingInstance: "kustomize-controller-7f8c9d-abcde",
    ...overrides,
  };
}

const argoEvent = {
  commitid: COMMIT,
  phase: "Succeeded",
  sync_status: "Synced",
  health: "Healthy",
  message: "successfully synced (all tasks run)",
  resources: [{ kind: "Deployment", name: "web", status: "Synced", health: { status: "Healthy" } }],
  app: "web",
};

async function answer(response: Response) {
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

describe("POST /gitopsphase", () => {
  test("202 accepted names the instance, the commit and the number of jobs", async () => {
    const { app, dryRunJobs } = buildTestApp();
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()))));
    expect(status).toBe(202);
    expect(body).toEqual({ accepted: true, instance: "apps-dev", commit: COMMIT, jobs: 3 });
    expect(dryRunJobs().map((entry) => entry.job.kind)).toEqual(["status", "subscriber", "orchestrator"]);
  });

  test("a repeat that plans nothing is still 202 with jobs: 0", async () => {
    const { app } = buildTestApp();
    await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent())));
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()))));
    expect(status).toBe(202);
    expect(body.jobs).toBe(0);
  });

  test("a missing Content-Type is accepted when the body is JSON (Argo CD sends none unless told)", async () => {
    const { app } = buildTestApp({ instances: [azureInstance()] });
    const response = await app.handle(new Request("http://localhost/gitopsphase", { method: "POST", body: new TextEncoder().encode(JSON.stringify(argoEvent)) }));
    expect(response.status).toBe(202);
  });

  test("200 ignored, with the reason, for events that carry no deployment state", async () => {
    const { app } = buildTestApp();
    const helmRelease = fluxEvent({ involvedObject: { kind: "HelmRelease", namespace: "default", name: "podinfo" } }, { revision: "6.5.4" });
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(helmRelease))));
    expect(status).toBe(200);
    expect(body.instance).toBe("apps-dev");
    expect(String(body.ignored)).toContain("HelmRelease");
  });

  test("400 on malformed JSON", async () => {
    const { app } = buildTestApp();
    const { status, body } = await answer(await app.handle(post("/gitopsphase", '{"involvedObject": ')));
    expect(status).toBe(400);
    expect(String(body.error)).toStartWith("malformed JSON");
  });

  test("400 on a JSON value that is not an object", async () => {
    const { app } = buildTestApp();
    for (const text of ["[]", "null", "42", '"text"']) {
      const { status, body } = await answer(await app.handle(post("/gitopsphase", text)));
      expect(status).toBe(400);
      expect(String(body.error)).toContain("JSON object");
    }
  });

  test("400 names the field that failed for a payload that fits neither operator", async () => {
    const { app } = buildTestApp();
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent({ involvedObject: { kind: 7, name: "x" } })))));
    expect(status).toBe(400);
    expect(String(body.error)).toContain("involvedObject.kind");
  });

  test("404 for an instance named in the path that does not exist", async () => {
    const { app } = buildTestApp();
    const { status, body } = await answer(await app.handle(post("/gitopsphase/nope", JSON.stringify(fluxEvent()))));
    expect(status).toBe(404);
    expect(String(body.error)).toContain('"nope"');
    expect(String(body.error)).toContain("apps-dev");
  });

  test("404 for an instance named in Flux metadata or the Argo body that does not exist", async () => {
    const { app } = buildTestApp();
    const flux = await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent({}, { gitops_connector_config_name: "ghost" }))));
    expect(flux.status).toBe(404);
    const argo = await app.handle(post("/gitopsphase", JSON.stringify({ ...argoEvent, gitops_connector_config_name: "ghost" })));
    expect(argo.status).toBe(404);
  });

  test("404 when several instances exist, none is named and none is the default", async () => {
    const { app } = buildTestApp({ instances: [githubInstance(), azureInstance()] });
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()))));
    expect(status).toBe(404);
    expect(String(body.error)).toContain("default: true");
  });

  test("routing order: path, then payload name, then the only instance, then the default", async () => {
    const argo = azureInstance({ name: "argo" });
    const flux = githubInstance({ name: "flux", default: true });
    const { app } = buildTestApp({ instances: [argo, flux] });
    expect((await answer(await app.handle(post("/gitopsphase/argo", JSON.stringify(argoEvent))))).body.instance).toBe("argo");
    expect((await answer(await app.handle(post("/gitopsphase", JSON.stringify({ ...argoEvent, gitops_connector_config_name: "argo" }))))).body.instance).toBe("argo");
    expect((await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent({}, { gitops_connector_config_name: "flux" })))))).body.instance).toBe("flux");
    // Argo CD renders a missing annotation as "<no value>": that names nothing, so the default takes it.
    expect((await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent({}, { gitops_connector_config_name: "<no value>" })))))).body.instance).toBe("flux");
  });

  test("413 when Content-Length is over the limit, before reading", async () => {
    const { app } = buildTestApp({ maxBodyBytes: 64 });
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()))));
    expect(status).toBe(413);
    expect(String(body.error)).toContain("64 bytes");
  });

  test("413 when a chunked body without Content-Length passes the limit", async () => {
    const { app } = buildTestApp({ maxBodyBytes: 1024 });
    const chunk = new TextEncoder().encode(" ".repeat(512));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 1;
        if (sent > 100) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await app.handle(post("/gitopsphase", stream));
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(100); // stopped reading early
  });

  test("415 for an explicit non-JSON Content-Type", async () => {
    const { app } = buildTestApp();
    const { status, body } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()), { "content-type": "text/plain" })));
    expect(status).toBe(415);
    expect(String(body.error)).toContain("application/json");
  });

  test("503 with Retry-After while draining", async () => {
    const { app, setDraining } = buildTestApp();
    setDraining(true);
    const { status, headers } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()))));
    expect(status).toBe(503);
    expect(Number(headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("503 with Retry-After when the intake is full", async () => {
    const { app } = buildTestApp({
      intake: (base) => ({
        ...base,
        submit() {
          throw new IntakeFullError("outbox full (maxDepth 5 pending jobs); retry later", 7);
        },
      }),
    });
    const { status, body, headers } = await answer(await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent()))));
    expect(status).toBe(503);
    expect(headers.get("retry-after")).toBe("7");
    expect(String(body.error)).toContain("maxDepth");
  });
});

describe("webhook authentication", () => {
  const hmacKeys = ["old-key-being-rotated-out", "current-hmac-key"];
  const bearerTokens = ["argo-bearer-token-1"];
  const body = JSON.stringify(fluxEvent());
  const sign = (algorithm: string, key: string, text = body) => `${algorithm}=${createHmac(algorithm, key).update(text).digest("hex")}`;

  test.each(["sha224", "sha256", "sha384", "sha512"])("accepts a valid %s X-Signature", async (algorithm) => {
    const { app } = buildTestApp({ auth: { hmacKeys, bearerTokens: [] } });
    const response = await app.handle(post("/gitopsphase", body, { "content-type": "application/json", "x-signature": sign(algorithm, "current-hmac-key") }));
    expect(response.status).toBe(202);
  });

  test("accepts every key in rotation", async () => {
    const { app } = buildTestApp({ auth: { hmacKeys, bearerTokens: [] } });
    const response = await app.handle(post("/gitopsphase", body, { "content-type": "application/json", "x-signature": sign("sha256", "old-key-being-rotated-out") }));
    expect(response.status).toBe(202);
  });

  test.each([
    ["no signature", {}],
    ["a wrong key", { "x-signature": sign("sha256", "wrong") }],
    ["a signature of another body", { "x-signature": sign("sha256", "current-hmac-key", `${body} `) }],
    ["an unsupported algorithm", { "x-signature": `md5=${createHmac("md5", "current-hmac-key").update(body).digest("hex")}` }],
    ["garbage", { "x-signature": "sha256=zz" }],
    ["a wrong bearer token", { authorization: "Bearer nope" }],
  ])("401 with %s", async (_, headers) => {
    const { app } = buildTestApp({ auth: { hmacKeys, bearerTokens } });
    const { status, body: answerBody } = await answer(await app.handle(post("/gitopsphase", body, { "content-type": "application/json", ...headers })));
    expect(status).toBe(401);
    expect(String(answerBody.error)).toContain("authentication failed");
  });

  test("the signature is checked on the raw bytes, before JSON parsing", async () => {
    const { app } = buildTestApp({ auth: { hmacKeys, bearerTokens: [] } });
    const malformed = "{not json";
    expect((await app.handle(post("/gitopsphase", malformed))).status).toBe(401);
    expect((await app.handle(post("/gitopsphase", malformed, { "content-type": "application/json", "x-signature": sign("sha256", "current-hmac-key", malformed) }))).status).toBe(400);
  });

  test("a valid bearer token is enough when HMAC is configured too", async () => {
    const { app } = buildTestApp({ auth: { hmacKeys, bearerTokens } });
    const response = await app.handle(post("/gitopsphase", body, { "content-type": "application/json", authorization: "Bearer argo-bearer-token-1" }));
    expect(response.status).toBe(202);
  });
});

describe("a sender that goes away mid-body", () => {
  test("is a debug line with result client_gone, not an error counted as internal_error", async () => {
    const { app, logs } = buildTestApp();
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('{"involvedObject":'));
        controller.error(new Error("socket hang up"));
      },
    });
    const response = await app.handle(post("/gitopsphase", body));
    expect(response.status).toBe(400);
    const lines = logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.level === "error")).toEqual([]);
    expect(lines.filter((line) => line.msg === "webhook")).toEqual([expect.objectContaining({ level: "debug", result: "client_gone" })]);
  });
});

describe("a sender that goes away mid-body, on a real socket", () => {
  /** Sends the head of a request declaring `declared` bytes, then `sent` of them, then closes. */
  async function sendCutOff(port: number, declared: number, sent: string) {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.write(`POST /gitopsphase HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n${sent}`);
    socket.end();
  }

  test("with a Content-Length it never reaches: nothing is stored, the line says client_gone", async () => {
    let submitted = 0;
    const { app, logs } = buildTestApp({ intake: (base) => ({ ...base, submit: (...args) => ((submitted += 1), base.submit(...args)) }) });
    const handled = Promise.withResolvers<void>();
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => app.handle(request).finally(() => handled.resolve()) });
    try {
      const event = JSON.stringify(fluxEvent());
      await sendCutOff(server.port!, event.length + 100, event);
      await handled.promise;
      const lines = logs.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.filter((line) => line.msg === "webhook")).toEqual([expect.objectContaining({ result: "client_gone" })]);
      expect(submitted).toBe(0);
    } finally {
      server.stop(true);
    }
  });
});

describe("per-instance webhook keys", () => {
  const KEY_A = "instance-a-hmac-key";
  const KEY_B = "instance-b-hmac-key";
  const GLOBAL = "global-hmac-key";
  const instances = [
    githubInstance({ name: "apps-a", auth: { hmacKeys: [KEY_A], bearerTokens: [] } }),
    githubInstance({ name: "apps-b", auth: { hmacKeys: [KEY_B], bearerTokens: [] } }),
    githubInstance({ name: "apps-shared", default: true }),
  ];
  const app = () => buildTestApp({ instances, auth: { hmacKeys: [GLOBAL], bearerTokens: [] } }).app;
  const signed = (key: string, text: string) => ({ "content-type": "application/json", "x-signature": `sha256=${createHmac("sha256", key).update(text).digest("hex")}` });
  const forA = JSON.stringify(fluxEvent({}, { gitops_connector_config_name: "apps-a" }));
  const unnamed = JSON.stringify(fluxEvent());

  test("a body signed with instance A's key posted to /gitopsphase/apps-b → 401", async () => {
    expect((await app().handle(post("/gitopsphase/apps-b", forA, signed(KEY_A, forA)))).status).toBe(401);
    expect((await app().handle(post("/gitopsphase/apps-a", forA, signed(KEY_A, forA)))).status).toBe(202);
  });

  test("routed by the payload, the request verifies against the routed instance's keys", async () => {
    expect((await app().handle(post("/gitopsphase", forA, signed(KEY_A, forA)))).status).toBe(202);
    expect((await app().handle(post("/gitopsphase", forA, signed(KEY_B, forA)))).status).toBe(401);
    expect((await app().handle(post("/gitopsphase", forA, signed(GLOBAL, forA)))).status).toBe(401); // A's keys replace the global ones
  });

  test("an instance without keys of its own takes the global ones", async () => {
    expect((await app().handle(post("/gitopsphase", unnamed, signed(GLOBAL, unnamed)))).status).toBe(202);
    expect((await app().handle(post("/gitopsphase", unnamed, signed(KEY_A, unnamed)))).status).toBe(401);
    expect((await app().handle(post("/gitopsphase/apps-shared", unnamed, signed(GLOBAL, unnamed)))).status).toBe(202);
  });

  test("before routing, refusals need the global keys: no 400 or 404 for an unauthenticated caller", async () => {
    const ghost = JSON.stringify(fluxEvent({}, { gitops_connector_config_name: "ghost" }));
    expect((await app().handle(post("/gitopsphase", ghost, signed("wrong", ghost)))).status).toBe(401);
    expect((await app().handle(post("/gitopsphase", ghost, signed(GLOBAL, ghost)))).status).toBe(404);
    expect((await app().handle(post("/gitopsphase", "{broken", signed("wrong", "{broken")))).status).toBe(401);
    expect((await app().handle(post("/gitopsphase", "{broken", signed(GLOBAL, "{broken")))).status).toBe(400);
  });
});

describe("per-instance webhook keys without global ones", () => {
  test("when every instance has keys of its own, an unauthenticated caller learns no instance name from a 404", async () => {
    const { app } = buildTestApp({ instances: [githubInstance({ name: "apps-a", auth: { hmacKeys: ["key-a-0123456"], bearerTokens: [] } }), githubInstance({ name: "apps-b", auth: { hmacKeys: [], bearerTokens: ["token-b-0123456"] } })] });
    const ghost = JSON.stringify(fluxEvent({}, { gitops_connector_config_name: "ghost" }));
    const anonymous = await app.handle(post("/gitopsphase", ghost));
    expect(anonymous.status).toBe(401);
    expect(JSON.stringify(await anonymous.json())).not.toContain("apps-a");
    expect((await app.handle(post("/gitopsphase", ghost, { "content-type": "application/json", authorization: "Bearer token-b-0123456" }))).status).toBe(404);
  });
});

describe("other routes", () => {
  test("GET /healthz is 200", async () => {
    const { app } = buildTestApp();
    expect((await app.handle(new Request("http://localhost/healthz"))).status).toBe(200);
  });

  test("GET /readyz is 200 when ready and 503 while draining", async () => {
    const { app, setDraining } = buildTestApp();
    expect((await app.handle(new Request("http://localhost/readyz"))).status).toBe(200);
    setDraining(true);
    const response = await app.handle(new Request("http://localhost/readyz"));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toContain("draining");
  });

  test("GET /metrics is Prometheus text and counts webhooks by result", async () => {
    const { app } = buildTestApp();
    await app.handle(post("/gitopsphase", JSON.stringify(fluxEvent())));
    await app.handle(post("/gitopsphase", "{"));
    const response = await app.handle(new Request("http://localhost/metrics"));
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toContain('gitops_connector_webhooks_total{operator="FLUX",instance="apps-dev",result="accepted"} 1');
    expect(text).toContain('gitops_connector_webhooks_total{operator="unknown",instance="unknown",result="invalid"} 1');
    expect(text).toMatch(/gitops_connector_build_info\{version="\d+\.\d+\.\d+"\} 1/);
  });

  test("an unknown route is a JSON 404", async () => {
    const { app } = buildTestApp();
    const response = await app.handle(new Request("http://localhost/nowhere"));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toContain("no such route");
  });
});
