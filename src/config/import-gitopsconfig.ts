/**
 * `gitops-connector import-gitopsconfig` (DESIGN §14): turns the original connector's GitOpsConfig custom
 * resources, as `kubectl get gitopsconfigs -A -o yaml` prints them (a List, or multi-document YAML of objects),
 * into the `instances:` of our config file, which the Helm chart's `instances` also takes. The spec keys are the
 * instance keys already; the name comes from metadata.name; the tokens, which a GitOpsConfig never held (the
 * original read one PAT for all), become `${…}` references to variables the header says how to provide. Anything it cannot map is an error naming the
 * object and the key, and each mapped instance goes through the config's own instance schema, so what it prints
 * is what `check-config` accepts. Pure: text in, text out.
 */
import * as v from "valibot";
import { isDocument, parseAllDocuments, stringify } from "yaml";
import { formatPath } from "../schema/errors.ts";
import { InstanceConfig } from "./schema.ts";
import { issueToError } from "./validate.ts";

/** The spec fields of the original's CRD (gitopsconfigs.example.com), all strings. */
const SPEC_KEYS = [
  "gitRepositoryType",
  "ciCdOrchestratorType",
  "gitOpsOperatorType",
  "gitOpsAppURL",
  "azdoGitOpsRepoName",
  "azdoPrRepoName",
  "azdoOrgUrl",
  "gitHubGitOpsRepoName",
  "gitHubGitOpsManifestsRepoName",
  "gitHubOrgUrl",
] as const;

/**
 * The variables tokens are read from. The original read one PAT for every instance, which only works while they
 * all talk to one kind of service, so that case keeps its name (the Helm chart's orchestratorPAT fills it); once
 * GitHub and Azure DevOps both appear, each gets its own.
 */
const SHARED_TOKEN = "PAT";
const TOKEN_BY_SERVICE: Record<string, string> = { GITHUB: "GITHUB_PAT", AZDO: "AZDO_PAT" };

export type ImportResult = { readonly ok: true; readonly yaml: string; readonly count: number } | { readonly ok: false; readonly errors: string[] };

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every object in the input, with where it was: a List's items, or the documents themselves. */
function objectsOf(text: string, errors: string[]): { object: unknown; where: string }[] {
  const found: { object: unknown; where: string }[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    if (!isDocument(document)) return;
    const where = `document ${index + 1}`;
    if (document.errors.length > 0) {
      for (const error of document.errors) errors.push(`${where}: not YAML: ${error.message.split("\n")[0]}`);
      return;
    }
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) return;
    if (isRecord(value) && typeof value.kind === "string" && value.kind.endsWith("List")) {
      if (!Array.isArray(value.items)) errors.push(`${where}: a ${value.kind} without items`);
      else value.items.forEach((item, at) => found.push({ object: item, where: `${where}, items[${at}]` }));
    } else found.push({ object: value, where });
  });
  return found;
}

function describe(object: Json, where: string): string {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : undefined;
  const namespace = typeof metadata.namespace === "string" ? `${metadata.namespace}/` : "";
  return name ? `GitOpsConfig ${namespace}${name}` : `the object at ${where}`;
}

