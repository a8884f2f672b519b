/**
 * Subscribers: raw JSON forwarders (Spektate and the like, DESIGN §7). Every commit status is POSTed as the
 * original's subscriber JSON; any 2xx is success, anything else goes through the shared retry rules.
 */
import { apiMessageOf, classifyHttpFailure, describeUrl, toDeliveryError, type FailureParty } from "../clients/http-failure.ts";
import type { FetchLike } from "../clients/github.ts";
import type { SubscriberJobPayload } from "../core/model.ts";
import { USER_AGENT } from "../core/version.ts";

/** The URL a subscriber job goes to: the instance's current one for its name, or what an older job stored. */
export function subscriberUrlOf(job: SubscriberJobPayload, subscribers: Readonly<Record<string, string>>): string | undefined {
  if (job.subscriber !== undefined) return Object.hasOwn(subscribers, job.subscriber) ? subscribers[job.subscriber] : undefined;
  return job.url;
}

/** POSTs the job's body to `url`; throws a DeliveryError on a non-2xx answer or a network failure. */
export async function postToSubscriber(
  job: SubscriberJobPayload,
  url: string,
  signal: AbortSignal,
  fetch: FetchLike = globalThis.fetch,
  subscriberName?: string,
): Promise<void> {
  const who: FailureParty = {
    service: subscriberName ? `subscriber ${subscriberName}` : "subscriber",
    instance: job.body.instance,
    resource: describeUrl(url),
  };
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": USER_AGENT, accept: "application/json, */*" },
      body: JSON.stringify(job.body),
      signal,
      redirect: "follow",
    });
  } catch (error) {
    throw toDeliveryError(error, who, signal);
  }
  // Read the body either way: it frees the connection, and on failure it is the subscriber's reason.
  const text = await response.text().catch(() => "");
  if (response.ok) return;
  throw classifyHttpFailure({ status: response.status, headers: response.headers, message: apiMessageOf(reasonOf(text)), who });
}

/** `{"message": …}` or `{"error": …}` bodies give their text; anything else is passed as is. */
function reasonOf(text: string): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object") {
      if ("message" in parsed) return parsed;
      if ("error" in parsed && typeof parsed.error === "string") return { message: parsed.error };
    }
  } catch {
    // not JSON: the text itself is the reason
  }
  return text;
}
