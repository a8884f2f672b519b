/**
 * The HTTP surface (DESIGN §4) on Elysia: the webhook routes, liveness, readiness and metrics. Bodies are left
 * unparsed (`parse: "none"`) so the webhook handler can enforce the size limit and check signatures on the
 * raw bytes first. Every error, unknown routes included, answers JSON `{ "error": … }`.
 */
import { Elysia } from "elysia";
import type { Readiness } from "../core/intake.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { Ui } from "./ui.ts";
import { createWebhookHandler, type WebhookDeps } from "./webhook.ts";

export interface AppDeps extends WebhookDeps {
  metrics: Metrics;
  /** Config loaded, intake open, not draining. */
  readiness(): Promise<Readiness>;
  /** `POST /api/promotions` (src/server/promotions-api.ts); 404 without it. */
  promotions?: (request: Request) => Promise<Response>;
  /** The deployments page and its API, when served on this port (not on `ui.port` of its own). */
  ui?: Ui;
}

const NO_ROUTE = "no such route: POST /gitopsphase[/<instance>], POST /api/promotions, GET /, /api/deployments, /api/promotions, /api/events, /healthz, /readyz, /metrics";

/** Where the page's routes go: the webhook app, or an app of its own (`ui.port`). */
interface RouteTable {
  get(path: string, handler: (context: { request: Request }) => Promise<Response>): unknown;
}

const UI_ROUTES = ["/", "/assets/*", "/api/deployments", "/api/deployments/:instance/:commit", "/api/promotions", "/api/events"];

export function addUiRoutes(app: RouteTable, ui: Ui): void {
  for (const path of UI_ROUTES) app.get(path, ({ request }) => ui.handle(request));
}

/** `ui.port`: the page and its API alone, so the webhook's port need not expose them. */
export function createUiApp(ui: Ui, logger: AppDeps["logger"]) {
  const app = new Elysia().onError(({ code, error }) => {
    if (code === "NOT_FOUND") return Response.json({ error: "no such route: GET /, /api/deployments, /api/promotions, /api/events" }, { status: 404 });
    logger.error({ err: error, code }, "http error");
    return Response.json({ error: "internal error" }, { status: 500 });
  });
  addUiRoutes(app, ui);
  return app;
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

  const app = new Elysia()
    .onError(({ code, error }) => {
      if (code === "NOT_FOUND") return Response.json({ error: NO_ROUTE }, { status: 404 });
      deps.logger.error({ err: error, code }, "http error");
      return Response.json({ error: "internal error" }, { status: 500 });
    })
    .post("/gitopsphase", ({ request }) => handleWebhook(request), { parse: "none" })
    .post("/gitopsphase/:instance", ({ request, params }) => handleWebhook(request, params.instance), { parse: "none" })
    .post("/api/promotions", ({ request }) => (deps.promotions ? deps.promotions(request) : Response.json({ error: "POST /api/promotions is off" }, { status: 404 })), { parse: "none" })
    .get("/healthz", () => Response.json({ status: "ok" }))
    .get("/readyz", async () => {
      const readiness = await deps.readiness();
      return readiness.ready
        ? Response.json({ ready: true })
        : Response.json({ error: `not ready: ${readiness.reason ?? "starting"}` }, { status: 503, headers: { "Retry-After": "5" } });
    })
    .get("/metrics", async () => new Response(await deps.metrics.registry.metrics(), { headers: { "Content-Type": deps.metrics.registry.contentType } }));
  if (deps.ui) addUiRoutes(app, deps.ui);
  return app;
}

export type App = ReturnType<typeof createApp>;
