/**
 * `bun test/contract/run.ts [bun test args…]`: the contract tests, with their peers. Starts the Prism peers
 * (../shared/peers/start-peers.sh) on free loopback ports, runs `bun test` on every test/contract/*.contract.ts
 * (a name bun's default globs skip, so a plain `bun test` never runs them without peers; an explicit `./` path
 * does), always stops the peers, then reads every peer's journal file and prints
 * `contract: N requests checked, R rejected`. Exits non-zero when a test failed or any request was rejected,
 * even one the daemon swallowed.
 *
 * Env: PEERS_DIR (default <repo>/../shared/peers); CONTRACT_JUNIT=<path> adds a JUnit report;
 * CONTRACT_RUN_DIR keeps peer logs and journals there (default: a temp dir, removed after a clean run).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEntry, PEERS_DIR, REPO_ROOT, type JournalEntry } from "./peers.ts";

const CONTRACT_DIR = import.meta.dir;
const START_SCRIPT = join(PEERS_DIR, "start-peers.sh");

function fail(message: string): never {
  console.error(`contract: ${message}`);
  process.exit(1);
}

/** The preferred port if it can be bound on 127.0.0.1 now, else one the kernel picks. */
function freePort(preferred: number, taken: readonly number[]): number {
  for (const port of taken.includes(preferred) ? [0] : [preferred, 0]) {
    try {
      const probe = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      const bound = probe.port;
      probe.stop(true);
      if (!taken.includes(bound)) return bound;
    } catch {
      // taken: fall through to a kernel-chosen port
    }
  }
  fail(`no free port on 127.0.0.1 near ${preferred}`);
}

function readJournals(runDir: string): JournalEntry[] {
  return readdirSync(runDir)
    .filter((file) => file.endsWith(".journal.ndjson"))
    .sort()
    .flatMap((file) =>
      readFileSync(join(runDir, file), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as JournalEntry),
    );
}

if (!existsSync(START_SCRIPT)) {
  fail(`no contract-test peers at ${PEERS_DIR} (start-peers.sh missing); set PEERS_DIR to the shared peers folder`);
}
const files = readdirSync(CONTRACT_DIR)
  .filter((file) => file.endsWith(".contract.ts"))
  .sort()
  .map((file) => `./test/contract/${file}`);
if (files.length === 0) fail(`no *.contract.ts files in ${CONTRACT_DIR}`);

// The script starts all four peers, each on its port: every one must be free, or a peer dies at start.
const githubPort = freePort(Number(process.env.GITHUB_PEER_PORT ?? 4010), []);
const azdoPort = freePort(Number(process.env.AZDO_PEER_PORT ?? 4011), [githubPort]);
const giteaPort = freePort(Number(process.env.GITEA_PEER_PORT ?? 4012), [githubPort, azdoPort]);
const gitlabPort = freePort(Number(process.env.GITLAB_PEER_PORT ?? 4013), [githubPort, azdoPort, giteaPort]);
const keepRunDir = process.env.CONTRACT_RUN_DIR;
const runDir = keepRunDir ?? mkdtempSync(join(tmpdir(), "gitops-connector-contract-"));
mkdirSync(runDir, { recursive: true });
const peerEnv = {
  ...process.env,
  PEERS_RUN_DIR: runDir,
  GITHUB_PEER_PORT: String(githubPort),
  AZDO_PEER_PORT: String(azdoPort),
  GITEA_PEER_PORT: String(giteaPort),
  GITLAB_PEER_PORT: String(gitlabPort),
};

let testRun: ReturnType<typeof Bun.spawn> | undefined;
let peersStopped: Promise<void> | undefined;
/**
 * SIGTERMs every peer named by a pid file at once (each takes ~1.7 s to exit, and the script stops them one
 * by one), then lets `start-peers.sh stop` wait, SIGKILL stragglers and remove the pid files. The script's
 * output is not inherited: a closed stdout (`| head`) would kill it half-way and leave a peer running.
 */
function stopPeers(): Promise<void> {
  peersStopped ??= (async () => {
    for (const file of readdirSync(runDir).filter((name) => name.endsWith(".pid"))) {
      try {
        process.kill(Number(readFileSync(join(runDir, file), "utf8").trim()), "SIGTERM");
      } catch {
        // already gone
      }
    }
    const stop = Bun.spawn(["bash", START_SCRIPT, "stop"], { env: peerEnv, stdout: "ignore", stderr: "pipe" });
    const errors = await new Response(stop.stderr).text();
    if ((await stop.exited) !== 0) console.error(`contract: start-peers.sh stop failed: ${errors.trim()}`);
  })();
  return peersStopped;
}
// On a signal the main flow below carries on: the tests end, the peers stop, the summary prints, exit 128+n.
let interrupted: number | undefined;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => {
    if (interrupted !== undefined) return;
    interrupted = code;
    console.error(`contract: ${signal}, stopping the tests and the peers`);
    // The test run leads its own process group, which holds the daemons its tests started.
    if (testRun) {
      try {
        process.kill(-testRun.pid, signal);
      } catch {
        // already gone
      }
    }
  });
}

const started = performance.now();
let testsExit = 1;
try {
  const start = Bun.spawn(["bash", START_SCRIPT], { env: peerEnv, stdout: "inherit", stderr: "inherit" });
  if ((await start.exited) !== 0) throw new Error(`start-peers.sh failed (logs in ${runDir})`);
  if (interrupted !== undefined) throw new Error("interrupted before the tests ran");

  const junit = process.env.CONTRACT_JUNIT ? ["--reporter=junit", `--reporter-outfile=${process.env.CONTRACT_JUNIT}`] : [];
  testRun = Bun.spawn([process.execPath, "test", ...files, ...junit, ...process.argv.slice(2)], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PEERS_DIR,
      GITHUB_PEER_URL: `http://127.0.0.1:${githubPort}`,
      AZDO_PEER_URL: `http://127.0.0.1:${azdoPort}`,
      GITEA_PEER_URL: `http://127.0.0.1:${giteaPort}`,
      GITLAB_PEER_URL: `http://127.0.0.1:${gitlabPort}`,
    },
    stdout: "inherit",
    stderr: "inherit",
    detached: true,
  });
  testsExit = await testRun.exited;
} catch (error) {
  console.error(`contract: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await stopPeers();
}

// The journal files hold every request of the run (DELETE /__peer/journal clears only the in-memory copy).
const entries = readJournals(runDir);
const rejected = entries.filter((entry) => !entry.requestOk);
const offSchemaResponses = entries.filter((entry) => !entry.responseOk).length;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\ncontract: ${entries.length} requests checked, ${rejected.length} rejected (${files.length} file${files.length === 1 ? "" : "s"}, ${seconds} s)`);
for (const entry of rejected) console.log(`  rejected: ${describeEntry(entry)}`);
if (offSchemaResponses > 0) console.log(`  note: ${offSchemaResponses} peer responses broke the vendor's response schema (canned or example data, not the daemon)`);

const ok = testsExit === 0 && rejected.length === 0 && entries.length > 0;
if (entries.length === 0 && testsExit === 0) console.log("  no request reached a peer: the contract tests checked nothing");
if (ok && !keepRunDir) rmSync(runDir, { recursive: true, force: true });
else console.log(`  peer logs and journals: ${runDir}`);
process.exit(interrupted ?? (ok ? 0 : 1));
