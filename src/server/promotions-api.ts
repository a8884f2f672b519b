/**
 * `POST /api/promotions {group, app, tag[, digest][, instance]}`: `promote new`, asked of the daemon, so an app's
 * CI needs no checkout of (and no token for) the GitOps repository. Off unless an instance sets
 * `promotion.api: true`; always bearer-authenticated (the instance's tokens, else the global ones; the config
 * refuses `api` without any). Enqueued through the outbox once per (instance, group, app, tag, digest), so a CI
 * retry of the same request queues nothing new; 202 once stored.
 */
import * as v from "valibot";
import { IntakeUnavailableError } from "../core/intake.ts";
import type { PromotionNewJobPayload } from "../core/model.ts";
import type { Instance } from "../instances/compile.ts";
import type { Logger } from "../observability/logger.ts";
import { readBodyWithLimit } from "./read-body.ts";
import { isAuthenticated } from "./webhook-auth.ts";

export type PromotionApiInstance = Pick<Instance, "name" | "auth"> & { readonly config: Pick<Instance["config"], "promotion"> };

export interface PromotionsApiDeps {
  settings(): { readonly maxBodyBytes: number; readonly bearerTokens: readonly string[]; readonly instances: readonly PromotionApiInstance[] };
  /** Stores the job unless the same request was stored before; true when stored now. */
  enqueue(instance: string, request: PromotionNewJobPayload): Promise<boolean>;
  logger: Logger;
}

const NAME = v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "letters, digits, '.', '_' and '-', at most 100"));
const Body = v.strictObject({
  group: NAME,
  app: NAME,
  tag: v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "an image tag: letters, digits, '_', '.', '-', at most 128")),
  digest: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/, "a digest like sha256:<64 hex>"))),
  instance: v.optional(v.string("must be a string")),
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => Response.json(body, { status, headers });

export function createPromotionsApi(deps: PromotionsApiDeps) {
  const log = deps.logger.child({ component: "promotions-api" });
  return async function handle(request: Request): Promise<Response> {
    const settings = deps.settings();
    const open = settings.instances.filter((instance) => instance.config.promotion.api);
    if (open.length === 0) return json(404, { error: "POST /api/promotions is off: set promotion.api: true on an instance" });
    const body = await readBodyWithLimit(request, settings.maxBodyBytes).catch(() => undefined);
    if (body === undefined) return json(400, { error: "the request body was cut off before it ended" });
    if (!body.ok) return json(413, { error: `body larger than ${settings.maxBodyBytes} bytes (server.maxBodyBytes)` });
    // Authenticated against every open instance's tokens before anything is parsed: a caller without one learns nothing.
    const allowed = open.filter((instance) => isAuthenticated({ hmacKeys: [], bearerTokens: instance.auth?.bearerTokens ?? settings.bearerTokens }, request.headers, body.bytes));
    if (allowed.length === 0) return json(401, { error: "send Authorization: Bearer <token> (the instance's auth.bearerToken, or the global one)" });
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body.bytes));
    } catch (error) {
      return json(400, { error: `malformed JSON: ${(error as Error).message}` });
    }
    const result = v.safeParse(Body, parsed);
    if (!result.success) {
      const issue = result.issues[0];
      return json(400, { error: `${issue.path?.map((step) => String(step.key)).join(".") ?? "body"}: ${issue.message}; send {"group", "app", "tag"}` });
    }
    const { instance: wanted, ...promotion } = result.output;
    const candidates = wanted === undefined ? allowed : allowed.filter((instance) => instance.name === wanted);
    if (candidates.length !== 1) {
      return json(wanted === undefined ? 400 : 404, {
        error: wanted === undefined ? `name the instance: "instance" is one of ${allowed.map((i) => i.name).join(", ")}` : `no instance ${wanted} takes promotions with this token`,
      });
    }
    const instance = candidates[0]!;
    try {
      const queued = await deps.enqueue(instance.name, promotion);
      log.info({ instance: instance.name, group: promotion.group, app: promotion.app, tag: promotion.tag, queued }, `promote new ${promotion.group}/${promotion.app} ${promotion.tag}${queued ? "" : ": asked before, already queued"}`);
      return json(202, { accepted: true, instance: instance.name, queued });
    } catch (error) {
      if (error instanceof IntakeUnavailableError) return json(503, { error: error.message }, { "Retry-After": String(error.retryAfterSeconds) });
      throw error;
    }
  };
}

/** The outbox job `POST /api/promotions` enqueues, and the key that keeps a repeated request from queuing twice. */
export function promotionNewJob(instance: Pick<Instance, "name" | "repository">, request: PromotionNewJobPayload) {
  return {
    onceKey: `promotion-new|${instance.name}|${request.group}|${request.app}|${request.tag}|${request.digest ?? ""}`,
    job: {
      kind: "promotion-new" as const,
      instance: instance.name,
      target: instance.repository.target,
      orderingKey: `promotion:${instance.repository.target}`,
      payload: request,
    },
  };
}
