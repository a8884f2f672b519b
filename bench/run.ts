/**
 * `bun run bench [--quick] [--only <section>[,<section>]]`: every benchmark section in turn (outbox enqueue, end
 * to end latency, webhook throughput, intake alone, delivery alone, CPU per deployment, PostgreSQL, slow API,
 * lifecycle, API calls, fan-out, deployments list), each table printed as its section ends, then one row per
 * target of the issue with the figure measured against it. The daemon sections all run the compiled binary,
 * built once up front. Exits 0 whatever the figures are (STYLE rule 13); only a crash makes it fail. Loopback
 * only; about 14 minutes in full on 2 cores, about 8 with --quick (estimates: the sections' own times added up).
 */
import { availableParallelism, cpus, freemem, loadavg, release, tmpdir, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { apiCallsSection } from "./api-calls.ts";
import { cpuPerDeploymentSection } from "./cpu-per-deployment.ts";
import { deliverySection } from "./delivery.ts";
import { deploymentsListSection } from "./deployments-list.ts";
import { e2eLatencySection } from "./e2e-latency.ts";
import { fanOutSection } from "./fan-out.ts";
import { intakeSection } from "./intake.ts";
import { benchBinary } from "./harness.ts";
import { lifecycleSection } from "./lifecycle.ts";
import { outboxEnqueueSection } from "./outbox-enqueue.ts";
import { postgresSection } from "./postgres.ts";
import { runSection, type Section } from "./section.ts";
import { slowApiSection } from "./slow-api.ts";
import { formatTargets } from "./targets.ts";
import { webhookThroughputSection } from "./webhook-throughput.ts";
import { wrkVersion } from "./wrk.ts";

const SECTIONS = [outboxEnqueueSection, e2eLatencySection, webhookThroughputSection, intakeSection, deliverySection, cpuPerDeploymentSection, postgresSection, slowApiSection, lifecycleSection, apiCallsSection, fanOutSection, deploymentsListSection] as const;
const IDS: readonly string[] = SECTIONS.map((section) => section.id);
const USAGE = `usage: bun run bench [--quick] [--only <section>[,<section>]]   sections: ${IDS.join(", ")}`;

function parseCommandLine(args: readonly string[]): { quick: boolean; only: ReadonlySet<string> } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: { quick: { type: "boolean" }, only: { type: "string" } }, allowPositionals: true });
    const only = values.only?.split(",").map((id) => id.trim()) ?? IDS;
    const unknown = [...positionals, ...only.filter((id) => !IDS.includes(id))];
    if (unknown.length > 0) throw new Error(`unknown: ${unknown.join(" ")}`);
    return { quick: values.quick === true, only: new Set(only) };
  } catch (error) {
    console.error(`${USAGE}\n(${(error as Error).message})`);
    process.exit(2);
  }
}

const { quick, only } = parseCommandLine(process.argv.slice(2));
const log = (line: string) => console.log(line);
const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const load = () => loadavg().map((value) => value.toFixed(2)).join(" ");
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

const started = performance.now();
console.log(`gitops-connector bench${quick ? " --quick" : ""}${only.size < IDS.length ? ` --only ${[...only].join(",")}` : ""}, ${new Date().toISOString()}`);
console.log(
  `machine: ${availableParallelism()} cpus (${cpus()[0]?.model ?? "?"}), ${gib(totalmem())} RAM (${gib(freemem())} free), ` +
    `kernel ${release()}, bun ${Bun.version}, temp dir ${tmpdir()}`,
);
console.log(`load average (1, 5, 15 min) at start: ${load()}`);
console.log(`load generator: ${(await wrkVersion()) ?? "wrk not installed (webhook throughput is skipped; apt-get install wrk)"}`);
if (SECTIONS.some((section) => section.needsBinary && only.has(section.id))) {
  const buildStarted = performance.now();
  const binary = await benchBinary();
  const how = process.env.GITOPS_CONNECTOR_BIN ? "GITOPS_CONNECTOR_BIN" : `package.json's build script, ${seconds(buildStarted)}`;
  console.log(`daemon under test: ${binary} (${how})`);
}
console.log("figures: median of the runs, (min–max) across runs");

/** Runs a selected section and prints its tables as soon as it ends; undefined when --only left it out. */
async function run<R>(section: Section<R>): Promise<R | undefined> {
  if (!only.has(section.id)) return undefined;
  console.log(`\n## ${section.title}`);
  const sectionStarted = performance.now();
  const result = await runSection(section, { quick, log });
  console.log(`\n${section.format(result)}\n(${section.id}: ${seconds(sectionStarted)})`);
  return result;
}

await run(outboxEnqueueSection);
const e2e = await run(e2eLatencySection);
const throughput = await run(webhookThroughputSection);
await run(intakeSection);
await run(deliverySection);
await run(cpuPerDeploymentSection);
await run(postgresSection);
const slowApi = await run(slowApiSection);
const lifecycle = await run(lifecycleSection);
const apiCalls = await run(apiCallsSection);
await run(fanOutSection);
await run(deploymentsListSection);

console.log(`\n## targets\n\n${formatTargets({ e2e, throughput, slowApi, lifecycle, apiCalls })}`);
console.log(`\nload average (1, 5, 15 min) at end: ${load()}`);
console.log(`total ${seconds(started)}`);
