/**
 * The Helm chart under deploy/helm/gitops-connector, driven with the real helm (test/support/tools.ts):
 * `helm template` with a values file, `helm lint --strict`, and what a rendered pod would see: its environment
 * from the Secrets it reads, and the config file its ConfigMap holds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { layerTools } from "../support/tools.ts";
import { container, find, podOf, yamlDocuments, type Container, type Manifest, type PodSpec } from "./manifests.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const CHART = join(ROOT, "deploy", "helm", "gitops-connector");
export const helm = layerTools().helm;

export interface HelmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with a values file holding `values` (text as it is, or an object as YAML), when given. */
export function runHelm(args: string[], values?: string | object): HelmRun {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-helm-"));
  try {
    const valueArgs: string[] = [];
    if (values !== undefined) {
      const path = join(dir, "values.yaml");
      writeFileSync(path, typeof values === "string" ? values : stringify(values));
      valueArgs.push("--values", path);
    }
    // Helm keeps its caches and config in HOME; a scratch one keeps runs apart from the machine's.
    const env = { PATH: process.env.PATH ?? "", HOME: dir, HELM_CACHE_HOME: join(dir, "cache"), HELM_CONFIG_HOME: join(dir, "config"), HELM_DATA_HOME: join(dir, "data") };
    const result = Bun.spawnSync([helm, ...args, ...valueArgs], { stdout: "pipe", stderr: "pipe", env });
    return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const RELEASE = "gitops-connector";
export const NAMESPACE = "gitops";

/** `helm template` of the chart; throws with helm's message when it fails. */
export function template(values?: string | object, extra: string[] = []): Manifest[] {
  const run = runHelm(["template", RELEASE, CHART, "--namespace", NAMESPACE, ...extra], values);
  if (run.code !== 0) throw new Error(`helm template failed (exit ${run.code}):\n${run.stderr}`);
  return (yamlDocuments(run.stdout) as (Manifest | null)[]).filter((object): object is Manifest => object !== null);
}

/** helm's error for values that must not render. */
export function templateError(values: string | object): string {
  const run = runHelm(["template", RELEASE, CHART, "--namespace", NAMESPACE], values);
  if (run.code === 0) throw new Error("helm template succeeded, but these values should have been refused");
  return run.stderr;
}

export interface RenderedConnector {
  readonly objects: Manifest[];
  readonly pod: PodSpec;
  readonly container: Container;
  /** The text of config.yaml as the pod reads it. */
  readonly config: string;
}

export function connectorOf(objects: Manifest[], name = RELEASE): RenderedConnector {
  const pod = podOf(find(objects, "Deployment", name));
  const c = container(pod, "gitops-connector");
  const configVolume = pod.volumes?.find((volume) => volume.name === "config");
  const configMap = find(objects, "ConfigMap", configVolume!.configMap!.name!);
  return { objects, pod, container: c, config: (configMap.data as Record<string, string>)["config.yaml"]! };
}

/**
 * The variables the container starts with: `env` values, and every key of each Secret `envFrom` names, read from
 * the rendered Secret or, for one the user creates (existingSecret), from `outside`.
 */
export function podEnvironment(rendered: RenderedConnector, outside: Record<string, Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of rendered.container.envFrom ?? []) {
    const name = source.secretRef?.name;
    if (!name) continue;
    const secret = rendered.objects.find((object) => object.kind === "Secret" && object.metadata.name === name) as
      | (Manifest & { stringData?: Record<string, string>; data?: Record<string, string> })
      | undefined;
    const keys = secret ? { ...secret.stringData, ...Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, atob(v)])) } : outside[name];
    if (!keys) throw new Error(`the pod reads Secret ${name}, which neither the chart renders nor the test provides`);
    Object.assign(env, keys);
  }
  for (const variable of rendered.container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref?.name && ref.key) {
      const value = outside[ref.name]?.[ref.key];
      if (value === undefined) throw new Error(`the pod reads key ${ref.key} of Secret ${ref.name}, which the test does not provide`);
      env[variable.name] = value;
    }
  }
  return env;
}

/** The seed's README (Azure/gitops-connector) and the original chart's README. */
export const SEED_README = readFileSync(join(ROOT, "..", "shared", "seeds", "000_b46d283edbd4577b.txt"), "utf8");
export const SEED_CHART_README = readFileSync(join(ROOT, "..", "shared", "seeds", "002_728bfa5d86b5dbbc.txt"), "utf8");

/** The code block printed after `heading` in a markdown text, exactly as printed. */
export function codeBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(heading);
  if (at < 0) throw new Error(`"${heading}" not found`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(markdown.slice(at));
  if (!match) throw new Error(`no code block after "${heading}"`);
  return match[1]!;
}
