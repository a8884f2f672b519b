/**
 * The manifests under deploy/kubernetes, deploy/flux and deploy/argocd, checked the way a cluster and the
 * connector would see them. Each kustomization is rendered with `kubectl kustomize` and every object, rendered
 * or an example file, is validated (./manifests.ts). Then what the manifests promise: the pod's security
 * context and probes, the sidecar next to notification-controller with the Provider on its localhost port,
 * addresses that match the Service, configs that pass `gitops-connector check-config` with exactly the
 * Secret's keys, and an Argo CD template whose body, filled in as Argo CD would (./go-template.ts), is a
 * payload the connector routes and translates.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import * as v from "valibot";
import { parse as parseYaml } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { Service } from "kubernetes-models/v1";
import { translateArgoCd } from "../../src/operators/argocd.ts";
import { selectInstance } from "../../src/server/select-instance.ts";
import { renderGoTemplate } from "./go-template.ts";
import {
  ArgoApplication,
  checkConfig,
  container,
  find,
  FluxAlert,
  FluxProvider,
  flag,
  HttpUrl,
  kustomize,
  podOf,
  portNumber,
  validate,
  yamlDocuments,
  type Container,
  type Manifest,
  type PodSpec,
} from "./manifests.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DEPLOY = join(ROOT, "deploy");
const BASE = join(DEPLOY, "kubernetes", "base");
const SIDECAR = join(DEPLOY, "kubernetes", "overlays", "flux-sidecar");
const IMAGE = "ghcr.io/gitops-connector/gitops-connector";
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const NONROOT = 65532;

function expectHardenedContainer(c: Container): void {
  expect(c.securityContext).toMatchObject({
    runAsNonRoot: true,
    runAsUser: NONROOT,
    runAsGroup: NONROOT,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  expect(c.resources?.limits?.memory).toBe("160Mi");
  expect(c.resources?.requests?.memory).toBeDefined();
  expect(c.image?.startsWith(`${IMAGE}:`)).toBe(true);
}

/** The mounts all name a volume of the pod, the config mount holds --config and the data mount is --data-dir. */
function expectMountsMatchFlags(pod: PodSpec, c: Container): Record<string, NonNullable<PodSpec["volumes"]>[number]> {
  const volumes = Object.fromEntries((pod.volumes ?? []).map((volume) => [volume.name, volume]));
  for (const mount of c.volumeMounts ?? []) expect(volumes[mount.name]).toBeDefined();
  const mountAt = (path: string) => (c.volumeMounts ?? []).find((mount) => mount.mountPath === path);
  const config = mountAt(dirname(flag(c, "--config")!));
  const data = mountAt(flag(c, "--data-dir")!);
  expect(config?.readOnly).toBe(true);
  expect(config?.subPath).toBeUndefined(); // a subPath mount never sees ConfigMap updates
  expect(data?.readOnly).toBeFalsy();
  expect(mountAt("/tmp")).toBeDefined(); // the root file system is read-only
  return { config: volumes[config!.name]!, data: volumes[data!.name]! };
}

/** A connector container of a rendered Deployment, its checked mounts, and the config its ConfigMap holds. */
function connectorIn(objects: Manifest[], deployment: string) {
  const pod = podOf(find(objects, "Deployment", deployment));
  const c = container(pod, "gitops-connector");
  const volumes = expectMountsMatchFlags(pod, c);
  const configMap = find(objects, "ConfigMap", volumes.config!.configMap!.name!);
  const config = (configMap.data as Record<string, string>)[basename(flag(c, "--config")!)]!;
  return { pod, container: c, volumes, configMap, config };
}

/** server.shutdownGraceMs of a connector config (10000 by default). */
function shutdownGraceMs(configText: string): number {
  const config = parseYaml(configText) as { server?: { shutdownGraceMs?: number } };
  return config.server?.shutdownGraceMs ?? 10_000;
}

function instanceNames(configText: string): string[] {
  return ((parseYaml(configText) as { instances: { name: string }[] }).instances ?? []).map((instance) => instance.name);
}

/** The keys a Secret example provides, each with a dummy value. */
function secretKeys(file: string): Record<string, string> {
  const secret = parseYaml(readFileSync(file, "utf8")) as { stringData: Record<string, string> };
  return Object.fromEntries(Object.keys(secret.stringData).map((key) => [key, `dummy-${key.toLowerCase()}`]));
}

// ---------------------------------------------------------------------------------------------------------

