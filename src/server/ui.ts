/**
 * The deployments page and its API (DESIGN §12) as one framework-free handler: `GET /`, `/assets/*`,
 * `/api/deployments[/:instance/:commit]`, `/api/promotions` (GET), `/api/events`. Mounted on the webhook's port,
 * or on `ui.port` alone so the webhook port need not expose it; `ui.enabled: false` turns it all off (404).
 */
import type { DeploymentsReader } from "../core/deployments.ts";
import { createDeploymentsApi, parseDeploymentFilter, type ShownInstance } from "./deployments-api.ts";
import { LIVE_SCRIPT } from "./page/live.ts";
import { renderLive, renderPage, type PageModel } from "./page/page.tsx";
import { PAGE_CSS } from "./page/style.ts";

export interface UiDeps {
  readonly reader: DeploymentsReader;
  instances(): readonly ShownInstance[];
  enabled(): boolean;
  readonly now?: () => number;
}

/** The page's rules: scripts and styles only from here, no frames, no form posts elsewhere. */
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** How many deployments the page shows. */
const PAGE_LIMIT = 100;

export const UI_PATHS = ["/", "/assets/live.js", "/assets/page.css", "/api/deployments", "/api/promotions", "/api/events"] as const;

export function createUi(deps: UiDeps) {
  const api = createDeploymentsApi(deps);
  const now = deps.now ?? Date.now;
  const notFound = () => Response.json({ error: "the deployments page is off (ui.enabled: false)" }, { status: 404 });

  async function model(params: URLSearchParams): Promise<PageModel | string> {
    const filter = parseDeploymentFilter(new URLSearchParams([...params].filter(([key]) => ["instance", "env", "state"].includes(key) && params.get(key) !== "").concat([["limit", String(PAGE_LIMIT)]])));
    if (typeof filter === "string") return filter;
    const instances = deps.instances();
    const environments = [...new Set(instances.map((instance) => instance.environment ?? instance.name))];
    return {
      deployments: (await api.list(filter)).deployments,
      environments: filter.env ? environments.filter((environment) => environment === filter.env) : environments,
      instances: instances.map((instance) => instance.name),
      promotions: await api.promotions(),
      filters: { ...(filter.instance ? { instance: filter.instance } : {}), ...(filter.env ? { env: filter.env } : {}), ...(params.get("state") ? { state: params.get("state")! } : {}) },
      now: now(),
      lastChange: await deps.reader.lastChange(),
    };
  }

  return {
    async handle(request: Request): Promise<Response> {
      if (!deps.enabled()) return notFound();
      const url = new URL(request.url);
      const path = url.pathname;
      if (path === "/") {
        const page = await model(url.searchParams);
        if (typeof page === "string") return new Response(`Bad filter: ${page}`, { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
        return new Response(url.searchParams.get("fragment") === "live" ? renderLive(page) : renderPage(page), { headers: PAGE_HEADERS });
      }
      if (path === "/assets/live.js") return new Response(LIVE_SCRIPT, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } });
      if (path === "/assets/page.css") return new Response(PAGE_CSS, { headers: { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" } });
      if (path === "/api/deployments") return api.handleList(request);
      if (path === "/api/promotions") return api.handlePromotions();
      if (path === "/api/events") return api.events(request);
      const one = /^\/api\/deployments\/([^/]+)\/([0-9a-fA-F]{4,64})$/.exec(path);
      if (one) return api.handleOne(decodeURIComponent(one[1]!), one[2]!.toLowerCase());
      return Response.json({ error: `no such route: GET ${path}` }, { status: 404 });
    },
  };
}

export type Ui = ReturnType<typeof createUi>;
