import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { DeliveryError } from "../../src/core/delivery.ts";
import type { SubscriberJobPayload } from "../../src/core/model.ts";
import { postToSubscriber, subscriberUrlOf } from "../../src/subscribers/subscribers.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { startFakeApi } from "../support/fake-api.ts";

const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const urlOf = (path = "/api/flux") => `${fake.url}${path}`;
const job = (): SubscriberJobPayload => ({
  subscriber: "spektate",
  body: {
    commit_id: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    status_name: "Status",
    state: "ReconciliationSucceeded",
    message: "Applied revision: main@sha1:0a1b2c3",
    callback_url: "https://github.com/org/manifests/commit",
    gitops_operator: "Flux",
    genre: "Kustomization",
    context: "kustomization/apps-dev",
    instance: "apps-dev",
    reconciler: "Kustomization/flux-system/apps-dev",
  },
});
const signal = () => AbortSignal.timeout(5_000);
const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as DeliveryError);

describe("postToSubscriber", () => {
  test("POSTs the subscriber JSON as is, with content type and user agent", async () => {
    await postToSubscriber(job(), urlOf(), signal());
    const [request] = fake.requests();
    expect(request).toMatchObject({ method: "POST", path: "/api/flux" });
    expect(request?.body).toEqual(job().body as object);
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["user-agent"]).toBe(USER_AGENT);
  });

  test("any 2xx is success", async () => {
    fake.on("POST", "/hook", { status: 204 });
    await postToSubscriber(job(), urlOf("/hook"), signal());
    fake.on("POST", "/hook", { status: 202, body: "queued" });
    await postToSubscriber(job(), urlOf("/hook"), signal());
    expect(fake.requests()).toHaveLength(2);
  });

  test("a 404 is permanent and names the subscriber and its URL", async () => {
    fake.failNext(1, { status: 404, body: "no such route" });
    const error = await failureOf(postToSubscriber(job(), urlOf(), signal(), undefined, "spektate"));
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ permanent: true, status: 404 });
    expect(error?.message).toContain(`404 from subscriber spektate for instance apps-dev: ${fake.url}/api/flux not found`);
  });

  test("a 503 with Retry-After is retried after it; the subscriber's reason is kept", async () => {
    fake.failNext(1, { status: 503, headers: { "retry-after": "12" }, body: { error: "warming up" } });
    const error = await failureOf(postToSubscriber(job(), urlOf(), signal()));
    expect(error).toMatchObject({ permanent: false, status: 503, retryAfterMs: 12_000 });
    expect(error?.message).toContain("warming up");
  });

  test("a 400 is permanent", async () => {
    fake.failNext(1, { status: 400, body: { message: "unknown field context" } });
    expect(await failureOf(postToSubscriber(job(), urlOf(), signal()))).toMatchObject({ permanent: true, status: 400 });
  });

  test("credentials in the subscriber URL never reach the message", async () => {
    fake.failNext(1, { status: 500 });
    const url = `http://user:s3cret@127.0.0.1:${fake.port}/api/flux?key=s3cret`;
    const error = await failureOf(postToSubscriber(job(), url, signal()));
    expect(error?.permanent).toBe(false);
    expect(error?.message).not.toContain("s3cret");
  });

  test("an injected fetch is used; its network failure is retryable", async () => {
    const refusing = async () => {
      throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 10.0.0.1:5000") });
    };
    const error = await failureOf(postToSubscriber(job(), urlOf(), signal(), refusing, "spektate"));
    expect(error).toMatchObject({ permanent: false });
    expect(error?.message).toContain("could not reach subscriber spektate for instance apps-dev");
    expect(error?.message).toContain("ECONNREFUSED");
    expect(fake.requests()).toHaveLength(0);
  });

  test("a hanging subscriber is cut off by the signal: retryable", async () => {
    fake.hang();
    const controller = new AbortController();
    const pending = failureOf(postToSubscriber(job(), urlOf(), controller.signal));
    await fake.waitFor((r) => r.path === "/api/flux");
    controller.abort();
    const error = await pending;
    expect(error).toMatchObject({ permanent: false });
    expect(error?.message).toContain("no answer from subscriber");
  });
});

describe("subscriberUrlOf", () => {
  test("the current config's URL for the job's subscriber; an older job's stored URL; undefined when the subscriber is gone", () => {
    const subscribers = { spektate: "http://spektate:5000/api/flux" };
    expect(subscriberUrlOf(job(), subscribers)).toBe("http://spektate:5000/api/flux");
    expect(subscriberUrlOf({ url: "http://old.example/api", body: job().body }, subscribers)).toBe("http://old.example/api");
    expect(subscriberUrlOf(job(), {})).toBeUndefined();
    expect(subscriberUrlOf({ ...job(), subscriber: "constructor" }, subscribers)).toBeUndefined();
  });
});