describe("every manifest under deploy/", () => {
  const files = ["kubernetes", "flux", "argocd"].flatMap((dir) =>
    readdirSync(join(DEPLOY, dir), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".yaml"))
      .map((file) => join(dir, file)),
  );

  test("is a valid Kubernetes object, a kustomization, a patch or a connector config", () => {
    const notObjects: string[] = [];
    for (const file of files) {
      for (const document of yamlDocuments(readFileSync(join(DEPLOY, file), "utf8"))) {
        const object = document as Manifest;
        if (Array.isArray(document) || !object.apiVersion) notObjects.push(file);
        else if (!object.apiVersion.startsWith("kustomize.config.k8s.io/")) validate(object);
      }
    }
    // A new file that is none of these would escape validation: give it a place in this test.
    expect(notObjects.sort()).toEqual([
      "kubernetes/base/config.yaml",
      "kubernetes/overlays/flux-sidecar/gitops-connector-config.yaml",
      "kubernetes/overlays/flux-sidecar/gitops-connector-sidecar.yaml",
    ]);
  });

  test("names the connector's image by one name, the released one, and runs the binary and user the Dockerfile installs", () => {
    const images = files.flatMap((file) =>
      [...readFileSync(join(DEPLOY, file), "utf8").matchAll(/image: (\S*gitops-connector\S*)/g)].map((m) => m[1]),
    );
    expect(new Set(images)).toEqual(new Set([`${IMAGE}:${VERSION}`])); // the release's own tag
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^COPY .* \/usr\/local\/bin\/gitops-connector$/m);
    expect(dockerfile.match(/^USER (.*)$/gm)?.at(-1)).toBe(`USER ${NONROOT}:${NONROOT}`);
  });
});

