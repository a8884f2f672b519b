/**
 * The deployments API (DESIGN §12): `GET /api/deployments`, `GET /api/deployments/:instance/:commit`,
 * `GET /api/promotions` and `GET /api/events` (Server-Sent Events, one event per change, `Last-Event-ID`
 * resumes). It reads the outbox's read model and adds what the current config knows (an instance's environment
 * and commit link). Nothing here carries a token, a payload or a PR body: the read model holds none.
 * Framework-free (Request → Response), mounted in app.ts.
 */
import {
  DEPLOYMENT_STATES,
  type Change,
  type DeploymentState,
  type DeploymentsReader,
  type DeploymentView,
  type PromotionView,
  type StoredDeployment,
} from "../core/deployments.ts";

export interface ShownInstance {
  readonly name: string;
  readonly environment?: string;
  readonly gitOpsAppURL: string;
}

export interface DeploymentsApiDeps {
  readonly reader: DeploymentsReader;
  /** The current config's instances (names, environments, commit links), read per request. */
  instances(): readonly ShownInstance[];
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
/** An SSE comment this often keeps proxies and the server's idle timeout from closing a quiet stream. */
export const HEARTBEAT_MS = 5_000;
/** How many missed changes a resuming client is sent at most; beyond, it should reload the list. */
const RESUME_LIMIT = 1_000;

const json = (status: number, body: unknown) => Response.json(body, { status, headers: { "cache-control": "no-store" } });

export interface DeploymentFilter {
  readonly instance?: string;
  readonly env?: string;
  readonly states?: readonly DeploymentState[];
  readonly limit: number;
  readonly before?: number;
}

/** The query string of the list, checked; a message for a 400 otherwise. */
export function parseDeploymentFilter(params: URLSearchParams): DeploymentFilter | string {
  const limitText = params.get("limit");
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return `limit must be a whole number from 1 to ${MAX_LIMIT}`;
  const states = params.get("state")?.split(",").filter((state) => state !== "");
  const unknown = states?.find((state) => !DEPLOYMENT_STATES.includes(state as DeploymentState));
  if (unknown !== undefined) return `state ${JSON.stringify(unknown)} is not one of ${DEPLOYMENT_STATES.join(", ")}`;
  const beforeText = params.get("before");
  const before = beforeText === null ? undefined : /^\d+$/.test(beforeText) ? Number(beforeText) : Date.parse(beforeText);
  if (before !== undefined && !Number.isFinite(before)) return "before must be epoch milliseconds or an ISO 8601 time (the list's next link gives one)";
  return {
    limit,
    ...(params.get("instance") ? { instance: params.get("instance")! } : {}),
    ...(params.get("env") ? { env: params.get("env")! } : {}),
    ...(states && states.length > 0 ? { states: states as DeploymentState[] } : {}),
    ...(before !== undefined ? { before } : {}),
  };
}

export function createDeploymentsApi(deps: DeploymentsApiDeps) {
  const shown = () => new Map(deps.instances().map((instance) => [instance.name, instance]));

  function view(stored: StoredDeployment, instances: ReadonlyMap<string, ShownInstance>): DeploymentView {
    const instance = instances.get(stored.instance);
    const succeeded = stored.reconcilers.filter((reconciler) => reconciler.state === "succeeded").length;
    return {
      instance: stored.instance,
      environment: instance?.environment ?? stored.instance,
      commit: stored.commit,
      state: stored.state,
      firstSeen: new Date(stored.firstSeen).toISOString(),
      lastSeen: new Date(stored.lastSeen).toISOString(),
      healthy: { succeeded, total: stored.reconcilers.length },
      reconcilers: stored.reconcilers,
      ...(stored.notification
        ? { notification: { outcome: stored.notification.outcome, at: new Date(stored.notification.at).toISOString(), ...(stored.notification.supersededBy ? { supersededBy: stored.notification.supersededBy } : {}) } }
        : {}),
      ...(stored.supersededBy ? { supersededBy: stored.supersededBy } : {}),
      pendingJobs: stored.pendingJobs,
      deadJobs: stored.deadJobs,
      ...(instance ? { commitUrl: `${instance.gitOpsAppURL.replace(/\/+$/, "")}/${stored.commit}` } : {}),
      changed: stored.changed,
    };
  }

  async function list(filter: DeploymentFilter): Promise<{ deployments: DeploymentView[]; next?: string }> {
    const instances = shown();
    const names = filter.instance !== undefined
      ? [filter.instance]
      : filter.env !== undefined
        ? [...instances.values()].filter((instance) => (instance.environment ?? instance.name) === filter.env).map((instance) => instance.name)
        : undefined;
    const stored = await deps.reader.deployments({ limit: filter.limit, ...(names ? { instances: names } : {}), ...(filter.states ? { states: filter.states } : {}), ...(filter.before !== undefined ? { before: filter.before } : {}) });
    const deployments = stored.map((deployment) => view(deployment, instances));
    const last = stored.at(-1);
    return { deployments, ...(stored.length === filter.limit && last ? { next: `before=${last.firstSeen}` } : {}) };
  }

  async function one(instance: string, commit: string): Promise<DeploymentView | undefined> {
    const stored = await deps.reader.deployment(instance, commit);
    return stored === undefined ? undefined : view(stored, shown());
  }

  function promotions(): Promise<PromotionView[]> {
    return deps.reader.promotions();
  }

  /** The data of one change's event: the deployment (or promotion list) as it is now. */
  async function eventOf(change: Change): Promise<{ event: string; data: unknown } | undefined> {
    if (change.kind === "promotion") return { event: "promotion", data: { instance: change.instance, promotions: (await promotions()).filter((p) => p.instance === change.instance) } };
    const deployment = change.commit === undefined ? undefined : await one(change.instance, change.commit);
    return deployment === undefined ? undefined : { event: "deployment", data: deployment };
  }

  function events(request: Request): Response {
    const lastId = Number(request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("lastEventId") ?? Number.NaN);
    const encoder = new TextEncoder();
    let stop = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (text: string) => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            stop();
          }
        };
        // Events go out in change order: each waits for the one before it (reading a deployment waits on the store).
        let queue: Promise<void> = Promise.resolve();
        const tell = (change: Change) => {
          queue = queue.then(async () => {
            const event = await eventOf(change);
            if (event !== undefined) send(`id: ${change.seq}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`);
          }).catch(() => stop());
        };
        // Listen first, then replay: a change committed in between is told twice rather than never.
        const unsubscribe = deps.reader.onChange(tell);
        queue = queue.then(async () => {
          send(`retry: 2000\n: connected at change ${await deps.reader.lastChange()}\n\n`);
          if (Number.isInteger(lastId) && lastId >= 0) for (const change of await deps.reader.changesSince(lastId, RESUME_LIMIT)) tell(change);
        });
        const heartbeat = setInterval(() => send(": keep-alive\n\n"), HEARTBEAT_MS);
        stop = () => {
          clearInterval(heartbeat);
          unsubscribe();
        };
        request.signal.addEventListener("abort", () => {
          stop();
          try {
            controller.close();
          } catch {
            // already closed
          }
        });
      },
      cancel() {
        stop();
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" } });
  }

  return {
    list,
    one,
    promotions,
    events,
    /** `GET /api/deployments?…` */
    async handleList(request: Request): Promise<Response> {
      const filter = parseDeploymentFilter(new URL(request.url).searchParams);
      return typeof filter === "string" ? json(400, { error: filter }) : json(200, await list(filter));
    },
    async handleOne(instance: string, commit: string): Promise<Response> {
      const found = await one(instance, commit);
      return found === undefined ? json(404, { error: `no deployment of ${commit} on instance ${instance} is known (pruned, or never reported)` }) : json(200, found);
    },
    handlePromotions: async (): Promise<Response> => json(200, { promotions: await promotions() }),
  };
}

export type DeploymentsApi = ReturnType<typeof createDeploymentsApi>;
