/**
 * `gitops-connector outbox …` run as a real process against a data dir prepared with the store: what each
 * action prints, what it changes in the file, where it finds the file, and its exit codes.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Job, OrchestratorJob, StatusJob } from "../../src/core/model.ts";
import { createPostgresOutboxStore } from "../../src/outbox/postgres-store.ts";
import { createSqliteOutboxStore } from "../../src/outbox/store.ts";
import { spawnConnector } from "../support/daemon.ts";
import { freshSchema } from "../support/postgres.ts";

const T0 = Date.parse("2025-01-15T10:00:00Z");

function statusJob(context: string): StatusJob {
  return {
    kind: "status",
    instance: "apps-dev",
    target: "github:org/manifests",
    orderingKey: `apps-dev|abc123|${context}`,
    coalesceKey: `github:org/manifests|abc123|${context}`,
    payload: {
      commit: "abc123",
      operator: "FLUX",
      genre: "Kustomization",
      reconciler: "Kustomization/flux-system/apps-dev",
      status: { context, name: "Status", state: "ReconciliationSucceeded", description: "Applied revision main@sha1:abc123" },
      callbackUrl: "https://github.com/org/manifests/commit",
      statusContext: "default",
    },
  };
}

const orchestratorJob: OrchestratorJob = {
  kind: "orchestrator",
  instance: "apps-dev",
  target: "github-actions:org/app-src",
  orderingKey: "apps-dev|abc123",
  payload: { commit: "abc123", outcome: "succeeded", reconciler: "Kustomization/flux-system/apps-dev" },
};

/** A data dir holding an outbox with two dead status jobs, one done and two pending jobs. */
function prepareDataDir(file = "outbox.db"): { dataDir: string; path: string; deadIds: number[] } {
  const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-outbox-cli-"));
  const path = join(dataDir, file);
  const store = createSqliteOutboxStore({ path });
  const jobs: Job[] = [statusJob("kustomization/a"), statusJob("kustomization/b"), statusJob("kustomization/c"), statusJob("kustomization/d"), orchestratorJob];
  store.submit("apps-dev", "abc123", (known) => ({ jobs, known }), T0);
  const [a, b, c] = store.claimDue({ now: T0, limit: 3, excludeTargets: [] });
  store.markDead(a!.id, T0, "HTTP 422 from api.github.com: No commit found for SHA: abc123");
  store.markDead(b!.id, T0, "HTTP 404 from api.github.com: Not Found");
  store.markDone(c!.id, T0);
  store.close();
  return { dataDir, path, deadIds: [a!.id, b!.id] };
}

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnConnector(["outbox", ...args], env);
  const code = await child.exited;
  return { code, output: child.lines.join("\n") };
}

function inspect(path: string) {
  const store = createSqliteOutboxStore({ path });
  try {
    return { dead: store.deadJobs().map((stored) => stored.id), pending: store.pendingDepth(), stats: store.stats() };
  } finally {
    store.close();
  }
}

describe("outbox stats", () => {
  test("shows pending, dead and done counts by kind and target", async () => {
    const { dataDir, path } = prepareDataDir();
    const { code, output } = await run(["stats", "--data-dir", dataDir]);
    expect(code).toBe(0);
    expect(output).toContain(`outbox ${path}`);
    expect(output).toMatch(/KIND\s+TARGET\s+PENDING\s+DEAD\s+DONE/);
    expect(output).toMatch(/orchestrator\s+github-actions:org\/app-src\s+1\s+0\s+0/);
    expect(output).toMatch(/status\s+github:org\/manifests\s+1\s+2\s+1/);
    expect(output).toMatch(/total\s+2\s+2\s+1/);
  });

  test("--json gives the same counts as JSON", async () => {
    const { dataDir } = prepareDataDir();
    const { code, output } = await run(["stats", "--data-dir", dataDir, "--json"]);
    expect(code).toBe(0);
    expect(JSON.parse(output).jobs).toEqual([
      { kind: "orchestrator", target: "github-actions:org/app-src", pending: 1, dead: 0, done: 0 },
      { kind: "status", target: "github:org/manifests", pending: 1, dead: 2, done: 1 },
    ]);
  });

  test("finds outbox.path from the config, relative to --data-dir", async () => {
    const { dataDir } = prepareDataDir(join("queue", "custom.db"));
    const config = join(dataDir, "config.yaml");
    writeFileSync(
      config,
      [
        "outbox:",
        "  path: queue/custom.db",
        "instances:",
        "  - name: apps-dev",
        "    gitOpsOperatorType: FLUX",
        "    gitRepositoryType: GITHUB",
        "    ciCdOrchestratorType: NONE",
        "    gitOpsAppURL: https://github.com/org/manifests/commit",
        "    gitHubOrgUrl: https://api.github.com/repos/org",
        "    gitHubGitOpsManifestsRepoName: manifests",
        '    pat: "${GITHUB_TOKEN}"',
        "",
      ].join("\n"),
    );
    const withToken = await run(["stats", "--config", config, "--data-dir", dataDir, "--json"], { GITHUB_TOKEN: "ghp_placeholder" });
    expect(withToken.code).toBe(0);
    expect(JSON.parse(withToken.output).path).toBe(join(dataDir, "queue", "custom.db"));
    // The operator's shell often lacks the daemon's token variables: outbox.path is still read, with a warning.
    const withoutToken = await run(["stats", "--config", config, "--data-dir", dataDir]);
    expect(withoutToken.code).toBe(0);
    expect(withoutToken.output).toContain("warning");
    expect(withoutToken.output).toContain(join(dataDir, "queue", "custom.db"));
  });
});

