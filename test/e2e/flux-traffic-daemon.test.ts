/**
 * What real Flux traffic does to the daemon (issue 11), end to end: the real daemon process (the compiled
 * binary in CI, via GITOPS_CONNECTOR_BIN), its outbox, and the requests that reach a loopback fake of GitHub.
 * Periodic re-sends, rate limits, a dry run before a live run, jobs queued at SIGTERM. Waits are on the fake's
 * requests and the daemon's log lines, never on a sleep.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLines, spawnConnector } from "../support/daemon.ts";
import { isStatusPost } from "../support/fake-api.ts";
import { COMMIT, isSubscriberPost, OTHER_COMMIT, PAT, post, resend, useTraffic, workerLine } from "../support/traffic.ts";

const traffic = useTraffic();

describe("Flux's periodic re-sends", () => {
  test("20 re-sends with new durations on a delivered commit → 0 jobs, 0 calls at the API", async () => {
    const daemon = await traffic.daemonWith(traffic.writeConfig());
    const first = await post(daemon, resend(COMMIT, "Reconciliation finished in 812.4ms, next run in 1m0s"));
    expect(first).toMatchObject({ status: 202, body: { jobs: 3 } }); // status, subscriber, dispatch
    await traffic.api.waitFor(isStatusPost);
    await traffic.api.waitFor(isSubscriberPost);
    await traffic.api.waitFor((request) => request.path.endsWith("/dispatches"));
    const callsBefore = traffic.api.requests().length;

    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await post(daemon, resend(COMMIT, `Reconciliation finished in ${(1.2 + i * 0.41).toFixed(2)}s, next run in 1m0s`)));
    expect(answers.map((answer) => [answer.status, answer.body.jobs])).toEqual(Array.from({ length: 20 }, () => [202, 0]));

    // A sentinel on another commit (of another Kustomization, so it supersedes nothing), delivered after the
    // re-sends were answered: only its own calls were made.
    await post(daemon, resend(OTHER_COMMIT, "Reconciliation finished in 2s, next run in 1m0s", "apps-sentinel"));
    await traffic.api.waitForCount(2, (request) => request.path.endsWith("/dispatches"));
    const since = traffic.api.requests().slice(callsBefore);
    expect(since.map((request) => `${request.method} ${request.path}`).sort()).toEqual(
      [`POST /repos/org/manifests/statuses/${OTHER_COMMIT}`, "POST /api/flux", `GET /repos/org/manifests/commits/${OTHER_COMMIT}`, "POST /repos/org/app-src/dispatches"].sort(),
    );
    expect(since.find(isSubscriberPost)?.body).toMatchObject({ commit_id: OTHER_COMMIT });
  });
});

describe("rate limits", () => {
  test("403 x-ratelimit-remaining: 0 answered 5 times in a row with maxAttempts: 3 → delivered, not dead; stats and metrics show the wait", async () => {
    const configPath = traffic.writeConfig({ outbox: "maxAttempts: 3", subscribers: false });
    let limited = 0;
    traffic.api.setHandler((request) => {
      if (!isStatusPost(request) || limited >= 5) return undefined;
      limited += 1;
      // The first reset is 3 s away (time to look at stats and metrics), the others are already due.
      const reset = Math.floor(Date.now() / 1000) + (limited === 1 ? 3 : 0);
      return {
        status: 403,
        headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset), "x-ratelimit-resource": "core" },
        body: { message: "API rate limit exceeded for user ID 1.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" },
      };
    });
    const daemon = await traffic.daemonWith(configPath);
    expect((await post(daemon, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await daemon.waitForLine(workerLine("status", "rate_limited"));

    const stats = spawnConnector(["outbox", "stats", "--json", "--data-dir", daemon.dataDir, "--config", configPath], { PAT });
    expect(await stats.exited).toBe(0);
    const report = JSON.parse(stats.lines.join("\n")) as { rateLimited: Array<{ target: string; pending: number; until: string }> };
    expect(report.rateLimited).toEqual([{ target: "github:127.0.0.1:" + traffic.api.port + "/repos/org/manifests", pending: expect.any(Number), until: expect.any(String) }]);
    expect(report.rateLimited[0]!.pending).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    expect(metrics).toMatch(/^gitops_connector_outbox_rate_limited_jobs\{target="github:127\.0\.0\.1:\d+\/repos\/org\/manifests"\} [1-9]/m);
    expect(metrics).toMatch(/^gitops_connector_outbox_rate_limit_remaining_seconds\{target="github:[^"]+"\} [0-9.]+$/m);

    await daemon.waitForLine(workerLine("status", "delivered"), 20_000);
    expect(daemon.lines.filter(workerLine("status", "rate_limited"))).toHaveLength(5);
    expect(daemon.lines.filter(workerLine("status", "dead"))).toEqual([]);
    expect(traffic.api.requests(isStatusPost).map((request) => request.answeredWith)).toEqual([403, 403, 403, 403, 403, 201]);
  }, 30_000);
});

describe("a dry run never changes what a live run does", () => {
  test("--dry-run then a live run on the same data dir → every status, the subscriber post and the dispatch are delivered", async () => {
    const configPath = traffic.writeConfig();
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-dry-then-live-"));
    const event = resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s");

    const dry = await traffic.daemonWith(configPath, { dataDir, dryRun: true });
    expect((await post(dry, event)).body.jobs).toBe(3);
    await dry.waitForLine((line) => line.includes('"msg":"dry-run orchestrator job"'));
    expect(traffic.api.requests()).toEqual([]); // the dry run calls nothing
    dry.proc.kill("SIGTERM");
    expect(await dry.exited).toBe(0);
    traffic.forget(dry);

    const live = await traffic.daemonWith(configPath, { dataDir });
    expect((await post(live, event)).body.jobs).toBe(3);
    await traffic.api.waitFor(isStatusPost);
    await traffic.api.waitFor(isSubscriberPost);
    await traffic.api.waitFor((request) => request.path === "/repos/org/app-src/dispatches");
    expect(traffic.api.requests(isStatusPost).map((request) => request.path)).toEqual([`/repos/org/manifests/statuses/${COMMIT}`]);
  });

  test("a dry run on a live data dir leaves the live run's pending jobs pending, and the CLI reads each outbox apart", async () => {
    const configPath = traffic.writeConfig({ subscribers: false });
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-live-then-dry-"));
    traffic.api.hang(isStatusPost);
    const live = await traffic.daemonWith(configPath, { dataDir });
    expect((await post(live, resend(COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await traffic.api.waitFor(isStatusPost);
    live.proc.kill("SIGKILL"); // the status is still in flight: pending on disk
    await live.exited;
    traffic.forget(live);
    traffic.api.unhang();

    const dry = await traffic.daemonWith(configPath, { dataDir, dryRun: true });
    expect((await post(dry, resend(OTHER_COMMIT, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await dry.waitForLine((line) => line.includes('"msg":"dry-run status job"'));
    expect(dry.lines.filter((line) => line.includes('"msg":"dry-run status job"') && line.includes(COMMIT))).toEqual([]);

    const stats = async (...flags: string[]) => {
      const cli = spawnConnector(["outbox", "stats", "--json", "--data-dir", dataDir, "--config", configPath, ...flags], { PAT });
      expect(await cli.exited).toBe(0);
      return (JSON.parse(cli.lines.join("\n")) as { path: string; jobs: Array<{ kind: string; pending: number }> });
    };
    const liveStats = await stats();
    expect(liveStats.path).toBe(join(dataDir, "outbox.db"));
    expect(liveStats.jobs.find((line) => line.kind === "status")?.pending).toBe(1);
    const dryStats = await stats("--dry-run");
    expect(dryStats.path).toBe(join(dataDir, "outbox.dry-run.db"));
  });
});

describe("graceful shutdown", () => {
  test("jobs still queued (not in flight) at SIGTERM stay on disk and the next start delivers them", async () => {
    const configPath = traffic.writeConfig({ outbox: "concurrency: 1", subscribers: false });
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-queued-at-stop-"));
    traffic.api.hang(isStatusPost);
    const first = await traffic.daemonWith(configPath, { dataDir });
    const commits = [COMMIT, OTHER_COMMIT, "6b1f53303a732ccc8c6aae6640399827c15250e3", "a625406f6977d45c1391b078f4d3656e0b75bfcb"];
    for (const commit of commits) expect((await post(first, resend(commit, "Reconciliation finished in 2s, next run in 1m0s"))).status).toBe(202);
    await traffic.api.waitFor(isStatusPost); // one in flight, the others queued behind concurrency 1
    first.proc.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    traffic.forget(first);
    const stopped = jsonLines(first.lines).find((line) => line.msg === "stopped; pending jobs stay in the outbox");
    expect(stopped).toMatchObject({ interrupted: 1 });
    expect(stopped!.pending).toBeGreaterThanOrEqual(commits.length); // every status (and dispatch) left, none lost
    traffic.api.unhang(); // the first daemon aborted its one call in flight: nothing was answered yet

    const second = await traffic.daemonWith(configPath, { dataDir });
    await second.waitForLine((line) => line.includes('"msg":"resuming jobs left pending by the last process"'));
    const delivered = await traffic.api.waitForCount(commits.length, (request) => isStatusPost(request) && request.answeredWith === 201, 10_000);
    expect(new Set(delivered.map((request) => request.path.split("/").pop()))).toEqual(new Set(commits));
  }, 20_000);
});