describe("deploy/kubernetes/base", () => {
  const render = () => kustomize(BASE);

  test("renders the namespace, service account, claim, config, Service and Deployment, all valid", () => {
    const objects = render();
    for (const object of objects) validate(object);
    expect(objects.map((o) => o.kind).sort()).toEqual(["ConfigMap", "Deployment", "Namespace", "PersistentVolumeClaim", "Service", "ServiceAccount"]);
    for (const object of objects.filter((o) => o.kind !== "Namespace")) expect(object.metadata.namespace).toBe("gitops-connector");
    expect(find(objects, "ServiceAccount", "gitops-connector").automountServiceAccountToken).toBe(false);
  });

  test("runs one pod, recreated rather than rolled, hardened, probed on /healthz and /readyz", () => {
    const deployment = new Deployment(find(render(), "Deployment", "gitops-connector") as never);
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.strategy?.type).toBe("Recreate"); // the SQLite outbox on a RWO volume: never two pods
    const pod = deployment.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: NONROOT,
      runAsGroup: NONROOT,
      fsGroup: NONROOT, // the claim is writable by 65532 whoever provisioned it
      seccompProfile: { type: "RuntimeDefault" },
    });
    const c = container(pod, "gitops-connector");
    expectHardenedContainer(c);
    expect(c.command).toEqual(["/usr/local/bin/gitops-connector"]);
    expect(c.args).toEqual(["serve", "--config", "/etc/gitops-connector/config.yaml", "--data-dir", "/var/lib/gitops-connector"]);
    expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(c.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(portNumber(c, c.livenessProbe?.httpGet?.port)).toBe(8080);
    expect(portNumber(c, c.readinessProbe?.httpGet?.port)).toBe(8080);
    expect(c.envFrom).toEqual([{ secretRef: { name: "gitops-connector" } }]);
  });

  test("mounts the generated config, the claim as --data-dir and /tmp; stops within the grace period", () => {
    const { pod, volumes, configMap, config } = connectorIn(render(), "gitops-connector");
    expect(configMap.metadata.name).toMatch(/^gitops-connector-config-[a-z0-9]{10}$/); // hashed: a change rolls the pod
    find(render(), "PersistentVolumeClaim", volumes.data!.persistentVolumeClaim!.claimName);
    expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(shutdownGraceMs(config));
  });

  test("exposes the container's port as gitops-connector:8080, the address Flux and Argo CD are given", () => {
    const objects = render();
    const service = new Service(find(objects, "Service", "gitops-connector") as never);
    const deployment = new Deployment(find(objects, "Deployment", "gitops-connector") as never);
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(service.spec!.selector!);
    const [port] = service.spec!.ports!;
    expect(port!.port).toBe(8080);
    expect(portNumber(container(deployment.spec!.template.spec!, "gitops-connector"), port!.targetPort)).toBe(8080);
    const address = `http://${service.metadata!.name}.${service.metadata!.namespace}:${port!.port}/gitopsphase`;
    const fluxProviders = ["provider.yaml", "provider-generic.yaml"].map((file) => parseYaml(readFileSync(join(DEPLOY, "flux", file), "utf8")));
    for (const provider of fluxProviders) expect(provider.spec.address).toBe(address);
    expect(argoService().url).toBe(address);
  });

  test("its config passes check-config with exactly the keys of secret.example.yaml, and not without them", async () => {
    const { config } = connectorIn(render(), "gitops-connector");
    const keys = secretKeys(join(BASE, "secret.example.yaml"));
    const ok = await checkConfig(config, keys);
    expect(ok.output).toContain("config ok");
    expect(ok.code).toBe(0);
    const missing = await checkConfig(config, {});
    expect(missing.code).toBe(2);
    for (const key of Object.keys(keys)) expect(missing.output).toContain(key);
    // The Flux Alert's instance is one the config defines.
    const alert = v.parse(FluxAlert, parseYaml(readFileSync(join(DEPLOY, "flux", "alert.yaml"), "utf8")));
    expect(instanceNames(config)).toContain(alert.spec.eventMetadata?.gitops_connector_config_name ?? "(none)");
  });

  test("from a kustomization of your own: your config, image and namespace, the ephemeral-outbox component", () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-kustomize-"));
    try {
      // kustomize takes only relative paths to other kustomizations.
      writeFileSync(
        join(dir, "kustomization.yaml"),
        [
          "resources:",
          `  - ${relative(dir, BASE)}`,
          "components:",
          `  - ${relative(dir, join(DEPLOY, "kubernetes", "components", "ephemeral-outbox"))}`,
          "namespace: platform",
          "images:",
          `  - name: ${IMAGE}`,
          "    newName: registry.example.com/gitops-connector",
          "    newTag: 1.2.3",
          "configMapGenerator:",
          "  - name: gitops-connector-config",
          "    behavior: replace",
          "    files:",
          "      - config.yaml",
        ].join("\n"),
      );
      const ownConfig = readFileSync(join(BASE, "config.yaml"), "utf8").replace("name: apps-dev", "name: apps-prod");
      writeFileSync(join(dir, "config.yaml"), ownConfig);
      const objects = kustomize(dir);
      for (const object of objects) validate(object);
      expect(objects.some((o) => o.kind === "PersistentVolumeClaim")).toBe(false);
      expect(find(objects, "Namespace", "platform")).toBeDefined();
      for (const object of objects.filter((o) => o.kind !== "Namespace")) expect(object.metadata.namespace).toBe("platform");
      const { container: c, volumes, config } = connectorIn(objects, "gitops-connector");
      expect(config).toBe(ownConfig);
      expect(c.image).toBe("registry.example.com/gitops-connector:1.2.3");
      expect(volumes.data).toEqual({ name: "data", emptyDir: { sizeLimit: "256Mi" } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the postgres-replicas component: 2 pods rolled one at a time, spread over nodes, a PodDisruptionBudget, no claim; its config passes check-config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-connector-kustomize-"));
    try {
      writeFileSync(join(dir, "kustomization.yaml"), ["resources:", `  - ${relative(dir, BASE)}`, "components:", `  - ${relative(dir, join(DEPLOY, "kubernetes", "components", "postgres-replicas"))}`].join("\n"));
      const objects = kustomize(dir);
      for (const object of objects) validate(object);
      const deployment = new Deployment(find(objects, "Deployment", "gitops-connector") as never);
      expect(deployment.spec?.replicas).toBe(2);
      expect(deployment.spec?.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      expect(deployment.spec?.template.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).toBe("kubernetes.io/hostname");
      expect(objects.some((o) => o.kind === "PersistentVolumeClaim")).toBe(false);
      expect(find(objects, "PodDisruptionBudget", "gitops-connector")).toMatchObject({ metadata: { namespace: "gitops-connector" }, spec: { maxUnavailable: 1 } });
      const { volumes } = connectorIn(objects, "gitops-connector");
      expect(volumes.data).toEqual({ name: "data", emptyDir: { sizeLimit: "256Mi" } });
      // The config the component's comment shows, with the base's instance.
      const config = readFileSync(join(BASE, "config.yaml"), "utf8").replace(/^outbox:\n.*\n/m, 'outbox: { driver: postgres, url: "${OUTBOX_URL}" }\n');
      expect(config).toContain("driver: postgres");
      const keys = { ...secretKeys(join(BASE, "secret.example.yaml")), OUTBOX_URL: "postgres://gitops:component-test-pw-0123@postgres.db:5432/gitops" };
      const result = await checkConfig(config, keys);
      expect(result.output).toContain("config ok");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("deploy/kubernetes/overlays/flux-sidecar", () => {
  const render = () => kustomize(SIDECAR);
  const sidecar = () => {
    const pod = podOf(find(render(), "Deployment", "notification-controller"));
    return { pod, manager: container(pod, "manager"), connector: container(pod, "gitops-connector") };
  };

  test("renders valid objects, all in flux-system", () => {
    for (const object of render()) {
      validate(object);
      expect(object.metadata.namespace).toBe("flux-system");
    }
  });

  test("adds the connector after manager in notification-controller's pod, hardened, on a port of its own", () => {
    const { pod, manager, connector } = sidecar();
    expect(pod.containers.map((c) => c.name)).toEqual(["manager", "gitops-connector"]); // manager stays containers/0
    expectHardenedContainer(connector);
    const port = Number(flag(connector, "--port"));
    expect(connector.ports?.map((p) => p.containerPort)).toEqual([port]);
    const managerPorts = (manager.ports ?? []).map((p) => p.containerPort);
    expect(managerPorts).toContain(8080); // why the connector cannot keep its default port here
    expect(managerPorts).not.toContain(port);
    expect(connector.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(portNumber(connector, connector.livenessProbe?.httpGet?.port)).toBe(port);
    // No readiness probe: a full outbox must not take notification-controller's event endpoint out of service.
    expect(connector.readinessProbe).toBeUndefined();
    // No API token in the connector's container, though the pod's service account has one.
    expect(connector.volumeMounts?.some((mount) => mount.mountPath === "/var/run/secrets/kubernetes.io/serviceaccount")).toBe(true);
  });

  test("the Provider posts to the sidecar on localhost, signed with the key the sidecar checks", () => {
    const { connector } = sidecar();
    const provider = v.parse(FluxProvider, find(render(), "Provider", "gitops-connector"));
    expect(provider.spec.address).toBe(`http://localhost:${flag(connector, "--port")}/gitopsphase`);
    expect(provider.spec.type).toBe("generic-hmac");
    const hmacKey = connector.env?.find((variable) => variable.name === "WEBHOOK_HMAC_KEY");
    expect(hmacKey?.valueFrom?.secretKeyRef).toEqual({ name: provider.spec.secretRef?.name, key: "token" });
  });

  test("mounts its generated config, an emptyDir outbox and /tmp; the pod waits for it to stop", async () => {
    const { pod, container: connector, volumes, configMap, config } = connectorIn(render(), "notification-controller");
    expect(configMap.metadata.name).toMatch(/^gitops-connector-config-[a-z0-9]{10}$/);
    expect(volumes.data!.emptyDir).toBeDefined();
    expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(shutdownGraceMs(config));
    // The config passes check-config with the Secret's keys and the variables the patch sets itself.
    const env = {
      ...secretKeys(join(BASE, "secret.example.yaml")),
      ...Object.fromEntries((connector.env ?? []).map((variable) => [variable.name, "dummy-value"])),
    };
    const result = await checkConfig(config, env);
    expect(result.output).toContain("config ok");
    expect(result.code).toBe(0);
    const alert = v.parse(FluxAlert, find(render(), "Alert", "gitops-connector"));
    expect(instanceNames(config)).toContain(alert.spec.eventMetadata?.gitops_connector_config_name ?? "(none)");
  });
});

describe("deploy/flux", () => {
  test("renders a generic-hmac Provider and an Alert on Kustomization and GitRepository events naming an instance", () => {
    const objects = kustomize(join(DEPLOY, "flux"));
    for (const object of objects) validate(object);
    const provider = v.parse(FluxProvider, find(objects, "Provider", "gitops-connector"));
    expect(provider.spec.type).toBe("generic-hmac");
    expect(provider.spec.secretRef?.name).toBe("gitops-connector-webhook");
    const alert = v.parse(FluxAlert, find(objects, "Alert", "gitops-connector"));
    expect(alert.spec.providerRef.name).toBe(provider.metadata.name);
    expect(alert.spec.eventSeverity).toBe("info");
    expect(alert.spec.eventSources.map((source) => source.kind).sort()).toEqual(["GitRepository", "Kustomization"]);
    expect(alert.spec.eventMetadata?.gitops_connector_config_name).toBeTruthy();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Argo CD.

function argoConfigMap(): Record<string, string> {
  const configMap = parseYaml(readFileSync(join(DEPLOY, "argocd", "argocd-notifications-cm.yaml"), "utf8"));
  return configMap.data as Record<string, string>;
}

const ArgoWebhookService = v.strictObject({ url: HttpUrl, headers: v.array(v.strictObject({ name: v.string(), value: v.string() })) });
function argoService() {
  return v.parse(ArgoWebhookService, parseYaml(argoConfigMap()["service.webhook.gitops-connector"]!));
}

/** A template's webhook part and a trigger's conditions, as notifications-engine reads them (pkg/services/webhook.go, pkg/triggers). */
const ArgoTemplate = v.strictObject({
  webhook: v.record(v.string(), v.strictObject({ method: v.string(), body: v.string(), path: v.optional(v.string()) })),
});
const ArgoTrigger = v.array(
  v.strictObject({ description: v.optional(v.string()), when: v.string(), oncePer: v.optional(v.string()), send: v.array(v.string()) }),
);

type Instances = { instances: { name: string; default?: boolean }[] };
const EXAMPLE_INSTANCES = (parseYaml(readFileSync(join(ROOT, "config.example.yaml"), "utf8")) as Instances).instances;

describe("deploy/argocd", () => {
  const application = () => v.parse(ArgoApplication, parseYaml(readFileSync(join(DEPLOY, "argocd", "application.example.yaml"), "utf8")));
  const body = () => v.parse(ArgoTemplate, parseYaml(argoConfigMap()["template.gitops-connector"]!)).webhook["gitops-connector"]!;

  test("the webhook service sends JSON with the bearer token from argocd-notifications-secret", () => {
    const headers = Object.fromEntries(argoService().headers.map((header) => [header.name, header.value]));
    expect(headers["Content-Type"]).toBe("application/json");
    expect(headers.Authorization).toBe("Bearer $gitops-connector-token");
  });

  test("the template POSTs; the application's annotations subscribe it to an existing trigger and service", () => {
    expect(body().method).toBe("POST"); // Argo CD's webhook default is GET
    const data = argoConfigMap();
    const annotations = application().metadata.annotations ?? {};
    const subscription = Object.keys(annotations).find((key) => key.startsWith("notifications.argoproj.io/subscribe."));
    const [trigger, service] = subscription!.replace("notifications.argoproj.io/subscribe.", "").split(".");
    expect(data[`service.webhook.${service}`]).toBeDefined();
    const conditions = v.parse(ArgoTrigger, parseYaml(data[`trigger.${trigger}`]!));
    for (const condition of conditions) for (const template of condition.send) expect(data[`template.${template}`]).toBeDefined();
    // One condition per value, so each fires whenever the application enters that phase or health.
    const whens = conditions.map((condition) => condition.when).join("\n");
    for (const value of ["Running", "Succeeded", "Failed", "Error", "Progressing", "Healthy", "Degraded"]) expect(whens).toContain(`'${value}'`);
  });

  test("the body, filled in as Argo CD would for a synced application, is a payload the connector routes and translates", () => {
    const app = application();
    const resources = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "argocd", "succeeded-healthy.json"), "utf8")).resources;
    const synced = {
      ...app,
      status: {
        operationState: {
          phase: "Succeeded",
          message: 'successfully synced (all tasks run); hook "pre-sync"\nfinished',
          operation: { sync: { revision: "9f84ad6b89dc26670c0d6e7a3f81093b41c04438" } },
          syncResult: { revision: "9f84ad6b89dc26670c0d6e7a3f81093b41c04438" },
          startedAt: "2026-11-30T10:00:01Z",
          finishedAt: "2026-11-30T10:00:09Z",
        },
        sync: { status: "Synced", revision: "9f84ad6b89dc26670c0d6e7a3f81093b41c04438" },
        health: { status: "Healthy" },
        resources,
      },
    };
    const payload = JSON.parse(renderGoTemplate(body().body, { app: synced }));
    expect(payload).toMatchObject({ app: "guestbook", gitops_connector_config_name: app.metadata.annotations!["gitops-connector-config-name"] });
    const selected = selectInstance(EXAMPLE_INSTANCES, undefined, payload);
    expect(selected).toMatchObject({ ok: true, instance: { name: "payments-prod" } });
    const translation = translateArgoCd(payload, { statusContext: "default", instanceName: "payments-prod" });
    expect(translation).toMatchObject({
      kind: "observation",
      observation: { commit: "9f84ad6b89dc26670c0d6e7a3f81093b41c04438", outcome: "succeeded", reconciler: { name: "guestbook" } },
    });
  });

  test("the body carries every revision field, and the connector picks the one Argo CD synced (argo-cd#16601, #29575, multi-source)", () => {
    const [synced, head] = ["48c7489aa2e8309a658e9b785074e360a5eff369", "9e8adf58ef5b87814490a4fe0cfaacd8f96effc2"];
    const render = (status: Record<string, unknown>) => JSON.parse(renderGoTemplate(body().body, { app: { ...application(), status: { resources: [], health: { status: "Healthy" }, ...status } } }));
    const commitOf = (payload: unknown) => {
      const translation = translateArgoCd(payload, { statusContext: "default", instanceName: "payments-prod" });
      return translation.kind === "observation" ? [translation.observation.commit, translation.observation.outcome ?? "pending"] : translation.kind;
    };
    const finished = { startedAt: "2026-11-30T10:00:01Z", finishedAt: "2026-11-30T10:00:09Z" };
    // The head moved on (a commit for another app); the app synced its own commit.
    expect(commitOf(render({ operationState: { ...finished, phase: "Succeeded", operation: { sync: { revision: synced } }, syncResult: { revision: synced } }, sync: { status: "Synced", revision: head } }))).toEqual([synced, "succeeded"]);
    // An early failure: no requested revision; the compared one stands in.
    expect(commitOf(render({ operationState: { ...finished, phase: "Error", operation: { sync: {} } }, sync: { status: "Unknown", revision: head } }))).toEqual([head, "failed"]);
    // Multi-source: a chart version and a commit.
    expect(commitOf(render({ operationState: { ...finished, phase: "Succeeded", operation: { sync: { revisions: ["65.3.2", synced] } }, syncResult: { revisions: ["65.3.2", synced] } }, sync: { status: "Synced", revisions: ["65.3.2", head] } }))).toEqual([synced, "succeeded"]);
    // Succeeded before the operation finished.
    expect(commitOf(render({ operationState: { startedAt: finished.startedAt, phase: "Succeeded", operation: { sync: { revision: synced } }, syncResult: { revision: synced } }, sync: { status: "Synced", revision: synced } }))).toEqual([synced, "pending"]);
  });

  test("for an application never synced and without annotations the body is still JSON, ignored rather than rejected", () => {
    const bare = { metadata: { name: "fresh" }, spec: {}, status: { sync: { status: "OutOfSync" }, health: { status: "Missing" } } };
    const payload = JSON.parse(renderGoTemplate(body().body, { app: bare }));
    expect(payload).toMatchObject({ app: "fresh", commitid: "", phase: "", gitops_connector_config_name: "", resources: null });
    expect(selectInstance(EXAMPLE_INSTANCES, undefined, payload)).toMatchObject({ ok: true, instance: { default: true } });
    expect(translateArgoCd(payload, { statusContext: "default", instanceName: "payments-prod" }).kind).toBe("ignored");
  });
});

describe("the Go template renderer these tests fill Argo CD's body with", () => {
  test("follows Go and Sprig where the body relies on them, and refuses what it does not know", () => {
    const data = { app: { metadata: { name: 'say "hi"' } } };
    expect(renderGoTemplate("{{ .app.status.phase }}", data)).toBe("<no value>"); // a missing key is not an error
    expect(renderGoTemplate('{{ .app.status.phase | default "" | toJson }}', data)).toBe('""');
    expect(renderGoTemplate("{{ .app.metadata.name | toJson }}", data)).toBe(JSON.stringify('say "hi"'));
    expect(renderGoTemplate('{{ with .app.metadata.labels }}{{ index . "x" }}{{ else }}none{{ end }}', data)).toBe("none");
    expect(() => renderGoTemplate('{{ index .app.metadata.labels "x" }}', data)).toThrow("index of untyped nil");
    expect(() => renderGoTemplate("{{ if .app }}x{{ end }}", data)).toThrow("not supported");
    expect(() => renderGoTemplate("{{ .app.metadata | quote }}", data)).toThrow("unsupported");
  });
});
