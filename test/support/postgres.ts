/**
 * A real PostgreSQL for the tests: `OUTBOX_PG_URL` when set (.ci/run starts one and sets it), else, as root on a
 * Debian, one this helper installs (Debian's `postgresql`), creates (cluster `gitops-test` on port 55432, fsync
 * off: a test server) and starts, once per machine; then every later run reuses it. Anything else fails with
 * what to do: the PostgreSQL tests never skip. `freshSchema()` gives each test file its own schema, dropped after.
 */
import { SQL } from "bun";

const PORT = 55432;
const CLUSTER = "gitops-test";
const VERSION = "15";
/** A password long enough that the daemon's redactor (which hides it everywhere) leaves ordinary words alone. */
const PASSWORD = "outbox-test-Pa55word-7c1e";
const DEFAULT_URL = `postgres://gitops:${PASSWORD}@127.0.0.1:${PORT}/gitops`;

function sh(command: string[], env: Record<string, string> = {}): { code: number; out: string } {
  const result = Bun.spawnSync(command, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: `${result.stdout.toString()}${result.stderr.toString()}` };
}

function must(command: string[]): string {
  const { code, out } = sh(command);
  if (code !== 0) throw new Error(`${command.join(" ")} failed (exit ${code}):\n${out}`);
  return out;
}

/** Installs, creates and starts the test cluster when it is not running; idempotent. */
function ensureLocalCluster(): string {
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) {
    throw new Error("no PostgreSQL for the tests: set OUTBOX_PG_URL=postgres://user:password@host:port/database, or run as root on a Debian (this helper then installs and starts one)");
  }
  if (!Bun.which("pg_createcluster")) {
    if (sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"]).code !== 0) {
      sh(["apt-get", "update", "-qq"]);
      must(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"]);
    }
  }
  const clusters = sh(["pg_lsclusters", "--no-header"]).out;
  const line = clusters.split("\n").find((row) => row.split(/\s+/)[1] === CLUSTER);
  if (line === undefined) {
    must(["pg_createcluster", VERSION, CLUSTER, "-p", String(PORT)]);
    // A test server: nothing it holds outlives the tests, so durability is traded for speed.
    Bun.write(`/etc/postgresql/${VERSION}/${CLUSTER}/conf.d/test.conf`, "listen_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n");
  }
  if (!/\sonline\s/.test(sh(["pg_lsclusters", "--no-header"]).out.split("\n").find((row) => row.split(/\s+/)[1] === CLUSTER) ?? "")) {
    must(["pg_ctlcluster", VERSION, CLUSTER, "start"]);
  }
  const psql = (sql: string) => sh(["runuser", "-u", "postgres", "--", "psql", "-p", String(PORT), "-qtAc", sql]);
  const role = psql("SELECT 1 FROM pg_roles WHERE rolname = 'gitops'").out.trim() === "1" ? "ALTER" : "CREATE";
  must(["runuser", "-u", "postgres", "--", "psql", "-p", String(PORT), "-qc", `${role} ROLE gitops LOGIN CREATEDB PASSWORD '${PASSWORD}'`]);
  if (psql("SELECT 1 FROM pg_database WHERE datname = 'gitops'").out.trim() !== "1") must(["runuser", "-u", "postgres", "--", "psql", "-p", String(PORT), "-qc", "CREATE DATABASE gitops OWNER gitops"]);
  return DEFAULT_URL;
}

let url: string | undefined;
/** The PostgreSQL the tests use. */
export function postgresUrl(): string {
  url ??= process.env.OUTBOX_PG_URL ?? ensureLocalCluster();
  return url;
}

