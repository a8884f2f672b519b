/**
 * The Helm chart (deploy/helm/gitops-connector), rendered with the real helm: `helm lint --strict`; the seed's
 * two sample values.yaml files exactly as Azure/gitops-connector's README prints them; several instances; the
 * options (persistence off, ServiceMonitor, PrometheusRule, dashboard). Every rendered object is validated, the
 * rendered config passes `gitops-connector check-config` with the environment the pod would have, the pod runs
 * the image's binary as the Dockerfile does, and the chart agrees with the kustomize base on ports, probes and
 * security context.
 */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import {
  CHART,
  codeBlockAfter,
  connectorOf,
  NAMESPACE,
  podEnvironment,
  RELEASE,
  ROOT,
  runHelm,
  SEED_CHART_README,
  SEED_README,
  template,
  templateError,
  type RenderedConnector,
} from "./chart.ts";
import { InstanceConfig } from "../../src/config/schema.ts";
import { daemonCommand } from "../support/daemon.ts";
import { checkConfig, find, flag, kustomize, portNumber, validate, yamlDocuments, type Manifest } from "./manifests.ts";

const SEED_GITHUB = codeBlockAfter(SEED_README, "A sample **values.yaml** file for Flux and GitHub");
const SEED_AZDO = codeBlockAfter(SEED_README, "A sample **values.yaml** file for Flux and Azure DevOps");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const IMAGE = "ghcr.io/gitops-connector/gitops-connector";
const NONROOT = 65532;

type Instance = Record<string, unknown> & { name: string };
function instancesOf(rendered: RenderedConnector): Instance[] {
  return (parseYaml(rendered.config) as { instances: Instance[] }).instances;
}

/** What a user puts where the seed's README prints the placeholder <PAT>. */
const REAL_LOOKING_PAT = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

async function expectConfigPasses(rendered: RenderedConnector, outside: Record<string, Record<string, string>> = {}) {
  const env = podEnvironment(rendered, outside);
  if (env.PAT === "<PAT>") env.PAT = REAL_LOOKING_PAT;
  const result = await checkConfig(rendered.config, env);
  expect(result.output).toContain("config ok");
  expect(result.code).toBe(0);
  return result.output;
}

function expectAllValid(objects: Manifest[]) {
  expect(objects.length).toBeGreaterThan(0);
  for (const object of objects) {
    validate(object);
    expect(object.metadata.namespace ?? NAMESPACE).toBe(NAMESPACE);
  }
}

