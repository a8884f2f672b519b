/**
 * The deployments API and page through the real daemon (the compiled binary under GITOPS_CONNECTOR_BIN), dry run:
 * what webhooks record shows in GET /api/deployments (checked against schemas/), one event per change over SSE,
 * Last-Event-ID resumes after a restart, the page renders it escaped, and ui.enabled / ui.port do what they say.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { schemaErrors } from "../support/api-schemas.ts";
import { startDaemon } from "../support/daemon.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "flux");
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));
const COMMIT = "5e1f0c2a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e";

function writeConfig(extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "deployments-daemon-"));
  const path = join(dir, "config.yaml");
  writeFileSync(path, `server: { host: 127.0.0.1 }
${extra}
instances:
  - name: apps-dev
    environment: dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/org
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
  - name: apps-prod
    environment: prod
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/org
    gitHubGitOpsManifestsRepoName: manifests
`);
  return path;
}

const daemons: { proc: { kill(): void } }[] = [];
afterAll(() => {
  for (const daemon of daemons) daemon.proc.kill();
});

async function start(configPath: string, dataDir?: string) {
  const daemon = await startDaemon({ configPath, ...(dataDir ? { dataDir } : {}) });
  daemons.push(daemon);
  return daemon;
}

async function flux(url: string, instance: string, file: string, commit = COMMIT, message?: string) {
  const event = fixture(file);
  const response = await fetch(`${url}/gitopsphase/${instance}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...event, ...(message ? { message } : {}), metadata: { ...event.metadata, revision: `main@sha1:${commit}`, gitops_connector_config_name: instance } }),
  });
  expect(response.status).toBe(202);
}

async function getJson(url: string) {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as any };
}

/** Reads Server-Sent Events from a stream; `next()` resolves with the next event (id, event, data). */
function sse(url: string, lastEventId?: string) {
  const controller = new AbortController();
  const events: { id: string; event: string; data: any }[] = [];
  const waiting: ((event: { id: string; event: string; data: any }) => void)[] = [];
  const opened = fetch(url, { signal: controller.signal, headers: lastEventId ? { "last-event-id": lastEventId } : {} }).then(async (response) => {
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.split("\n").find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
          if (field("data") === undefined) continue;
          const event = { id: field("id") ?? "", event: field("event") ?? "message", data: JSON.parse(field("data")!) };
          const waiter = waiting.shift();
          if (waiter) waiter(event);
          else events.push(event);
        }
      }
    })();
  });
  return {
    opened,
    next(timeoutMs = 2_000): Promise<{ id: string; event: string; data: any }> {
      const queued = events.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((event) => (clearTimeout(timer), resolve(event)));
      });
    },
    close: () => controller.abort(),
  };
}