/** One GitOpsConfig as an instance, or the errors that keep it from being one. */
function toInstance(object: unknown, where: string): { instance?: Json; name?: string; who: string; errors: string[] } {
  if (!isRecord(object)) return { who: where, errors: [`${where}: not an object`] };
  const who = describe(object, where);
  const errors: string[] = [];
  if (object.kind !== "GitOpsConfig") return { who, errors: [`${who}: kind is ${JSON.stringify(object.kind ?? null)}, not GitOpsConfig`] };
  const name = isRecord(object.metadata) ? object.metadata.name : undefined;
  if (typeof name !== "string" || name === "") errors.push(`${who}: metadata.name is missing (it becomes the instance's name)`);
  const named = typeof name === "string" && name !== "" ? name : undefined;
  if (!isRecord(object.spec)) return { who, name: named, errors: [...errors, `${who}: spec is missing or not a mapping`] };
  const spec = object.spec;
  for (const key of Object.keys(spec)) {
    if (!(SPEC_KEYS as readonly string[]).includes(key)) errors.push(`${who}: spec.${key} is not a GitOpsConfig field this can map (known: ${SPEC_KEYS.join(", ")})`);
  }
  // In the CRD's order, which reads better than kubectl's alphabetical one.
  const instance: Json = { name };
  for (const key of SPEC_KEYS) {
    const value = spec[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") errors.push(`${who}: spec.${key} must be a string`);
    else if (value !== "") instance[key] = value;
  }
  // Stand-ins until the variables are chosen (they depend on every instance): long enough for the schema.
  instance.pat = STAND_IN_TOKEN;
  if (needsOrchestratorToken(instance)) instance.orchestratorPat = STAND_IN_TOKEN;
  const checked = v.safeParse(InstanceConfig, instance);
  if (!checked.success) {
    for (const issue of checked.issues) {
      const error = issueToError(issue);
      if (error.path[0] === "name" && typeof name !== "string") continue; // reported above
      const key = error.path[0] === "name" ? "metadata.name" : error.path.length > 0 ? `spec.${formatPath(error.path)}` : "spec";
      errors.push(`${who}: ${key}: ${error.message}`);
    }
  }
  return errors.length > 0 ? { who, name: named, errors } : { instance, name: named, who, errors };
}

const STAND_IN_TOKEN = "import-gitopsconfig-stand-in-token-0000000000";

/** A GitHub repository with Azure Pipelines (or the reverse) needs a token for each service. */
function needsOrchestratorToken(instance: Json): boolean {
  const orchestrator = instance.ciCdOrchestratorType;
  return typeof orchestrator === "string" && orchestrator !== "NONE" && orchestrator !== instance.gitRepositoryType;
}

/** Puts the token references in; the variables named, in order of first use. */
function assignTokens(instances: readonly Json[]): string[] {
  const services = new Set(instances.flatMap((instance) => [instance.gitRepositoryType, needsOrchestratorToken(instance) ? instance.ciCdOrchestratorType : undefined]).filter(Boolean));
  const variableFor = (service: unknown) => (services.size > 1 ? TOKEN_BY_SERVICE[String(service)]! : SHARED_TOKEN);
  const used: string[] = [];
  const use = (variable: string) => {
    if (!used.includes(variable)) used.push(variable);
    return `\${${variable}}`;
  };
  for (const instance of instances) {
    instance.pat = use(variableFor(instance.gitRepositoryType));
    if (needsOrchestratorToken(instance)) instance.orchestratorPat = use(variableFor(instance.ciCdOrchestratorType));
  }
  return used;
}

function header(count: number, variables: readonly string[]): string {
  const literals = variables.map((variable) => `--from-literal=${variable}="$${variable}"`).join(" ");
  return [
    `# ${count} instance${count === 1 ? "" : "s"} imported from GitOpsConfig objects by gitops-connector import-gitopsconfig.`,
    `# Tokens are read from the environment (${variables.join(", ")}), never written here. Create the Secret:`,
    `#   kubectl -n <namespace> create secret generic gitops-connector-tokens ${literals}`,
    "# and give it to the daemon: the Helm chart's existingSecret: gitops-connector-tokens, or envFrom in your",
    "# Deployment. Flux Alerts and Argo CD annotations keep naming these instances as they did.",
  ].join("\n");
}

export function importGitOpsConfigs(text: string): ImportResult {
  const errors: string[] = [];
  const instances: Json[] = [];
  // Names select instances (gitops_connector_config_name), so one name in two namespaces is ambiguous.
  const seen = new Map<string, string>();
  for (const { object, where } of objectsOf(text, errors)) {
    const mapped = toInstance(object, where);
    errors.push(...mapped.errors);
    if (mapped.instance) instances.push(mapped.instance);
    if (mapped.name === undefined) continue;
    const first = seen.get(mapped.name);
    if (first) errors.push(`${mapped.who}: name ${JSON.stringify(mapped.name)} is also ${first}; instance names must be unique (rename one, and its Alert or annotation)`);
    else seen.set(mapped.name, mapped.who);
  }
  if (errors.length === 0 && instances.length === 0) errors.push("no GitOpsConfig found (expected the output of kubectl get gitopsconfigs -A -o yaml)");
  if (errors.length > 0) return { ok: false, errors };
  const variables = assignTokens(instances);
  const body = stringify({ instances }, { lineWidth: 0 });
  return { ok: true, yaml: `${header(instances.length, variables)}\n${body}`, count: instances.length };
}
