/**
 * The webhook handler behind `POST /gitopsphase[/:instance]`: authenticate on the raw bytes, parse, route to an
 * instance, translate with that instance's operator adapter, plan and record the jobs, answer. Each way a
 * request can be wrong has its own status code and a JSON body a person can act on (DESIGN §4, §10).
 * Framework-free (Request → Response) so it is tested without a server and mounted by Elysia in app.ts.
 *
 * Every request ends in exactly one info line `webhook` (instance, operator, result, status, and commit,
 * reconciler and jobs when accepted, the reason otherwise) and one `onResult` call for the metrics. The instance
 * and operator there are a configured instance's or "unknown", never a name from the request, so an
 * unauthenticated caller cannot create metric series at will. The payload itself is logged only at debug.
 */
import { IntakeUnavailableError, type Intake } from "../core/intake.ts";
import { reconcilerId, type OperatorType, type Translation, type TranslationOptions } from "../core/model.ts";
import type { Instance } from "../instances/compile.ts";
import { cutText, type Logger } from "../observability/logger.ts";
import { readBodyWithLimit } from "./read-body.ts";
import { toWellFormedJson } from "./well-formed.ts";
import { selectInstance } from "./select-instance.ts";
import { isAuthenticated, isAuthRequired, type WebhookAuth } from "./webhook-auth.ts";

/** What the webhook reads of an instance: routing, its operator, its own webhook keys, translating and planning. */
export type ServedInstance = Pick<Instance, "name" | "default" | "operator" | "auth" | "translation" | "planning">;

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
  | "client_gone"
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
/** A reason is context for the log line; a 1 MB instance name in a payload must not become a 1 MB line. */
const REASON_LIMIT = 300;
const UNKNOWN = "unknown";

function shorten(text: string): string {
  return cutText(text, REASON_LIMIT);
}

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
    let operator = UNKNOWN;
    let instanceName = UNKNOWN;
    const finish = (result: WebhookResult, response: Response, fields: Record<string, unknown> = {}) => {
      deps.onResult?.(result, operator, instanceName);
      // A sender that went away mid-body hears nothing: worth a debug line, not an info line per dropped request.
      (result === "client_gone" ? log.debug : log.info).call(log, { instance: instanceName, operator, result, status: response.status, jobs: 0, ...fields }, "webhook");
      return response;
    };
    /** Answers `{ error }` and logs the same text as the reason. */
    const reject = (result: WebhookResult, status: number, error: string, headers: Record<string, string> = {}) =>
      finish(result, json(status, { error }, headers), { reason: shorten(error) });

    try {
      const settings = deps.settings();
      const named = settings.instances.find((instance) => instance.name === pathInstance);
      if (named) {
        instanceName = named.name;
        operator = named.operator;
      }
      if (deps.isDraining()) {
        return reject("unavailable", 503, "shutting down; retry against another replica or after restart", { "Retry-After": String(DRAIN_RETRY_AFTER_SECONDS) });
      }
      if (!isJsonMediaType(request.headers.get("content-type"))) {
        return reject("unsupported_media_type", 415, `unsupported Content-Type "${shorten(request.headers.get("content-type") ?? "")}": send application/json`);
      }
      let body: Awaited<ReturnType<typeof readBodyWithLimit>>;
      try {
        body = await readBodyWithLimit(request, settings.maxBodyBytes);
      } catch {
        // The connection closed before the body was complete: nothing to answer, nothing wrong here.
        return finish("client_gone", json(400, { error: "the request body was cut off before it ended" }), { reason: "the client went away before sending the whole body" });
      }
      if (!body.ok) {
        return reject("too_large", 413, `body larger than ${settings.maxBodyBytes} bytes (server.maxBodyBytes)`);
      }
      // The keys a request must satisfy are its instance's own (`auth` on the instance) or else the global ones.
      // When the path names the instance, or no instance has keys of its own, that is known before parsing and
      // is checked on the raw bytes first. Otherwise the instance comes from the payload: it is parsed (within
      // maxBodyBytes) and routed first, and anything refused before routing is checked against the global keys,
      // so an unauthenticated caller learns nothing from a 400 or 404.
      const unauthorized = () => reject("unauthorized", 401, "webhook authentication failed: send a valid X-Signature (Flux generic-hmac) or Authorization: Bearer token");
      const verifies = (auth: WebhookAuth) => isAuthenticated(auth, request.headers, body.bytes);
      const knownBeforeParsing = pathInstance !== undefined || !settings.instances.some((instance) => instance.auth);
      if (knownBeforeParsing && !verifies(named?.auth ?? settings.auth)) return unauthorized();
      // Before routing, a refusal needs the global keys; with none and every instance keyed, one instance's keys.
      const everyInstanceKeyed = settings.instances.every((instance) => instance.auth);
      const mayLearnWhy = () =>
        isAuthRequired(settings.auth) || !everyInstanceKeyed ? verifies(settings.auth) : settings.instances.some((instance) => instance.auth && verifies(instance.auth));
      const refuse = (result: WebhookResult, status: number, error: string) => (knownBeforeParsing || mayLearnWhy() ? reject(result, status, error) : unauthorized());

      let payload: unknown;
      try {
        const text = new TextDecoder().decode(body.bytes);
        payload = toWellFormedJson(JSON.parse(text), text);
      } catch (error) {
        return refuse("invalid", 400, `malformed JSON: ${(error as Error).message}`);
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        return refuse("invalid", 400, "the body must be a JSON object (a Flux event or an Argo CD notification)");
      }
      const selection = selectInstance(settings.instances, pathInstance, payload);
      if (!selection.ok) return refuse("unknown_instance", 404, selection.error);
      const instance = selection.instance;
      if (!knownBeforeParsing && !verifies(instance.auth ?? settings.auth)) return unauthorized();
      // Authenticated and parsed: worth seeing whole when debugging a translation, never at info; named after
      // the instance it was routed to.
      log.debug({ instance: instance.name, payload }, "webhook payload");
      instanceName = instance.name;
      operator = instance.operator;

      const translation = deps.translate(instance.operator, payload, instance.translation);
      if (translation.kind === "invalid") {
        return reject("invalid", 400, `not a valid ${operator} payload for instance ${instance.name}: ${translation.error}`);
      }
      if (translation.kind === "ignored") {
        return finish("ignored", json(200, { ignored: translation.reason, instance: instance.name }), { reason: shorten(translation.reason) });
      }

      const observation = translation.observation;
      const jobs = await deps.intake.submit(instance.planning, observation);
      return finish("accepted", json(202, { accepted: true, instance: instance.name, commit: observation.commit, jobs: jobs.length }), {
        commit: observation.commit,
        reconciler: reconcilerId(observation.reconciler),
        outcome: observation.outcome ?? "pending",
        jobs: jobs.length,
      });
    } catch (error) {
      if (error instanceof IntakeUnavailableError) {
        return reject("unavailable", 503, error.message, { "Retry-After": String(error.retryAfterSeconds) });
      }
      log.error({ err: error, instance: instanceName }, "webhook handler failed");
      return reject("internal_error", 500, "internal error; the event was not accepted, retry it");
    }
  };
}
