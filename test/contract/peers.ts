/**
 * Helpers for contract tests: the daemon talks to Prism peers that serve GitHub's, Azure DevOps', Gitea's and
 * GitLab's own API descriptions (see ../shared/peers/README.md), and a test reads back each peer's journal of what
 * it received and whether the vendor's description allowed it. `run.ts` starts the peers and sets GITHUB_PEER_URL,
 * AZDO_PEER_URL, GITEA_PEER_URL and GITLAB_PEER_URL; a file like `github.contract.ts` imports these helpers and
 * nothing else peer-specific.
 */
import { expect } from "bun:test";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** The shared peers folder (start-peers.sh, specs/): env PEERS_DIR, else `<repo>/../shared/peers`. */
export const PEERS_DIR = process.env.PEERS_DIR ?? join(REPO_ROOT, "..", "shared", "peers");

export const GITHUB_PEER_URL = process.env.GITHUB_PEER_URL ?? "http://127.0.0.1:4010";
export const AZDO_PEER_URL = process.env.AZDO_PEER_URL ?? "http://127.0.0.1:4011";
export const GITEA_PEER_URL = process.env.GITEA_PEER_URL ?? "http://127.0.0.1:4012";
export const GITLAB_PEER_URL = process.env.GITLAB_PEER_URL ?? "http://127.0.0.1:4013";

export interface Violation {
  readonly location?: readonly string[];
  readonly severity?: string;
  readonly code?: string | number;
  readonly message: string;
}

/** One request as the peer recorded it (peer.mjs `record()`); `headers` holds Authorization, so never print it. */
export interface JournalEntry {
  readonly seq: number;
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON the daemon sent (null when none); a test narrows it by operationId. */
  readonly body: any;
  readonly operationId: string | null;
  readonly status: number;
  readonly requestOk: boolean;
  readonly responseOk: boolean;
  readonly prismProblem: { type: string; title?: string; detail?: string } | null;
  readonly violations: readonly Violation[];
}

/** `POST /repos/… -> 422 repos/create-commit-status [request.body.state: …]`, without headers or body. */
export function describeEntry(entry: JournalEntry): string {
  const problem = entry.prismProblem ? ` ${entry.prismProblem.type}` : "";
  const violations = entry.violations.map((v) => `${(v.location ?? []).join(".")}: ${v.message}`).join(" | ");
  return `${entry.method} ${entry.path} -> ${entry.status} ${entry.operationId ?? "(no operation)"}${problem}${violations ? ` [${violations}]` : ""}`;
}

async function control(peerUrl: string, path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(`${peerUrl}/__peer/${path}`, init);
  if (!response.ok) throw new Error(`peer ${peerUrl}: ${init?.method ?? "GET"} /__peer/${path} answered ${response.status}: ${await response.text()}`);
  return response;
}

/** Forgets every peer's journal and canned responses (the .ndjson journal files keep everything for run.ts). */
export async function clearPeers(): Promise<void> {
  await Promise.all(
    [GITHUB_PEER_URL, AZDO_PEER_URL, GITEA_PEER_URL, GITLAB_PEER_URL].flatMap((peer) => [
      control(peer, "journal", { method: "DELETE" }),
      control(peer, "responses", { method: "DELETE" }),
    ]),
  );
}

/** Every request the peer received since the last clear, oldest first. */
export async function journal(peerUrl: string): Promise<JournalEntry[]> {
  return (await control(peerUrl, "journal")).json() as Promise<JournalEntry[]>;
}

/** Fails listing each request the vendor's description refused (method, path, operation, violations). */
export function expectAllRequestsValid(entries: readonly JournalEntry[]): void {
  expect(entries.filter((entry) => !entry.requestOk).map(describeEntry)).toEqual([]);
}

export interface CannedResponse {
  /** As listed by `GET /__peer/operations`, e.g. `repos/get-commit`. */
  readonly operationId: string;
  readonly status?: number;
  readonly body: unknown;
  /** How many requests it answers (default 1). */
  readonly times?: number;
}

/** Queues an answer for the next valid request to that operation; the peer still checks it against the response schema. */
export async function cannedResponse(peerUrl: string, canned: CannedResponse): Promise<void> {
  await control(peerUrl, "responses", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(canned) });
}

const POLL_MS = 25;

/**
 * Resolves with the first journal entry matching the predicate. The peer has no push channel, so this polls
 * (every 25 ms); on timeout it fails listing what did arrive.
 */
export async function waitForJournal(
  peerUrl: string,
  predicate: (entry: JournalEntry) => boolean,
  timeoutMs = 10_000,
): Promise<JournalEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = await journal(peerUrl);
    const found = entries.find(predicate);
    if (found) return found;
    if (Date.now() >= deadline) {
      const arrived = entries.length ? entries.map((entry) => `  ${describeEntry(entry)}`).join("\n") : "  (nothing)";
      throw new Error(`peer ${peerUrl}: no matching request within ${timeoutMs} ms; it received:\n${arrived}`);
    }
    await Bun.sleep(POLL_MS);
  }
}
