/**
 * The HTTP surface (DESIGN §4) on Elysia: the webhook routes, liveness, readiness and metrics. Bodies are left
 * unparsed (`parse: "none"`) so the webhook handler can enforce the size limit and check signatures on the
 * raw bytes first. Every error, unknown routes included, answers JSON `{ "error": … }`.
 */
import { Elysia } from "elysia";
import type { Readiness } from "../core/intake.ts";
import type { Metrics } from "../observability/metrics.ts";
import { createWebhookHandler, type WebhookDeps } from "./webhook.ts";

export interface AppDeps extends WebhookDeps {
  metrics: Metrics;
  /** Config loaded, intake open, not draining. */
  readiness(): Readiness;
  /** `POST /api/promotions` (src/server/promotions-api.ts); 404 without it. */
  promotions?: (request: Request) => Promise<Response>;
}

export function createApp(deps: AppDeps) {
  const handleWebhook = createWebhookHandler({
    ...deps,
    onResult(result, operator, instance) {
      deps.metrics.webhooks.inc({ operator, instance, result });
      deps.metrics.lastWebhook.setToCurrentTime();
      deps.onResult?.(result, operator, instance);
    },
  });

  return new Elysia()
    .onError(({ code, error }) => {
      if (code === "NOT_FOUND") return Response.json({ error: "no such route: POST /gitopsphase[/<instance>], POST /api/promotions, GET /healthz, /readyz, /metrics" }, { status: 404 });
      deps.logger.error({ err: error, code }, "http error");
      return Response.json({ error: "internal error" }, { status: 500 });
    })
    .post("/gitopsphase", ({ request }) => handleWebhook(request), { parse: "none" })
    .post("/gitopsphase/:instance", ({ request, params }) => handleWebhook(request, params.instance), { parse: "none" })
    .post("/api/promotions", ({ request }) => (deps.promotions ? deps.promotions(request) : Response.json({ error: "POST /api/promotions is off" }, { status: 404 })), { parse: "none" })
    .get("/healthz", () => Response.json({ status: "ok" }))
    .get("/readyz", () => {
      const readiness = deps.readiness();
      return readiness.ready
        ? Response.json({ ready: true })
        : Response.json({ error: `not ready: ${readiness.reason ?? "starting"}` }, { status: 503, headers: { "Retry-After": "5" } });
    })
    .get("/metrics", async () => new Response(await deps.metrics.registry.metrics(), { headers: { "Content-Type": deps.metrics.registry.contentType } }));
}

export type App = ReturnType<typeof createApp>;
