/**
 * The webhook handler behind `POST /gitopsphase[/:instance]`: authenticate on the raw bytes, parse, route to an
 * instance, translate with that instance's operator adapter, plan and record the jobs, answer. Each way a
 * request can be wrong has its own status code and a JSON body a person can act on (DESIGN §4, §10).
 * Framework-free (Request → Response) so it is tested without a server and mounted by Elysia in app.ts.
 */
import { IntakeFullError, type Intake } from "../intake.ts";
import { reconcilerId, type OperatorType, type Translation, type TranslationOptions } from "../model.ts";
import type { Logger } from "../observability/logger.ts";
import type { PlanningInstance } from "../planner.ts";
import { readBodyWithLimit } from "./read-body.ts";
import { selectInstance, type SelectableInstance } from "./select-instance.ts";
import { isAuthenticated, type WebhookAuth } from "./webhook-auth.ts";

export type ServedInstance = PlanningInstance & SelectableInstance & { readonly gitOpsOperatorType: OperatorType };

/** The parts of the current config the webhook reads; fetched per request so a reload applies at once. */
export interface WebhookSettings {
  readonly maxBodyBytes: number;
  readonly auth: WebhookAuth;
  readonly instances: readonly ServedInstance[];
}

export type WebhookResult =
  | "accepted"
  | "ignored"
  | "invalid"
  | "unauthorized"
  | "unknown_instance"
  | "too_large"
  | "unsupported_media_type"
  | "unavailable"
  | "internal_error";

export interface WebhookDeps {
  settings(): WebhookSettings;
  intake: Intake;
  translate(operator: OperatorType, payload: unknown, options: TranslationOptions): Translation;
  isDraining(): boolean;
  logger: Logger;
  onResult?(result: WebhookResult, operator: string, instance: string): void;
}

const DRAIN_RETRY_AFTER_SECONDS = 5;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers });
}

function isJsonMediaType(contentType: string | null): boolean {
  if (contentType === null || contentType.trim() === "") return true; // Argo CD sends none unless told.
  const mediaType = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return mediaType === "application/json" || mediaType.endsWith("+json");
}

export function createWebhookHandler(deps: WebhookDeps) {
  const log = deps.logger.child({ component: "webhook" });

  return async function handleWebhook(request: Request, pathInstance?: string): Promise<Response> {
    let operator = "unknown";
    let instanceName = pathInstance ?? "unknown";
    const finish = (result: WebhookResult, response: Response, fields: Record<string, unknown> = {}) => {
      deps.onResult?.(result, operator, instanceName);
      log.info({ instance: instanceName, operator, result, status: response.status, ...fields }, "webhook");
      return response;
    };

    try {
      if (deps.isDraining()) {
        return finish("unavailable", json(503, { error: "shutting down; retry against another replica or after restart" }, { "Retry-After": String(DRAIN_RETRY_AFTER_SECONDS) }));
      }
      if (!isJsonMediaType(request.headers.get("content-type"))) {
        return finish("unsupported_media_type", json(415, { error: `unsupported Content-Type "${request.headers.get("content-type")}": send application/json` }));
      }
      const settings = deps.settings();
      const body = await readBodyWithLimit(request, settings.maxBodyBytes);
      if (!body.ok) {
        return finish("too_large", json(413, { error: `body larger than ${settings.maxBodyBytes} bytes (server.maxBodyBytes)` }));
      }
      if (!isAuthenticated(settings.auth, request.headers, body.bytes)) {
        return finish("unauthorized", json(401, { error: "webhook authentication failed: send a valid X-Signature (Flux generic-hmac) or Authorization: Bearer token" }));
      }

      let payload: unknown;
      try {
        payload = JSON.parse(new TextDecoder().decode(body.bytes));
      } catch (error) {
        return finish("invalid", json(400, { error: `malformed JSON: ${(error as Error).message}` }));
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        return finish("invalid", json(400, { error: "the body must be a JSON object (a Flux event or an Argo CD notification)" }));
      }

      const selection = selectInstance(settings.instances, pathInstance, payload);
      if (!selection.ok) return finish("unknown_instance", json(404, { error: selection.error }));
      const instance = selection.instance;
      instanceName = instance.name;
      operator = instance.gitOpsOperatorType;

      const translation = deps.translate(instance.gitOpsOperatorType, payload, { statusContext: instance.statusContext, instanceName: instance.name });
      if (translation.kind === "invalid") {
        return finish("invalid", json(400, { error: `not a valid ${operator} payload for instance ${instance.name}: ${translation.error}` }));
      }
      if (translation.kind === "ignored") {
        return finish("ignored", json(200, { ignored: translation.reason, instance: instance.name }), { reason: translation.reason });
      }

      const observation = translation.observation;
      const jobs = deps.intake.submit(instance, observation);
      return finish("accepted", json(202, { accepted: true, instance: instance.name, commit: observation.commit, jobs: jobs.length }), {
        commit: observation.commit,
        reconciler: reconcilerId(observation.reconciler),
        outcome: observation.outcome,
        jobs: jobs.length,
      });
    } catch (error) {
      if (error instanceof IntakeFullError) {
        return finish("unavailable", json(503, { error: error.message }, { "Retry-After": String(error.retryAfterSeconds) }));
      }
      log.error({ err: error }, "webhook handler failed");
      return finish("internal_error", json(500, { error: "internal error; the event was not accepted, retry it" }));
    }
  };
}