describe("outbox dead", () => {
  test("lists each dead job with its commit, context and last error", async () => {
    const { dataDir, deadIds } = prepareDataDir();
    const { code, output } = await run(["dead", "--data-dir", dataDir]);
    expect(code).toBe(0);
    expect(output).toContain("2 dead jobs");
    expect(output).toContain(`#${deadIds[0]} status apps-dev -> github:org/manifests, 1 attempt`);
    expect(output).toContain("commit abc123, context kustomization/a");
    expect(output).toContain("last error: HTTP 422 from api.github.com: No commit found for SHA: abc123");
    expect(output).toContain("HTTP 404 from api.github.com: Not Found");
  });

  test("--json lists them with the whole job", async () => {
    const { dataDir, deadIds } = prepareDataDir();
    const { code, output } = await run(["dead", "--json", "--data-dir", dataDir]);
    expect(code).toBe(0);
    const jobs = JSON.parse(output).jobs as Array<Record<string, any>>;
    expect(jobs.map((job) => job.id)).toEqual(deadIds);
    expect(jobs[0]).toMatchObject({ kind: "status", instance: "apps-dev", target: "github:org/manifests", attempts: 1, job: statusJob("kustomization/a") });
  });
});

describe("outbox retry and purge", () => {
  test("retry <id> re-queues that dead job", async () => {
    const { dataDir, path, deadIds } = prepareDataDir();
    const { code, output } = await run(["retry", String(deadIds[0]), "--data-dir", dataDir]);
    expect(code).toBe(0);
    expect(output).toContain("re-queued 1 dead job");
    expect(inspect(path)).toMatchObject({ dead: [deadIds[1]], pending: 3 });
  });

  test("retry --all re-queues every dead job", async () => {
    const { dataDir, path } = prepareDataDir();
    const { code, output } = await run(["retry", "--all", "--data-dir", dataDir]);
    expect(code).toBe(0);
    expect(output).toContain("re-queued 2 dead jobs");
    expect(inspect(path)).toMatchObject({ dead: [], pending: 4 });
  });

  test("retry of a job that is not dead exits 2 and changes nothing", async () => {
    const { dataDir, path } = prepareDataDir();
    const { code, output } = await run(["retry", "999", "--data-dir", dataDir]);
    expect(code).toBe(2);
    expect(output).toContain("job 999 is not a dead job");
    expect(inspect(path).dead).toHaveLength(2);
  });

  test("purge --dead deletes the dead jobs only", async () => {
    const { dataDir, path } = prepareDataDir();
    const { code, output } = await run(["purge", "--dead", "--data-dir", dataDir, "--json"]);
    expect(code).toBe(0);
    expect(JSON.parse(output)).toEqual({ purged: 2 });
    expect(inspect(path)).toMatchObject({ dead: [], pending: 2 });
  });
});

