/**
 * The alerts and the dashboard that ship with the chart: the rules file passes `promtool check rules` as it is
 * and as the chart's PrometheusRule renders it, its unit tests (prometheus-rules.test.yaml: a firing and a
 * silent case per alert) pass `promtool test rules`, and every metric the rules and the dashboard read is one the
 * daemon (the compiled binary when GITOPS_CONNECTOR_BIN is set) exports on /metrics.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { startDaemon } from "../support/daemon.ts";
import { startFakeApi, type FakeApi } from "../support/fake-api.ts";
import { promtool } from "../support/tools.ts";
import { CHART, template } from "./chart.ts";
import { find, type Manifest } from "./manifests.ts";

const RULES = join(CHART, "files", "prometheus-rules.yaml");
const DASHBOARD = join(CHART, "files", "grafana-dashboard.json");
const UNIT_TESTS = join(import.meta.dir, "prometheus-rules.test.yaml");
const tool = promtool();

function runPromtool(args: string[]) {
  const result = Bun.spawnSync([tool, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
}

type RuleGroups = { groups: { name: string; rules: { alert?: string; expr: string }[] }[] };
const rulesFile = () => parseYaml(readFileSync(RULES, "utf8")) as RuleGroups;

describe("the shipped alerts", () => {
  test("pass promtool check rules, as a file and as the chart's PrometheusRule renders them", () => {
    const plain = runPromtool(["check", "rules", RULES]);
    expect(plain.output).toContain("SUCCESS: 7 rules found");
    expect(plain.code).toBe(0);
    const rendered = find(template({ prometheusRule: { enabled: true, alertLabels: { team: "platform" } } }), "PrometheusRule", "gitops-connector") as Manifest & { spec: RuleGroups };
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-rules-"));
    try {
      const path = join(dir, "rules.yaml");
      writeFileSync(path, stringify(rendered.spec));
      const check = runPromtool(["check", "rules", path]);
      expect(check.output).toContain("SUCCESS: 7 rules found");
      expect(check.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("each alert has a unit test that fires and one that stays silent, and promtool test rules passes", () => {
    const tests = parseYaml(readFileSync(UNIT_TESTS, "utf8")) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const alert of rulesFile().groups.flatMap((group) => group.rules.map((rule) => rule.alert!))) {
      const own = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: own.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, silent: own.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, silent: true });
    }
    const run = runPromtool(["test", "rules", UNIT_TESTS]);
    expect(run.output).toContain("SUCCESS");
    expect(run.code).toBe(0);
  });
});

describe("the metrics the alerts and the dashboard read", () => {
  let api: FakeApi;
  let exported: Set<string>;
  let stop = () => {};

  beforeAll(async () => {
    api = startFakeApi();
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-alert-metrics-"));
    const configPath = join(dir, "config.yaml");
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 200 }
instances:
  - name: apps-dev
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: GITHUB
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${api.orgUrl("org")}
    gitHubGitOpsManifestsRepoName: manifests
    gitHubGitOpsRepoName: app-src
    pat: "\${PAT}"
`,
    );
    const daemon = await startDaemon({ configPath, env: { PAT: "ghp_alertsTestTokenNeverInAMetric0001" }, dryRun: false });
    stop = () => daemon.proc.kill("SIGKILL");
    // One deployment, so labelled counters and the histogram have series.
    const event = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "flux", "kustomization-reconciliation-succeeded.json"), "utf8"));
    const response = await fetch(`${daemon.url}/gitopsphase`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
    expect(response.status).toBe(202);
    const jobs = ((await response.json()) as { jobs: number }).jobs;
    let text = "";
    const deadline = Date.now() + 10_000;
    for (;;) {
      text = await (await fetch(`${daemon.url}/metrics`)).text();
      const delivered = [...text.matchAll(/^gitops_connector_jobs_total\{[^}]*outcome="delivered"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      if (delivered >= jobs) break;
      if (Date.now() > deadline) throw new Error(`the deployment's jobs were not delivered:\n${text}`);
      await Bun.sleep(25);
    }
    // A family is exported once it is declared (# TYPE): a gauge by target has no sample while no target waits.
    const samples = [...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )/gm)].map((m) => m[1]!);
    const declared = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    exported = new Set([...samples, ...declared]);
  });
  afterAll(() => {
    stop();
    api?.stop();
  });

  const namesIn = (text: string) => new Set([...text.matchAll(/\bgitops_connector_[a-z_]+\b/g)].map((m) => m[0]).filter((name) => name !== "gitops_connector_config_name"));

  test("every metric in the rules file is exported", () => {
    const names = namesIn(rulesFile().groups.flatMap((group) => group.rules.map((rule) => rule.expr)).join("\n"));
    expect(names.size).toBeGreaterThanOrEqual(8);
    expect([...names].filter((name) => !exported.has(name))).toEqual([]);
  });

  test("every metric in the dashboard is exported", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: { targets?: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    const queries = dashboard.templating.list.map((variable) => JSON.stringify(variable.query ?? ""));
    const names = namesIn([...exprs, ...queries].join("\n"));
    expect(names.size).toBeGreaterThanOrEqual(15);
    expect([...names].filter((name) => !exported.has(name))).toEqual([]);
    // And it is a dashboard Grafana can import: unique panel ids, a datasource variable every panel uses.
    const ids = dashboard.panels.map((panel) => (panel as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) expect((panel as { datasource: { uid: string } }).datasource.uid).toBe("${datasource}");
  });
});
