/**
 * A config reload (SIGHUP) of the real daemon process applies what the README says it applies, key group by
 * key group, and names the keys that need a restart (issue 11, item 4): observed at a loopback fake of GitHub
 * and in the daemon's own log lines.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { jsonLines } from "../support/daemon.ts";
import { isStatusPost } from "../support/fake-api.ts";
import { COMMIT, PAT, post, resend, useTraffic, workerLine, type Daemon } from "../support/traffic.ts";

const traffic = useTraffic();

describe("a reload does what the README says", () => {
  /** Rewrites the config, sends SIGHUP, and waits for the daemon to say it reloaded. */
  async function reload(daemon: Daemon, configPath: string, text: string): Promise<void> {
    const before = daemon.lines.filter((line) => line.includes('"msg":"config reloaded"')).length;
    writeFileSync(configPath, text);
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes('"msg":"config reloaded"') && daemon.lines.filter((seen) => seen.includes('"msg":"config reloaded"')).length > before);
  }
  const progressing = (commit: string) => ({ ...resend(commit, "Deployment/default/web configured"), reason: "Progressing" });
  const COMMITS = ["6b1f53303a732ccc8c6aae6640399827c15250e3", "a625406f6977d45c1391b078f4d3656e0b75bfcb", "e4666a670f042877c67a84473a71675ee0950a08"];

  test("outbox.concurrency 1 → 4: observed as 4 parallel requests at the API, no restart", async () => {
    const subscribers = `    subscribers: { a: ${traffic.api.url}/a, b: ${traffic.api.url}/b }\n`;
    const text = (concurrency: number) =>
      traffic.configText({ subscribers: false, instanceExtra: subscribers, outbox: `concurrency: ${concurrency}` }).replace("ciCdOrchestratorType: GITHUB", "ciCdOrchestratorType: NONE");
    const configPath = traffic.writeConfig();
    writeFileSync(configPath, text(1));
    traffic.api.hang();
    const daemon = await traffic.daemonWith(configPath);
    for (const commit of COMMITS) expect((await post(daemon, progressing(commit))).status).toBe(202); // 2 statuses and 2 posts each
    await traffic.api.waitFor(() => true);
    expect(traffic.api.requests()).toHaveLength(1); // concurrency 1: one call at a time

    await reload(daemon, configPath, text(4));
    await traffic.api.waitForCount(4, () => true, 5_000);
    // Four in flight at once, none answered yet: at most half of 4 per target, so two targets have two each.
    expect(traffic.api.requests().filter((request) => request.answeredWith === undefined)).toHaveLength(4);
    expect(daemon.lines.filter((line) => line.includes('"msg":"gitops-connector listening"'))).toHaveLength(1);
    traffic.api.unhang();
  });

  test("outbox.maxAttempts and timeoutMs: the next attempt uses the reloaded values", async () => {
    const text = (outbox: string) =>
      traffic.configText({ subscribers: false }).replace("ciCdOrchestratorType: GITHUB", "ciCdOrchestratorType: NONE").replace(/^outbox: .*$/m, `outbox: { ${outbox} }`);
    const configPath = traffic.writeConfig();
    writeFileSync(configPath, text("maxAttempts: 100, initialBackoffMs: 2000, maxBackoffMs: 2000, timeoutMs: 30000"));
    traffic.api.failNext(1, { status: 502, body: { message: "Bad Gateway" } }, isStatusPost);
    const daemon = await traffic.daemonWith(configPath);
    expect((await post(daemon, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await daemon.waitForLine(workerLine("status", "retried")); // the next attempt is 2 s away

    traffic.api.hang(isStatusPost);
    await reload(daemon, configPath, text("maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20, timeoutMs: 300"));
    const dead = JSON.parse(await daemon.waitForLine(workerLine("status", "dead"), 10_000)) as { error: string; attempt: number };
    expect(dead).toMatchObject({ attempt: 2 });
    expect(dead.error).toContain("gave up after 2 attempts (outbox.maxAttempts)");
    expect(dead.error).toContain("timed out after 300 ms (outbox.timeoutMs)");
    traffic.api.unhang();
  }, 15_000);

  test("scheduler.abandonedPrSweepSeconds 3600 → 1: the next sweep runs within seconds", async () => {
    const text = (seconds: number) =>
      `${traffic.configText({ subscribers: false }).replace("ciCdOrchestratorType: GITHUB", "ciCdOrchestratorType: AZDO").replace("    gitHubGitOpsRepoName: app-src\n", `    azdoOrgUrl: ${traffic.api.azureOrgUrl()}\n`)}scheduler: { abandonedPrSweepSeconds: ${seconds} }\n`;
    const configPath = traffic.writeConfig();
    writeFileSync(configPath, text(3600));
    const daemon = await traffic.daemonWith(configPath);
    const isPullList = (request: { method: string; path: string }) => request.method === "GET" && request.path === "/repos/org/manifests/pulls";
    expect(traffic.api.requests(isPullList)).toEqual([]);
    await reload(daemon, configPath, text(1));
    await traffic.api.waitFor(isPullList, 5_000);
  });

  test("keys that need a restart are named in one warning line; the rest applies", async () => {
    const configPath = traffic.writeConfig();
    const daemon = await traffic.daemonWith(configPath);
    await reload(daemon, configPath, traffic.configText().replace("server: { host: 127.0.0.1", "server: { host: 0.0.0.0").replace("outbox: {", "outbox: { path: elsewhere.db, synchronous: full, concurrency: 3,"));
    const warnings = jsonLines(daemon.lines).filter((line) => line.component === "config" && line.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ keys: ["server.host", "outbox.path", "outbox.synchronous"] });
    expect(warnings[0]!.msg).toContain("server.host, outbox.path, outbox.synchronous");
  });

  test("a reload that would leave a live instance without its token is rejected; the running config stays", async () => {
    const configPath = traffic.writeConfig();
    const daemon = await traffic.daemonWith(configPath);
    writeFileSync(configPath, traffic.configText().replace('pat: "${PAT}"', 'pat: "${NO_SUCH_TOKEN:-}"'));
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLine((line) => line.includes("config reload rejected"));
    expect(daemon.lines.some((line) => line.includes("instances[0].pat: empty; statuses to"))).toBe(true);
    expect((await post(daemon, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await traffic.api.waitFor((request) => isStatusPost(request) && request.answeredWith === 201);
  });
});