describe("helm lint --strict", () => {
  test("is clean with the chart's defaults and with each seed sample", () => {
    for (const values of [undefined, SEED_GITHUB, SEED_AZDO]) {
      const run = runHelm(["lint", "--strict", CHART], values);
      expect(run.stdout + run.stderr).not.toMatch(/\[(WARNING|ERROR)\]/);
      expect(run.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
      expect(run.code).toBe(0);
    }
  });
});

describe("the chart's metadata and values", () => {
  const chart = parseYaml(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { version: string; appVersion: string };
  const values = parseYaml(readFileSync(join(CHART, "values.yaml"), "utf8")) as Record<string, any>;

  test("the README's values tables are what the generator makes of values.yaml (bun run chart:readme)", () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-chart-readme-"));
    try {
      const readme = join(dir, "README.md");
      copyFileSync(join(CHART, "README.md"), readme);
      const generator = join(ROOT, "node_modules", "@bitnami", "readme-generator-for-helm", "bin", "index.js");
      const run = Bun.spawnSync([process.execPath, generator, "--values", join(CHART, "values.yaml"), "--readme", readme], { stdout: "pipe", stderr: "pipe" });
      expect(run.stdout.toString() + run.stderr.toString()).not.toContain("ERROR");
      expect(run.exitCode).toBe(0);
      expect(readFileSync(readme, "utf8")).toBe(readFileSync(join(CHART, "README.md"), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("versions follow package.json", () => {
    expect(chart.appVersion).toBe(VERSION);
    expect(chart.version).toBe(VERSION);
  });

  test("has every key of the original chart's values table, and the older chart's flat keys", () => {
    const keys = [...SEED_CHART_README.matchAll(/^\| ([a-zA-Z][\w.]*) \| [\w/]+ \| `/gm)].map((match) => match[1]!);
    expect(keys.length).toBe(37); // 11 singleInstance.*, 4 common, 22 parameters
    const missing = keys.filter((key) => key.split(".").reduce<any>((node, part) => (node === undefined ? undefined : node[part]), values) === undefined);
    expect(missing).toEqual([]);
    expect(values.service.port).toBe(8080);
    const flat = Object.keys(parseYaml(SEED_GITHUB)).concat(Object.keys(parseYaml(SEED_AZDO)));
    expect(flat.filter((key) => !(key in values))).toEqual([]);
  });

  test("the schema refuses a typo, a wrong type and an unknown operator, naming the value", () => {
    expect(templateError({ singleInstance: { gitRepositoyType: "GITHUB" } })).toContain("'gitRepositoyType' not allowed");
    expect(templateError({ config: { outbox: { maxDepht: 5 } } })).toContain("'maxDepht' not allowed");
    expect(templateError({ persistance: { enabled: false } })).toContain("'persistance' not allowed");
    expect(templateError({ service: { port: "8080" } })).toMatch(/service\/port[\s\S]*got string, want integer/);
    expect(templateError({ ...parseYaml(SEED_GITHUB), gitOpsOperatorType: "FLUXCD" })).toMatch(/gitOpsOperatorType[\s\S]*FLUX/);
  });

  test("a half-filled single instance fails as the original chart did, naming what is missing", () => {
    expect(templateError({ singleInstance: { gitRepositoryType: "GITHUB" } })).toContain("singleInstance.ciCdOrchestratorType is required");
    const noRepo = { ...parseYaml(SEED_GITHUB), gitHubGitOpsManifestsRepoName: "" };
    expect(templateError(noRepo)).toContain("singleInstance.gitHubGitOpsManifestsRepoName is required when gitRepositoryType is GITHUB");
    const noOrg = { ...parseYaml(SEED_AZDO), azdoOrgUrl: "" };
    expect(templateError(noOrg)).toContain("singleInstance.azdoOrgUrl is required");
  });

  test("a values.yaml copied from the original's defaults is refused for its image, naming what to remove", () => {
    expect(templateError({ ...parseYaml(SEED_GITHUB), image: { repository: "ghcr.io/azure/gitops-connector", tag: "1.2.1" } })).toContain("remove image.repository and image.tag");
    // A numeric tag, which the original printed, still works.
    expect(connectorOf(template({ ...parseYaml(SEED_GITHUB), image: { tag: 20240101 } })).container.image).toBe(`${IMAGE}:20240101`);
  });

  test("a grace period of 0 is checked as 0, not as the default", () => {
    const r = connectorOf(template({ ...parseYaml(SEED_GITHUB), config: { server: { shutdownGraceMs: 0 } }, terminationGracePeriodSeconds: 5 }));
    expect(r.pod.terminationGracePeriodSeconds).toBe(5);
  });

  test("a grace period the daemon's shutdown does not fit in is refused", () => {
    expect(templateError({ ...parseYaml(SEED_GITHUB), config: { server: { shutdownGraceMs: 30_000 } } })).toContain("terminationGracePeriodSeconds (30) must be above config.server.shutdownGraceMs");
  });
});

describe("the seed's Flux + GitHub values.yaml, exactly as printed", () => {
  const rendered = () => connectorOf(template(SEED_GITHUB));

  test("renders valid objects: service account, config, Secret, claim, Service, Deployment", () => {
    const { objects } = rendered();
    expectAllValid(objects);
    expect(objects.map((object) => object.kind).sort()).toEqual(["ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service", "ServiceAccount"]);
  });

  test("its one instance carries the seed's values, with the token from the chart's Secret", async () => {
    const r = rendered();
    const [instance, ...others] = instancesOf(r);
    expect(others).toEqual([]);
    expect(instance).toEqual({
      name: "singleInstance",
      default: true,
      gitRepositoryType: "GITHUB",
      ciCdOrchestratorType: "GITHUB",
      gitOpsOperatorType: "FLUX",
      gitHubGitOpsRepoName: "gitops-connector",
      gitHubGitOpsManifestsRepoName: "gitops-manifests",
      gitHubOrgUrl: "https://api.github.com/repos/kaizentm",
      gitOpsAppURL: "https://github.com/kaizentm/gitops-manifests/commit",
      pat: "${PAT:-}",
      subscribers: { spektate: "http://spektate-server:5000/api/flux" },
    });
    // The token is in the Secret, never in the ConfigMap.
    expect(find(r.objects, "Secret", RELEASE).stringData).toEqual({ PAT: "<PAT>" });
    expect(r.config).not.toContain("<PAT>");
    const output = await expectConfigPasses(r);
    expect(output).toContain("singleInstance");
    // The README's placeholder itself would not do: the daemon refuses a token too short to redact safely.
    const placeholder = await checkConfig(r.config, podEnvironment(r));
    expect(placeholder.code).toBe(2);
    expect(placeholder.output).toContain("instances[0].pat: is 5 characters");
  });

  test("without the Secret's PAT the same config is refused for a live run, and fine for a dry run", async () => {
    const r = rendered();
    const live = await checkConfig(r.config, {});
    expect(live.code).toBe(2);
    expect(live.output).toContain("instances[0].pat");
    const dry = await checkConfig(r.config, {}, ["--dry-run"]);
    expect(dry.code).toBe(0);
  });

  test("the Deployment runs the image's binary and user the way the Dockerfile does, one pod, recreated", () => {
    const r = rendered();
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]!) as string[];
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]!) as string[];
    const configPath = /^ENV GITOPS_CONNECTOR_CONFIG=(\S+)/m.exec(dockerfile)![1];
    expect(r.container.command).toEqual(entrypoint);
    expect(r.container.args?.[0]).toBe(cmd[0]); // serve
    expect(flag(r.container, "--data-dir")).toBe(cmd[cmd.indexOf("--data-dir") + 1]);
    expect(flag(r.container, "--config")).toBe(configPath); // what outbox and check-config in the pod read
    expect(r.container.image).toBe(`${IMAGE}:${VERSION}`);
    expect(dockerfile.match(/^USER (.*)$/gm)?.at(-1)).toBe(`USER ${r.container.securityContext?.runAsUser}:${r.container.securityContext?.runAsGroup}`);
    const deployment = new Deployment(find(r.objects, "Deployment", RELEASE) as never);
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.strategy?.type).toBe("Recreate");
    expect(r.pod.automountServiceAccountToken).toBe(false);
    expect(find(r.objects, "ServiceAccount", RELEASE).automountServiceAccountToken).toBe(false);
    // The original chart's selector, so `helm upgrade` can take over its release; and its README's pod query.
    expect(deployment.spec?.selector.matchLabels).toEqual({ app: "gitops-connector", "app.kubernetes.io/name": "gitops-connector", "app.kubernetes.io/instance": RELEASE });
  });

  test("a changed config or token rolls the pod; rolloutOnConfigChange: false leaves it to the daemon's reload", () => {
    const annotations = (values: object) => podOfValues(values).metadata?.annotations ?? {};
    const base = annotations(parseYaml(SEED_GITHUB));
    const changed = annotations({ ...parseYaml(SEED_GITHUB), gitHubGitOpsRepoName: "other" });
    expect(changed["checksum/config"]).not.toBe(base["checksum/config"]);
    expect(annotations({ ...parseYaml(SEED_GITHUB), orchestratorPAT: "rotated" })["checksum/secret"]).not.toBe(base["checksum/secret"]);
    expect(annotations({ ...parseYaml(SEED_GITHUB), rolloutOnConfigChange: false })["checksum/config"]).toBeUndefined();
  });
});

function podOfValues(values: object) {
  return new Deployment(find(template(values), "Deployment", RELEASE) as never).spec!.template;
}

describe("the seed's Flux + Azure DevOps values.yaml, exactly as printed", () => {
  test("renders valid objects and an Azure instance that passes check-config", async () => {
    const r = connectorOf(template(SEED_AZDO));
    expectAllValid(r.objects);
    expect(instancesOf(r)).toEqual([
      {
        name: "singleInstance",
        default: true,
        gitRepositoryType: "AZDO",
        ciCdOrchestratorType: "AZDO",
        gitOpsOperatorType: "FLUX",
        azdoGitOpsRepoName: "manifest-repo",
        azdoOrgUrl: "https://dev.azure.com/MyOrg/MyProject",
        azdoPrRepoName: "hld-repo",
        gitOpsAppURL: "https://github.com/microsoft/spektate",
        pat: "${PAT:-}",
        subscribers: { spektate: "http://spektate-server:5000/api/flux" },
      },
    ]);
    await expectConfigPasses(r);
  });

  test("the same instance written the newer chart's way (singleInstance.*) renders the same config", () => {
    const flat = parseYaml(SEED_AZDO) as Record<string, unknown>;
    const { orchestratorPAT, subscribers, ...keys } = flat;
    const nested = { orchestratorPAT, singleInstance: { ...keys, subscribers } };
    expect(connectorOf(template(nested)).config).toBe(connectorOf(template(SEED_AZDO)).config);
  });
});

describe("singleInstance: null with instances", () => {
  const gitopsConfigSpec = {
    gitRepositoryType: "AZDO",
    ciCdOrchestratorType: "AZDO",
    gitOpsOperatorType: "ARGOCD",
    gitOpsAppURL: "https://dev.azure.com/myorg/MyProject/_git/my-gitops-repo",
    azdoGitOpsRepoName: "my-gitops-repo",
    azdoPrRepoName: "my-gitops-repo",
    azdoOrgUrl: "https://dev.azure.com/myorg/MyProject",
  };
  const githubInstance = {
    gitRepositoryType: "GITHUB",
    ciCdOrchestratorType: "GITHUB",
    gitOpsOperatorType: "FLUX",
    gitOpsAppURL: "https://github.com/org/manifests/commit",
    gitHubOrgUrl: "https://api.github.com/repos/org",
    gitHubGitOpsManifestsRepoName: "manifests",
    gitHubGitOpsRepoName: "app-src",
    pat: "${GITHUB_TOKEN}",
  };
  const secrets = { "gitops-connector-tokens": { PAT: "azdo-pat-value", GITHUB_TOKEN: "github-token-value", WEBHOOK_HMAC_KEY: "hmac-key-value" } };

  test("two instances as name → GitOpsConfig spec, tokens from existingSecret: valid, and check-config lists both", async () => {
    const values = {
      singleInstance: null,
      existingSecret: "gitops-connector-tokens",
      config: { auth: { hmacKey: "${WEBHOOK_HMAC_KEY}" } },
      instances: { "my-gitops-repo-stage-dev": gitopsConfigSpec, "apps-github": githubInstance },
    };
    const r = connectorOf(template(values));
    expectAllValid(r.objects);
    expect(r.objects.some((object) => object.kind === "Secret")).toBe(false); // the user's Secret, not the chart's
    expect(r.container.envFrom).toEqual([{ secretRef: { name: "gitops-connector-tokens" } }]);
    const instances = instancesOf(r);
    expect(instances.map((instance) => instance.name).sort()).toEqual(["apps-github", "my-gitops-repo-stage-dev"]);
    expect(instances.find((instance) => instance.name === "my-gitops-repo-stage-dev")).toEqual({ name: "my-gitops-repo-stage-dev", ...gitopsConfigSpec, pat: "${PAT:-}" });
    expect(instances.find((instance) => instance.name === "apps-github")?.pat).toBe("${GITHUB_TOKEN}");
    expect(instances.some((instance) => instance.default)).toBe(false); // each Alert names its instance, as in the original
    const output = await expectConfigPasses(r, secrets);
    expect(output).toContain("my-gitops-repo-stage-dev");
    expect(output).toContain("apps-github");
    // Without the Secret's GITHUB_TOKEN the daemon would not start, and says which variable.
    const missing = await checkConfig(r.config, { PAT: "x", WEBHOOK_HMAC_KEY: "y" });
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("GITHUB_TOKEN");
  });

  test("Gitea, GitLab and GitHub App instances pass check-config; an app instance gets no ${PAT} of its own", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const values = {
      singleInstance: null,
      existingSecret: "gitops-connector-tokens",
      instances: [
        { name: "apps-gitea", gitOpsOperatorType: "FLUX", gitRepositoryType: "GITEA", ciCdOrchestratorType: "NONE", gitOpsAppURL: "https://gitea.example.com/org/manifests/commit", giteaOrgUrl: "https://gitea.example.com/api/v1/repos/org", giteaGitOpsManifestsRepoName: "manifests" },
        { name: "apps-gitlab", gitOpsOperatorType: "FLUX", gitRepositoryType: "GITLAB", ciCdOrchestratorType: "NONE", gitOpsAppURL: "https://gitlab.com/group/manifests/-/commit", gitLabGitOpsManifestsProject: "group/manifests" },
        { ...githubInstance, name: "apps-app", pat: undefined, gitHubAppId: 123456, gitHubAppInstallationId: 7890123, gitHubAppPrivateKey: "${GITHUB_APP_KEY}", promotion: { enabled: true } },
      ],
    };
    const r = connectorOf(template(values));
    expectAllValid(r.objects);
    const instances = instancesOf(r);
    expect(instances.find((instance) => instance.name === "apps-gitea")?.pat).toBe("${PAT:-}");
    expect(instances.find((instance) => instance.name === "apps-app")?.pat).toBeUndefined();
    const output = await expectConfigPasses(r, { "gitops-connector-tokens": { PAT: "gitea-and-gitlab-token", GITHUB_APP_KEY: privateKey.export({ type: "pkcs1", format: "pem" }).toString() } });
    expect(output).toContain("apps-gitea: FLUX → GITEA org/manifests");
    expect(output).toContain("apps-gitlab: FLUX → GITLAB group/manifests");
    expect(output).toContain("apps-app: FLUX → GITHUB org/manifests (GitHub App 123456)");
    expect(output).toContain("; promotion: promotes on success");
  });

  test("the list form, and whole GitOpsConfig objects as kubectl prints them, give the same config", () => {
    const asMap = connectorOf(template({ singleInstance: null, instances: { "my-gitops-repo-stage-dev": gitopsConfigSpec, "apps-github": githubInstance } })).config;
    const asList = connectorOf(template({ singleInstance: null, instances: [{ name: "apps-github", ...githubInstance }, { name: "my-gitops-repo-stage-dev", ...gitopsConfigSpec }] })).config;
    const asObjects = connectorOf(
      template({
        singleInstance: null,
        instances: [
          { name: "apps-github", ...githubInstance },
          { apiVersion: "example.com/v1", kind: "GitOpsConfig", metadata: { name: "my-gitops-repo-stage-dev", namespace: "gitops", uid: "5b0f" }, spec: gitopsConfigSpec },
        ],
      }),
    ).config;
    const sorted = (config: string) => instancesOf({ config } as RenderedConnector).sort((a, b) => a.name.localeCompare(b.name));
    expect(sorted(asList)).toEqual(sorted(asMap));
    expect(sorted(asObjects)).toEqual(sorted(asMap));
  });

  test("what import-gitopsconfig prints from the seed's GitOpsConfig example is an instances value the chart takes", async () => {
    const example = /See her for an example of a manifest:\n\n```\n([\s\S]*?)```/.exec(SEED_CHART_README)![1]!;
    const proc = Bun.spawn([...daemonCommand(), "import-gitopsconfig", "-"], { stdin: new Blob([example]), stdout: "pipe", stderr: "pipe" });
    const imported = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    const values = { singleInstance: null, existingSecret: "gitops-connector-tokens", ...(parseYaml(imported) as object) };
    const r = connectorOf(template(values));
    expect(instancesOf(r).map((instance) => instance.name)).toEqual(["my-gitops-repo-stage-dev"]);
    await expectConfigPasses(r, { "gitops-connector-tokens": { PAT: "azdo-pat-0123456789abcdef" } });
  });

  test("an entry without a name, or with a misspelt key in any of the three forms, fails helm install", () => {
    expect(templateError({ singleInstance: null, instances: [githubInstance] })).toMatch(/instances\/0[\s\S]*missing property 'name'/);
    const typo = { ...githubInstance, gitOpsAppUrl: githubInstance.gitOpsAppURL };
    expect(templateError({ singleInstance: null, instances: { "apps-github": typo } })).toContain("at '/instances/apps-github': additional properties 'gitOpsAppUrl' not allowed");
    expect(templateError({ singleInstance: null, instances: [{ name: "apps-github", ...typo }] })).toContain("additional properties 'gitOpsAppUrl' not allowed");
    const object = { apiVersion: "example.com/v1", kind: "GitOpsConfig", metadata: { name: "x" }, spec: { ...gitopsConfigSpec, azdoPrRepoNme: "r" } };
    expect(templateError({ singleInstance: null, instances: [object] })).toContain("at '/instances/0/spec': additional properties 'azdoPrRepoNme' not allowed");
    expect(templateError({ singleInstance: null, instances: { x: { ...githubInstance, gitOpsOperatorType: "flux" } } })).toContain("value must be one of 'FLUX', 'ARGOCD'");
  });

  test("the schema's instance keys are the config's instance keys", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as { definitions: { instance: { properties: Record<string, unknown> } } };
    // InstanceConfig is pipe(strictObject(entries), transform): its first step holds the keys.
    const entries = (InstanceConfig as unknown as { pipe: [{ entries?: Record<string, unknown> }] }).pipe[0].entries;
    expect(entries).toBeDefined();
    expect(Object.keys(schema.definitions.instance.properties).sort()).toEqual(Object.keys(entries!).sort());
  });

  test("top-level subscribers reach every instance, as the original chart's did; an instance's own win by name", () => {
    const r = connectorOf(
      template({
        singleInstance: null,
        subscribers: { spektate: "http://spektate-server:5000/api/flux", audit: "http://audit:8080/events" },
        instances: { "my-gitops-repo-stage-dev": gitopsConfigSpec, "apps-github": { ...githubInstance, subscribers: { audit: "http://audit-github:8080/events" } } },
      }),
    );
    const byName = Object.fromEntries(instancesOf(r).map((instance) => [instance.name, instance.subscribers]));
    expect(byName["my-gitops-repo-stage-dev"]).toEqual({ spektate: "http://spektate-server:5000/api/flux", audit: "http://audit:8080/events" });
    expect(byName["apps-github"]).toEqual({ spektate: "http://spektate-server:5000/api/flux", audit: "http://audit-github:8080/events" });
  });

  test("the single instance and instances together: both, the single one the default", async () => {
    const r = connectorOf(template({ ...parseYaml(SEED_GITHUB), existingSecret: "gitops-connector-tokens", instances: { "apps-github": githubInstance } }));
    expect(instancesOf(r).map((instance) => [instance.name, instance.default ?? false])).toEqual([
      ["singleInstance", true],
      ["apps-github", false],
    ]);
    await expectConfigPasses(r, secrets);
  });
});

describe("persistence off, ServiceMonitor, PrometheusRule and dashboard on", () => {
  const values = {
    ...parseYaml(SEED_GITHUB),
    persistence: { enabled: false },
    metrics: { serviceMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" } }, grafanaDashboard: { enabled: true } },
    prometheusRule: { enabled: true, labels: { release: "kube-prometheus-stack" }, alertLabels: { team: "platform" }, disabled: ["GitopsConnectorNoWebhooks"] },
  };
  const objects = () => template(values);

  test("renders valid objects, the outbox on an emptyDir and no claim", () => {
    const all = objects();
    expectAllValid(all);
    expect(all.some((object) => object.kind === "PersistentVolumeClaim")).toBe(false);
    const data = connectorOf(all).pod.volumes?.find((volume) => volume.name === "data");
    expect(data).toEqual({ name: "data", emptyDir: { sizeLimit: "256Mi" } });
  });

  test("the ServiceMonitor scrapes /metrics on the Service's named port, selecting exactly the Service", () => {
    const all = objects();
    const monitor = find(all, "ServiceMonitor", RELEASE) as Manifest & { spec: any };
    const service = find(all, "Service", RELEASE) as Manifest & { spec: any; metadata: { labels: Record<string, string> } };
    expect(monitor.metadata).toMatchObject({ labels: { release: "kube-prometheus-stack" } });
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    expect(monitor.spec.endpoints).toEqual([{ port: "http", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }]);
    expect(service.spec.ports.map((port: { name: string }) => port.name)).toContain("http");
  });

  test("the PrometheusRule holds the rules file's alerts with alertLabels added and the disabled one left out", () => {
    const rule = find(objects(), "PrometheusRule", RELEASE) as Manifest & { spec: { groups: { name: string; rules: Record<string, any>[] }[] } };
    const file = parseYaml(readFileSync(join(CHART, "files", "prometheus-rules.yaml"), "utf8")) as { groups: { name: string; rules: Record<string, any>[] }[] };
    const expected = file.groups.map((group) => ({
      name: group.name,
      rules: group.rules.filter((r) => r.alert !== "GitopsConnectorNoWebhooks").map((r) => ({ ...r, labels: { ...r.labels, team: "platform" } })),
    }));
    expect(rule.spec.groups).toEqual(expected);
    expect(rule.metadata).toMatchObject({ labels: { release: "kube-prometheus-stack" } });
  });

  test("the dashboard ConfigMap carries the sidecar's label and the dashboard JSON", () => {
    const dashboard = find(objects(), "ConfigMap", `${RELEASE}-dashboard`) as Manifest & { data: Record<string, string>; metadata: { labels: Record<string, string> } };
    expect(dashboard.metadata.labels.grafana_dashboard).toBe("1");
    expect(JSON.parse(dashboard.data["gitops-connector.json"]!)).toEqual(JSON.parse(readFileSync(join(CHART, "files", "grafana-dashboard.json"), "utf8")));
  });
});

describe("the notes helm install prints", () => {
  const notes = (values: object) => {
    const run = runHelm(["install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client"], values);
    if (run.code !== 0) throw new Error(run.stderr);
    return run.stdout.slice(run.stdout.indexOf("NOTES:"));
  };

  test("give the address and the Provider type that matches the configured auth", () => {
    const hmac = notes({ ...parseYaml(SEED_GITHUB), config: { auth: { hmacKey: "${WEBHOOK_HMAC_KEY}" } } });
    expect(hmac).toContain(`http://${RELEASE}.${NAMESPACE}:8080/gitopsphase`);
    expect(hmac).toContain("type generic-hmac");
    expect(hmac).not.toContain("not authenticated");
    const bearer = notes({ ...parseYaml(SEED_GITHUB), config: { auth: { bearerToken: "${WEBHOOK_TOKEN}" } } });
    expect(bearer).toContain("type generic, its Secret's headers carrying the bearer token");
    expect(notes(parseYaml(SEED_GITHUB))).toContain("webhooks are not authenticated");
  });

  test("warn of a missing instance or PAT, but not when the PAT comes from env, and read the dry run's outbox", () => {
    expect(notes({})).toContain("no instance is configured");
    const { orchestratorPAT: _, ...withoutPat } = parseYaml(SEED_GITHUB) as Record<string, unknown>;
    expect(notes(withoutPat)).toContain("WARNING: no PAT");
    expect(notes({ ...withoutPat, env: [{ name: "PAT", valueFrom: { secretKeyRef: { name: "tokens", key: "pat" } } }] })).not.toContain("no PAT");
    expect(notes(parseYaml(SEED_GITHUB))).not.toContain("no PAT");
    expect(notes({ ...withoutPat, dryRun: true })).toContain("outbox stats --data-dir /var/lib/gitops-connector --dry-run");
  });
});

describe("the other values of the original chart", () => {
  test("env, envFrom, volumes, pod labels and annotations pass through tpl; extraObjects too", () => {
    const values = {
      ...parseYaml(SEED_GITHUB),
      env: [{ name: "RELEASE", value: "{{ .Release.Name }}" }],
      envFrom: [{ configMapRef: { name: "{{ .Release.Name }}-extra" } }],
      podLabels: { team: "{{ .Release.Namespace }}" },
      podAnnotations: { "example.com/release": "{{ .Release.Name }}" },
      volumes: [{ name: "ca", configMap: { name: "{{ .Release.Name }}-ca" } }],
      volumeMounts: [{ name: "ca", mountPath: "/etc/ssl/custom", readOnly: true }],
      extraObjects: [
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "{{ .Release.Name }}-extra", namespace: NAMESPACE }, data: { A: "b" } },
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-ca\n  namespace: {{ .Release.Namespace }}\ndata: {}\n",
      ],
      image: { tag: "9.9.9" },
      imagePullSecrets: [{ name: "registry" }],
      nodeSelector: { "kubernetes.io/os": "linux" },
      tolerations: [{ key: "spot", operator: "Exists", effect: "NoSchedule" }],
      service: { type: "NodePort", port: 9090 },
      serviceAccount: { name: "custom-sa" },
      fullnameOverride: "connector",
    };
    const all = template(values);
    expectAllValid(all);
    const r = connectorOf(all, "connector");
    expect(r.container.env).toContainEqual({ name: "RELEASE", value: RELEASE });
    expect(r.container.envFrom).toContainEqual({ configMapRef: { name: `${RELEASE}-extra` } });
    expect(r.pod.volumes).toContainEqual({ name: "ca", configMap: { name: `${RELEASE}-ca` } });
    expect(r.container.volumeMounts).toContainEqual({ name: "ca", mountPath: "/etc/ssl/custom", readOnly: true });
    expect(r.container.image).toBe(`${IMAGE}:9.9.9`);
    expect(r.pod.imagePullSecrets).toEqual([{ name: "registry" }]);
    expect(r.pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(r.pod.serviceAccountName).toBe("custom-sa");
    find(all, "ServiceAccount", "custom-sa");
    find(all, "ConfigMap", `${RELEASE}-extra`);
    find(all, "ConfigMap", `${RELEASE}-ca`);
    const template_ = new Deployment(find(all, "Deployment", "connector") as never).spec!.template;
    expect(template_.metadata?.labels?.team).toBe(NAMESPACE);
    expect(template_.metadata?.annotations?.["example.com/release"]).toBe(RELEASE);
    const service = find(all, "Service", "connector") as Manifest & { spec: any };
    expect(service.spec.type).toBe("NodePort");
    expect(service.spec.ports[0]).toMatchObject({ port: 9090, targetPort: "http" });
    expect(portNumber(r.container, service.spec.ports[0].targetPort)).toBe(8080);
  });

  test("an original values.yaml with multipleInstances.clusterDomain still installs", () => {
    const r = connectorOf(template({ ...parseYaml(SEED_GITHUB), multipleInstances: { clusterDomain: "apps-crc.testing" } }));
    expect(r.config).not.toContain("clusterDomain");
  });

  test("a dashboard with its labels set to null still renders", () => {
    const objects = template({ ...parseYaml(SEED_GITHUB), metrics: { grafanaDashboard: { enabled: true, labels: null } } });
    expectAllValid(objects);
    find(objects, "ConfigMap", `${RELEASE}-dashboard`);
  });

  test("dryRun adds --dry-run; existingSecret and orchestratorPAT together are both read", () => {
    const r = connectorOf(template({ ...parseYaml(SEED_GITHUB), dryRun: true, existingSecret: "tokens" }));
    expect(r.container.args).toContain("--dry-run");
    expect(r.container.envFrom).toEqual([{ secretRef: { name: RELEASE } }, { secretRef: { name: "tokens" } }]);
  });
});

describe("the README's Helm install", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = codeBlockAfter(readme, "### Helm\n");
  const values = /<<'VALUES'\n([\s\S]*?)\nVALUES\n/.exec(block)![1]!;
  // The command with its continuation lines joined.
  const install = block.replace(/\\\n\s*/g, " ").split("\n").find((line) => line.startsWith("helm upgrade -i "))!.slice("helm upgrade -i ".length).trim().split(/\s+/);
  const secretKeys = [...block.matchAll(/--from-literal=(\w+)=/g)].map((m) => m[1]!);

  test("works verbatim as helm template from a clone: valid objects, a config that passes with the Secret's keys", async () => {
    // helm upgrade -i <release> <chart> <flags…>: the chart from a clone, the rest as printed.
    const [release, chart, ...flags] = install;
    expect(chart).toBe("oci://ghcr.io/gitops-connector/charts/gitops-connector");
    const versionAt = flags.indexOf("--version");
    expect(flags[versionAt + 1]).toBe(VERSION);
    flags.splice(versionAt, 2);
    const valuesAt = flags.indexOf("--values");
    expect(flags[valuesAt + 1]).toBe("values.yaml");
    flags.splice(valuesAt, 2);
    const run = runHelm(["template", release!, CHART, ...flags], values);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const objects = (yamlDocuments(run.stdout) as (Manifest | null)[]).filter((object): object is Manifest => object !== null);
    for (const object of objects) validate(object);
    const r = connectorOf(objects, release);
    expect(r.container.envFrom).toEqual([{ secretRef: { name: "gitops-connector-tokens" } }]);
    expect(secretKeys.sort()).toEqual(["PAT", "WEBHOOK_HMAC_KEY"]);
    const env = Object.fromEntries(secretKeys.map((key) => [key, `${key.toLowerCase()}-0123456789abcdef`]));
    const checked = await checkConfig(r.config, env);
    expect(checked.output).toContain("config ok");
    expect(checked.code).toBe(0);
    // The address the README gives is the Service the chart renders.
    const service = find(objects, "Service", release!) as Manifest & { spec: { ports: { port: number }[] } };
    expect(readme).toContain(`http://${service.metadata.name}.${service.metadata.namespace}:${service.spec.ports[0]!.port}/gitopsphase`);
  });
});

describe("the chart and the kustomize base", () => {
  test("agree on ports, probes, security contexts, resources, arguments and mounts", () => {
    const chart = connectorOf(template(SEED_GITHUB));
    const baseObjects = kustomize(join(ROOT, "deploy", "kubernetes", "base"));
    const basePod = new Deployment(find(baseObjects, "Deployment", "gitops-connector") as never).spec!.template.spec!;
    const base = basePod.containers.find((c) => c.name === "gitops-connector")!;
    expect(chart.container.ports).toEqual(base.ports!);
    expect(chart.container.livenessProbe).toEqual(base.livenessProbe!);
    expect(chart.container.readinessProbe).toEqual(base.readinessProbe!);
    expect(chart.container.securityContext).toEqual(base.securityContext!);
    expect(chart.container.resources).toEqual(base.resources!);
    expect(chart.container.command).toEqual(base.command!);
    expect(chart.container.args).toEqual(base.args!);
    const mounts = (c: typeof base) => (c.volumeMounts ?? []).map((mount) => [mount.mountPath, mount.readOnly ?? false]);
    expect(mounts(chart.container)).toEqual(mounts(base));
    expect(chart.pod.securityContext).toEqual(basePod.securityContext!);
    expect(chart.pod.terminationGracePeriodSeconds).toBe(basePod.terminationGracePeriodSeconds!);
    expect(chart.pod.automountServiceAccountToken).toBe(basePod.automountServiceAccountToken!);
    expect(chart.pod.enableServiceLinks).toBe(basePod.enableServiceLinks!);
    const chartService = find(chart.objects, "Service", RELEASE) as Manifest & { spec: any };
    const baseService = find(baseObjects, "Service", "gitops-connector") as Manifest & { spec: any };
    expect(chartService.spec.ports).toEqual(baseService.spec.ports);
    expect(chart.container.image?.split(":")[0]).toBe(base.image?.split(":")[0]);
    expect(chart.container.securityContext?.runAsUser).toBe(NONROOT);
  });
});

describe("replicas on PostgreSQL", () => {
  const postgresValues = {
    replicaCount: 3,
    config: { outbox: { driver: "postgres" } },
    postgres: { existingSecret: "gitops-connector-outbox" },
    singleInstance: null,
    existingSecret: "gitops-connector-tokens",
    instances: [{ name: "apps", gitRepositoryType: "GITHUB", ciCdOrchestratorType: "NONE", gitOpsOperatorType: "FLUX", gitOpsAppURL: "https://github.com/org/manifests/commit", gitHubOrgUrl: "https://api.github.com/repos/org", gitHubGitOpsManifestsRepoName: "manifests" }],
  };

  test("replicaCount 3 with driver postgres: RollingUpdate, anti-affinity, a PodDisruptionBudget, the URL from the Secret, no claim; check-config passes", async () => {
    const objects = template(postgresValues);
    expectAllValid(objects);
    const deployment = find(objects, "Deployment", RELEASE) as unknown as { spec: { replicas: number; strategy: unknown } };
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const r = connectorOf(objects);
    expect(r.pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).toBe("kubernetes.io/hostname");
    expect(objects.find((object) => object.kind === "PodDisruptionBudget")).toMatchObject({ spec: { maxUnavailable: 1 } });
    expect(objects.find((object) => object.kind === "PersistentVolumeClaim")).toBeUndefined();
    expect(r.pod.volumes?.find((volume) => volume.name === "data")?.emptyDir).toBeDefined();
    expect(r.container.env?.find((variable) => variable.name === "OUTBOX_URL")).toEqual({ name: "OUTBOX_URL", valueFrom: { secretKeyRef: { name: "gitops-connector-outbox", key: "url" } } });
    expect((parseYaml(r.config) as { outbox: unknown }).outbox).toEqual({ driver: "postgres", url: "${OUTBOX_URL}" });
    await expectConfigPasses(r, { "gitops-connector-outbox": { url: "postgres://gitops:chart-test-password-0123@db.example.com:5432/gitops" }, "gitops-connector-tokens": { PAT: REAL_LOOKING_PAT } });
  });

  test("replicaCount above 1 on SQLite is refused, and so is postgres without a URL", () => {
    expect(templateError({ replicaCount: 2 })).toContain("replicaCount 2 needs config.outbox.driver: postgres: the SQLite outbox is one file that one pod owns");
    expect(templateError({ config: { outbox: { driver: "postgres" } } })).toContain("needs config.outbox.url or postgres.existingSecret");
  });

  test("the default stays one replica on SQLite with Recreate and a claim, and no PodDisruptionBudget", () => {
    const objects = template();
    const deployment = find(objects, "Deployment", RELEASE) as unknown as { spec: { replicas: number; strategy: { type: string } } };
    expect([deployment.spec.replicas, deployment.spec.strategy.type]).toEqual([1, "Recreate"]);
    expect(objects.some((object) => object.kind === "PodDisruptionBudget")).toBe(false);
    expect(objects.some((object) => object.kind === "PersistentVolumeClaim")).toBe(true);
  });
});