describe("GET /api/deployments and /api/events", () => {
  test("webhooks show up in the list (as the schema says), live over SSE, and after a restart SSE resumes from Last-Event-ID", async () => {
    const configPath = writeConfig();
    const daemon = await start(configPath);
    await flux(daemon.url, "apps-dev", "kustomization-progressing.json");
    let list = await getJson(`${daemon.url}/api/deployments`);
    expect(list.status).toBe(200);
    expect(schemaErrors("deployments", list.body)).toEqual([]);
    expect(list.body.deployments).toMatchObject([{ instance: "apps-dev", environment: "dev", commit: COMMIT, state: "progressing", commitUrl: `https://github.com/org/manifests/commit/${COMMIT}` }]);

    const stream = sse(`${daemon.url}/api/events`);
    await stream.opened;
    const sent = Date.now();
    await flux(daemon.url, "apps-dev", "kustomization-reconciliation-succeeded.json");
    const event = await stream.next();
    expect(Date.now() - sent).toBeLessThan(1_000);
    expect(event.event).toBe("deployment");
    expect(event.data).toMatchObject({ instance: "apps-dev", commit: COMMIT, state: "succeeded", healthy: { succeeded: 1, total: 1 } });
    expect(schemaErrors("deployment", event.data)).toEqual([]);
    stream.close();

    // The dry run delivers the jobs; the orchestrator's delivery is the notification.
    for (;;) {
      const one = await getJson(`${daemon.url}/api/deployments/apps-dev/${COMMIT}`);
      if (one.body.notification) {
        expect(one.body.notification).toMatchObject({ outcome: "succeeded" });
        expect(schemaErrors("deployment", one.body)).toEqual([]);
        break;
      }
      await Bun.sleep(20);
    }
    list = await getJson(`${daemon.url}/api/deployments?env=prod`);
    expect(list.body.deployments).toEqual([]);

    // A change the client misses while the daemon restarts reaches it through Last-Event-ID.
    const lastSeen = event.id;
    daemon.proc.kill();
    await daemon.exited;
    const again = await start(configPath, daemon.dataDir);
    await flux(again.url, "apps-prod", "kustomization-health-check-failed.json");
    const resumed = sse(`${again.url}/api/events`, lastSeen);
    await resumed.opened;
    const seen: any[] = [];
    for (;;) {
      const next = await resumed.next();
      seen.push(next.data);
      if (next.data.instance === "apps-prod") break;
    }
    expect(seen.at(-1)).toMatchObject({ instance: "apps-prod", environment: "prod", state: "failed" });
    expect(Number(seen.length)).toBeGreaterThanOrEqual(1);
    resumed.close();
  });

  test("bad queries are 400, an unknown deployment 404", async () => {
    const daemon = await start(writeConfig());
    expect((await getJson(`${daemon.url}/api/deployments?limit=0`)).status).toBe(400);
    expect((await getJson(`${daemon.url}/api/deployments?state=great`)).body.error).toContain("state \"great\" is not one of");
    expect((await getJson(`${daemon.url}/api/deployments?before=yesterday`)).status).toBe(400);
    expect((await getJson(`${daemon.url}/api/deployments/apps-dev/${"0".repeat(40)}`)).status).toBe(404);
    const promotions = await getJson(`${daemon.url}/api/promotions`);
    expect(promotions).toEqual({ status: 200, body: { promotions: [] } });
    expect(schemaErrors("promotions", promotions.body)).toEqual([]);
  });
});

describe("the page", () => {
  test("shows each deployment in its environment's column, with words, escaped; a static snapshot without JavaScript", async () => {
    const daemon = await start(writeConfig());
    await flux(daemon.url, "apps-dev", "kustomization-reconciliation-succeeded.json");
    await flux(daemon.url, "apps-prod", "kustomization-unknown-reason-error.json", COMMIT, "failed to decrypt <img src=x onerror=alert(1)> & more");
    const response = await fetch(`${daemon.url}/`);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await response.text();
    expect(html).toStartWith("<!doctype html>");
    expect(html).toContain(`<a href="https://github.com/org/manifests/commit/${COMMIT}"><code>${COMMIT.slice(0, 7)}</code></a>`);
    expect(html).toMatch(/<th scope="col">dev<\/th><th scope="col">prod<\/th>/);
    expect(html).toMatch(/data-instance="apps-dev" data-state="succeeded"><span class="word">succeeded<\/span><span class="detail">1\/1 healthy<\/span>/);
    expect(html).toContain('data-state="failed"><span class="word">failed</span>');
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("failed to decrypt &lt;img src=x onerror=alert(1)> &amp; more"); // text: & and < escaped
    const filtered = await (await fetch(`${daemon.url}/?state=failed`)).text();
    expect(filtered).toContain('<option value="failed" selected>failed</option>');
    const live = await (await fetch(`${daemon.url}/?fragment=live`)).text();
    expect(live).toStartWith('<div id="live"');
    expect((await fetch(`${daemon.url}/assets/live.js`)).headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  });

  test("ui.enabled: false turns page and API off; ui.port serves them apart from the webhook", async () => {
    const off = await start(writeConfig("ui: { enabled: false }"));
    expect((await fetch(`${off.url}/`)).status).toBe(404);
    expect((await fetch(`${off.url}/api/deployments`)).status).toBe(404);

    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const uiPort = probe.port;
    probe.stop(true);
    const apart = await start(writeConfig(`ui: { port: ${uiPort} }`));
    expect((await fetch(`${apart.url}/api/deployments`)).status).toBe(404);
    const page = await fetch(`http://127.0.0.1:${uiPort}/`);
    expect(page.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${uiPort}/gitopsphase`, { method: "POST", body: "{}" })).status).toBe(404);
  });
});
