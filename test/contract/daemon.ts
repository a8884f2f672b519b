/**
 * The real daemon as contract tests drive it (on top of ../support/daemon.ts): started from a config text that
 * points at the peers, fed webhooks, then drained and stopped, so that the peer journals hold every request it
 * will ever make for the test and nothing leaks into the next one.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { jsonLines, startDaemon } from "../support/daemon.ts";

export type ContractDaemon = Awaited<ReturnType<typeof startDaemon>> & { readonly configDir: string };

const running = new Set<ContractDaemon>();

/** Starts `serve` (not a dry run) on a fresh data dir with this YAML config; `env` carries the fake tokens. */
export async function startContractDaemon(configYaml: string, env: Record<string, string>): Promise<ContractDaemon> {
  const configPath = join(mkdtempSync(join(tmpdir(), "gitops-connector-contract-config-")), "config.yaml");
  writeFileSync(configPath, configYaml);
  const daemon = { ...(await startDaemon({ configPath, env, dryRun: false })), configDir: dirname(configPath) };
  running.add(daemon);
  return daemon;
}

/** SIGKILLs daemons a failed test left running (their config and data stay for a look); for afterEach. */
export function killContractDaemons(): void {
  for (const daemon of running) daemon.proc.kill("SIGKILL");
  running.clear();
}

/** POSTs a webhook to `/gitopsphase/<instance>` and returns the HTTP status (202 when accepted). */
export async function postWebhook(daemon: ContractDaemon, instance: string, event: unknown): Promise<number> {
  const response = await fetch(`${daemon.url}/gitopsphase/${instance}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event),
  });
  return response.status;
}

async function outboxDepth(daemon: ContractDaemon): Promise<number> {
  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  const match = /^gitops_connector_outbox_depth (\d+)/m.exec(metrics);
  if (!match) throw new Error("the daemon's /metrics has no gitops_connector_outbox_depth");
  return Number(match[1]);
}

/**
 * Waits until the outbox holds no pending job (in-flight ones count as pending), polling /metrics every 25 ms,
 * then stops the daemon with SIGTERM, checks it exited 0 with nothing left pending, and removes its files.
 */
export async function drainAndStop(daemon: ContractDaemon, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let depth = await outboxDepth(daemon); depth > 0; depth = await outboxDepth(daemon)) {
    if (Date.now() >= deadline) {
      throw new Error(`the daemon still had ${depth} pending jobs after ${timeoutMs} ms; its log:\n${daemon.lines.join("\n")}`);
    }
    await Bun.sleep(25);
  }
  daemon.proc.kill("SIGTERM");
  const code = await daemon.exited;
  running.delete(daemon);
  const stopped = jsonLines(daemon.lines).find((line) => String(line.msg).startsWith("stopped;"));
  if (code !== 0 || stopped?.pending !== 0) {
    throw new Error(`the daemon exited ${code} with ${stopped?.pending ?? "unknown"} jobs pending; its log:\n${daemon.lines.join("\n")}`);
  }
  for (const dir of [daemon.configDir, daemon.dataDir]) rmSync(dir, { recursive: true, force: true });
}