describe("usage and failures", () => {
  test.each([
    [["purge"], "pass --dead"],
    [["retry"], "needs one job id"],
    [["retry", "abc"], "is not a job id"],
    [["retry", "1", "--all"], "not both"],
    [["stats", "--all"], "--all only goes with retry"],
    [["stats", "extra"], "takes no arguments"],
    [["compact"], 'unknown outbox action "compact"'],
    [[], "needs an action"],
    [["stats", "--verbose"], "--verbose"],
  ])("outbox %p is a usage error (exit 2) and changes nothing", async (args, message) => {
    const { dataDir, path } = prepareDataDir();
    const { code, output } = await run([...args, "--data-dir", dataDir]);
    expect(code).toBe(2);
    expect(output).toContain(message);
    expect(inspect(path).dead).toHaveLength(2);
  });

  test.each([[["--help"]], [["stats", "--help"]], [["purge", "-h"]]])("outbox %p prints the usage", async (args) => {
    const { code, output } = await run(args);
    expect(code).toBe(0);
    expect(output).toContain("Usage: gitops-connector outbox <stats|dead|retry|purge>");
  });

  test("a data dir without an outbox exits 1 naming the path", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-outbox-cli-"));
    const { code, output } = await run(["stats", "--data-dir", dataDir]);
    expect(code).toBe(1);
    expect(output).toContain(`no outbox at ${join(dataDir, "outbox.db")}`);
  });

  test("a file that is not a database exits 1 naming the path", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gitops-connector-outbox-cli-"));
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, "outbox.db"), "not a database ".repeat(100));
    const { code, output } = await run(["dead", "--data-dir", dataDir]);
    expect(code).toBe(1);
    expect(output).toContain(`outbox ${join(dataDir, "outbox.db")} is not a SQLite database`);
  });

  test("a --config that does not exist is a usage error", async () => {
    const { dataDir } = prepareDataDir();
    const { code, output } = await run(["stats", "--data-dir", dataDir, "--config", join(dataDir, "missing.yaml")]);
    expect(code).toBe(2);
    expect(output).toContain("does not exist");
  });
});

describe("outbox on PostgreSQL (driver: postgres)", () => {
  test("stats, dead and retry work on the database the config names; its password is in no output", async () => {
    const schema = await freshSchema("outbox_cli");
    try {
      const store = await createPostgresOutboxStore({ url: schema.url, now: () => T0, max: 2 });
      await store.submit("apps-dev", "abc123", (known) => ({ jobs: [statusJob("kustomization/a"), statusJob("kustomization/b")], known }), T0);
      const [a] = await store.claimDue({ now: T0, limit: 1, excludeTargets: [] });
      await store.markDead(a!.id, T0, "HTTP 422 from api.github.com: No commit found for SHA: abc123");
      await store.close();
      const dir = mkdtempSync(join(tmpdir(), "gitops-connector-outbox-cli-pg-"));
      const config = join(dir, "config.yaml");
      writeFileSync(config, `outbox: { driver: postgres, url: "\${OUTBOX_URL}" }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: https://api.github.com/repos/org
    gitHubGitOpsManifestsRepoName: manifests
    pat: \${GITHUB_TOKEN}
`);
      const env = { OUTBOX_URL: schema.url, GITHUB_TOKEN: "ghp_placeholderTokenForTheCli01" };
      const password = decodeURIComponent(new URL(schema.url).password);
      const where = `postgres://${new URL(schema.url).host}${new URL(schema.url).pathname}`;

      const stats = await run(["stats", "--config", config, "--json"], env);
      expect(stats.code).toBe(0);
      expect(JSON.parse(stats.output)).toMatchObject({ path: where, jobs: [{ kind: "status", target: "github:org/manifests", pending: 1, dead: 1, done: 0 }] });
      const dead = await run(["dead", "--config", config], env);
      expect(dead.code).toBe(0);
      expect(dead.output).toContain(`#${a!.id} status apps-dev -> github:org/manifests`);
      expect(dead.output).toContain("No commit found for SHA: abc123");
      const retry = await run(["retry", String(a!.id), "--config", config], env);
      expect(retry.code).toBe(0);
      expect(retry.output).toContain("re-queued 1 dead job");
      expect((await run(["retry", String(a!.id), "--config", config], env)).code).toBe(2); // no longer dead
      for (const output of [stats.output, dead.output, retry.output]) expect(output).not.toContain(password);

      // Without the variables the config does not load, and the URL cannot be read: said so, exit 1.
      const unloaded = await run(["stats", "--config", config], { GITHUB_TOKEN: env.GITHUB_TOKEN });
      expect(unloaded.code).toBe(1);
      expect(unloaded.output).toContain("its outbox is on PostgreSQL");
    } finally {
      await schema.drop();
    }
  }, 30_000);
});