/** A schema of its own for one test file (`search_path` set in the URL's options), and how to drop it. */
export async function freshSchema(prefix: string): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const base = postgresUrl();
  const schema = `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const admin = new SQL(base);
  await admin.unsafe(`CREATE SCHEMA "${schema}"`);
  await admin.close();
  const withSchema = new URL(base);
  withSchema.searchParams.set("options", `-c search_path=${schema}`);
  return {
    url: withSchema.toString(),
    schema,
    async drop() {
      const sql = new SQL(base);
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.close();
    },
  };
}

/**
 * A PostgreSQL cluster of one test's own (as root on a Debian), to stop and start under a running daemon without
 * disturbing the shared one. Dropped by `drop()`.
 */
export function ownCluster(name: string, port: number): { url: string; stop(): void; start(): void; drop(): void } {
  postgresUrl(); // installs PostgreSQL when needed, and fails the same way when it cannot
  if (process.getuid?.() !== 0) throw new Error("a cluster of its own needs root (pg_createcluster); run the tests as root, as CI does");
  sh(["pg_dropcluster", "--stop", VERSION, name]);
  must(["pg_createcluster", VERSION, name, "-p", String(port)]);
  Bun.write(`/etc/postgresql/${VERSION}/${name}/conf.d/test.conf`, "listen_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
  must(["pg_ctlcluster", VERSION, name, "start"]);
  const psql = (sql: string) => must(["runuser", "-u", "postgres", "--", "psql", "-p", String(port), "-qc", sql]);
  psql(`CREATE ROLE gitops LOGIN PASSWORD '${PASSWORD}'`);
  psql("CREATE DATABASE gitops OWNER gitops");
  return {
    url: `postgres://gitops:${PASSWORD}@127.0.0.1:${port}/gitops`,
    stop: () => void must(["pg_ctlcluster", VERSION, name, "stop", "-m", "fast"]),
    start: () => void must(["pg_ctlcluster", VERSION, name, "start"]),
    drop: () => void sh(["pg_dropcluster", "--stop", VERSION, name]),
  };
}

/**
 * PgBouncer in transaction mode (Debian's `pgbouncer`, installed as root when missing) in front of a database of
 * its own on the test server: what a replica behind a pooler sees (no LISTEN, no prepared statements, no session
 * state; a schema through `options` is refused, hence a database). Stopped and dropped by `stop()`.
 */
export async function startPgBouncer(port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new URL(postgresUrl());
  if (!Bun.which("pgbouncer")) {
    if (process.getuid?.() !== 0) throw new Error("pgbouncer is not installed: apt-get install pgbouncer");
    if (sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "pgbouncer"]).code !== 0) {
      sh(["apt-get", "update", "-qq"]);
      must(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "pgbouncer"]);
    }
  }
  const database = `bouncer_${process.pid}`;
  const admin = new SQL(postgresUrl());
  await admin.unsafe(`DROP DATABASE IF EXISTS ${database}`);
  await admin.unsafe(`CREATE DATABASE ${database} OWNER gitops`);
  await admin.close();
  const dir = (await import("node:fs")).mkdtempSync("/tmp/pgbouncer-");
  const password = decodeURIComponent(server.password);
  await Bun.write(`${dir}/userlist.txt`, `"gitops" "${password}"\n`);
  await Bun.write(`${dir}/pgbouncer.ini`, [
    "[databases]",
    `${database} = host=${server.hostname} port=${server.port} dbname=${database}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = plain",
    `auth_file = ${dir}/userlist.txt`,
    "pool_mode = transaction",
    "max_client_conn = 200",
    "default_pool_size = 10",
    `logfile = ${dir}/pgbouncer.log`,
    "",
  ].join("\n"));
  (await import("node:fs")).chmodSync(dir, 0o777);
  const command = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", "pgbouncer", `${dir}/pgbouncer.ini`] : ["pgbouncer", `${dir}/pgbouncer.ini`];
  const proc = Bun.spawn(command, { stdout: "ignore", stderr: "pipe" });
  const url = `postgres://gitops:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  for (let tries = 0; ; tries += 1) {
    try {
      const probe = new SQL({ url, prepare: false, max: 1 });
      await probe`SELECT 1`;
      await probe.close();
      break;
    } catch (error) {
      if (tries > 50) throw new Error(`pgbouncer did not answer on ${port}: ${(error as Error).message}\n${await Bun.file(`${dir}/pgbouncer.log`).text().catch(() => "")}`);
      await Bun.sleep(100);
    }
  }
  return {
    url,
    async stop() {
      proc.kill();
      await proc.exited;
      const cleanup = new SQL(postgresUrl());
      await cleanup.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
      await cleanup.close();
    },
  };
}

if (import.meta.main) {
  const sql = new SQL(postgresUrl());
  const [row] = await sql`SELECT version() AS version`;
  console.log((row as { version: string }).version.split(",")[0]);
  await sql.close();
}
