/**
 * `bun run bench [--quick]`: outbox enqueue throughput, then end-to-end webhook → status latency against the
 * real daemon. Prints the machine and a table per benchmark. Exits 0 whatever the figures are (STYLE rule 13);
 * only a crash makes it fail. Loopback only; about a minute and a half in full, under 30 s with --quick.
 */
import { availableParallelism, cpus, freemem, release, totalmem } from "node:os";
import { tmpdir } from "node:os";
import { benchE2eLatency } from "./e2e-latency.ts";
import { benchOutboxEnqueue, JOBS_PER_WEBHOOK, WEBHOOK_SHAPE } from "./outbox-enqueue.ts";
import { formatSummary, formatTable, mebibytes, type Summary } from "./stats.ts";

const quick = process.argv.includes("--quick");
const unknown = process.argv.slice(2).filter((arg) => arg !== "--quick");
if (unknown.length > 0) {
  console.error(`usage: bun run bench [--quick]   (unknown: ${unknown.join(" ")})`);
  process.exit(2);
}

const log = (line: string) => console.log(line);
const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const ms = (summary: Summary) => formatSummary(summary, 2);
const mib = (summary: Summary) =>
  formatSummary({ ...summary, median: mebibytes(summary.median), min: mebibytes(summary.min), max: mebibytes(summary.max) }, 1, " MiB");

const started = performance.now();
console.log(`gitops-connector bench${quick ? " --quick" : ""}, ${new Date().toISOString()}`);
console.log(
  `machine: ${availableParallelism()} cpus (${cpus()[0]?.model ?? "?"}), ${gib(totalmem())} RAM (${gib(freemem())} free), ` +
    `kernel ${release()}, bun ${Bun.version}, temp dir ${tmpdir()}`,
);
console.log("figures: median of the runs, (min–max) across runs\n");

console.log(`outbox enqueue: store.submit() of one Flux Progressing webhook = ${JOBS_PER_WEBHOOK} jobs (${WEBHOOK_SHAPE})`);
const enqueue = benchOutboxEnqueue({ quick, log });
console.log();
console.log(
  formatTable(
    ["store", "webhooks/run", "webhooks/s", "jobs/s", "submit p50 ms", "submit p99 ms"],
    enqueue.rows.map((row) => [
      row.mode === "memory" ? ":memory:" : `file, WAL, synchronous=${row.mode}`,
      String(row.webhooksPerRun),
      formatSummary(row.webhooksPerSecond),
      formatSummary(row.jobsPerSecond),
      formatSummary(row.submitP50Ms, 3),
      formatSummary(row.submitP99Ms, 3),
    ]),
  ),
);
console.log(`\noutbox size with ${enqueue.growth.jobs.toLocaleString("en-US")} pending jobs (3 runs):`);
console.log(
  formatTable(
    ["measure", "value"],
    [
      ["db + wal while open", mib(enqueue.growth.openBytes)],
      ["of which wal", mib(enqueue.growth.walBytes)],
      ["db after close (checkpointed)", mib(enqueue.growth.closedBytes)],
      ["pendingDepth() at 100k pending", `${ms(enqueue.growth.depthCheckMs)} ms`],
      ["pendingDepth() at 10k pending", `${ms(enqueue.depthCheckAtMaxDepthMs)} ms`],
    ],
  ),
);

console.log("\nend to end: POST /gitopsphase → status at the fake GitHub API (real daemon, default outbox settings)");
const e2e = await benchE2eLatency({ quick, log });
console.log();
console.log(
  formatTable(
    ["measure", "p50 ms", "p99 ms", "max ms"],
    [
      ["webhook → status arrives", ms(e2e.delivery.p50), ms(e2e.delivery.p99), ms(e2e.delivery.max)],
      ["webhook → 202 answer", ms(e2e.response.p50), ms(e2e.response.p99), "—"],
    ],
  ),
);
console.log(`${e2e.runs.length} runs of ${e2e.ratePerSecond}/s for ${e2e.seconds} s; achieved ${formatSummary(e2e.achievedRate, 1)} events/s`);
const lost = e2e.runs.reduce((sum, run) => sum + (run.events - run.delivered), 0);
if (lost > 0) console.log(`note: ${lost} event(s) not delivered within the drain timeout (or not accepted); left out of the figures`);

console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
