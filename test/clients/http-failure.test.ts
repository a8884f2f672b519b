import { describe, expect, test } from "bun:test";
import { DeliveryError } from "../../src/core/delivery.ts";
import { classifyHttpFailure, describeUrl, parseRetryAfter, toDeliveryError, type FailureParty } from "../../src/clients/http-failure.ts";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const TOKEN = "ghp_SuperSecretToken1234567890abcdef";
const github: FailureParty = {
  service: "GitHub",
  instance: "apps-dev",
  resource: "org/manifests",
  tokenKey: "pat",
  permission: "the repo:status scope for statuses",
};
const subscriber: FailureParty = { service: "subscriber spektate", instance: "apps-dev", resource: "http://spektate:5000/api/flux" };

const classify = (status: number | undefined, extra: { headers?: Record<string, string>; message?: string } = {}, who = github) =>
  classifyHttpFailure({ status, who, now: NOW, ...extra });

describe("parseRetryAfter", () => {
  test("delta seconds", () => {
    expect(parseRetryAfter("120", NOW)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", NOW)).toBe(0);
  });
  test("an HTTP date, relative to now, never negative", () => {
    expect(parseRetryAfter("Sun, 01 Jun 2025 12:01:30 GMT", NOW)).toBe(90_000);
    expect(parseRetryAfter("Sun, 01 Jun 2025 11:00:00 GMT", NOW)).toBe(0);
  });
  test("unusable values are ignored", () => {
    for (const value of [undefined, null, "", "soon", "-5", "1.5", "   "]) expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});

describe("classifyHttpFailure: retry or dead", () => {
  test.each([408, 409, 500, 502, 503, 504])("%d is retryable", (status) => {
    const error = classify(status);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error.permanent).toBe(false);
    expect(error.status).toBe(status);
    expect(error.message).toContain("will retry");
  });

  test.each([400, 401, 403, 404, 410, 422])("%d is permanent", (status) => {
    const error = classify(status);
    expect(error.permanent).toBe(true);
    expect(error.status).toBe(status);
    expect(error.retryAfterMs).toBeUndefined();
  });

  test("a 503 with Retry-After waits that long: a rate limit, not a failed attempt", () => {
    const error = classify(503, { headers: { "Retry-After": "30" } });
    expect(error).toMatchObject({ permanent: false, retryAfterMs: 30_000, rateLimited: true });
    expect(error.message).toContain("waiting 30s");
  });

  test("a 429 without any header is a rate limit too: a minute, as GitHub asks for secondary limits", () => {
    expect(classify(429)).toMatchObject({ permanent: false, status: 429, retryAfterMs: 60_000, rateLimited: true });
  });

  test("a 500 without Retry-After is a failed attempt, not a rate limit", () => {
    expect(classify(500).rateLimited).toBe(false);
  });

  test("a 404 with Retry-After stays permanent", () => {
    expect(classify(404, { headers: { "retry-after": "30" } }).permanent).toBe(true);
  });
});

describe("classifyHttpFailure: GitHub rate limits are never permanent", () => {
  test("403 with x-ratelimit-remaining: 0 waits until x-ratelimit-reset", () => {
    const reset = String(NOW / 1000 + 600);
    const error = classify(403, { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }, message: "API rate limit exceeded" });
    expect(error.permanent).toBe(false);
    expect(error.retryAfterMs).toBe(600_000);
    expect(error.message).toContain("rate limited");
  });

  test("429 with x-ratelimit-remaining: 0", () => {
    const error = classify(429, { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 5) } });
    expect(error).toMatchObject({ permanent: false, retryAfterMs: 5_000, status: 429 });
  });

  test("403 with Retry-After (secondary rate limit), in seconds or as a date", () => {
    expect(classify(403, { headers: { "retry-after": "60" } })).toMatchObject({ permanent: false, retryAfterMs: 60_000 });
    expect(classify(403, { headers: { "Retry-After": "Sun, 01 Jun 2025 12:00:10 GMT" } })).toMatchObject({ permanent: false, retryAfterMs: 10_000 });
  });

  test("a reset already past means: try again now", () => {
    expect(classify(403, { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 - 10) } }).retryAfterMs).toBe(0);
  });

  test("403 naming a secondary rate limit without headers waits a minute, as GitHub asks", () => {
    const error = classify(403, { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." });
    expect(error).toMatchObject({ permanent: false, retryAfterMs: 60_000 });
  });

  test("403 with remaining quota is a permission problem", () => {
    expect(classify(403, { headers: { "x-ratelimit-remaining": "4999" } }).permanent).toBe(true);
  });

  test("headers given as a Headers object", () => {
    const headers = new Headers({ "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(NOW / 1000 + 1) });
    expect(classifyHttpFailure({ status: 403, headers, who: github, now: NOW })).toMatchObject({ permanent: false, retryAfterMs: 1_000 });
  });
});

describe("classifyHttpFailure: messages say who and what to check", () => {
  test("401 names the instance and the token key", () => {
    expect(classify(401).message).toBe(
      "401 from GitHub for instance apps-dev: the token for instance apps-dev is invalid or expired (check pat)",
    );
  });

  test("403 says which permission the call needs", () => {
    const message = classify(403, { message: "Resource not accessible by personal access token" }).message;
    expect(message).toStartWith("403 from GitHub for instance apps-dev: the token lacks permission");
    expect(message).toContain("repo:status scope for statuses");
    expect(message).toContain("Resource not accessible by personal access token");
  });

  test("404 names the repository", () => {
    expect(classify(404).message).toContain("repository org/manifests not found or not visible to the token of instance apps-dev");
  });

  test("422 carries the API's own message", () => {
    const message = classify(422, { message: "No commit found for SHA: deadbeef" }).message;
    expect(message).toBe("422 from GitHub for instance apps-dev: org/manifests rejected the request: No commit found for SHA: deadbeef");
  });

  test("a subscriber's failures name it, not a token", () => {
    expect(classify(401, {}, subscriber).message).toContain("subscriber spektate for instance apps-dev");
    expect(classify(404, {}, subscriber).message).toContain("http://spektate:5000/api/flux not found");
    expect(classify(503, { message: "<html>\n<body>Service   Unavailable</body></html>" }, subscriber).message).toContain(
      "<html> <body>Service Unavailable</body></html>",
    );
  });

  test("a long API message is cut", () => {
    expect(classify(500, { message: "x".repeat(5_000) }).message.length).toBeLessThan(500);
  });
});

describe("network failures", () => {
  test("no status: retryable, names the host to check", () => {
    const error = classifyHttpFailure({ message: "Unable to connect. Is the computer able to access the url?", who: github });
    expect(error.permanent).toBe(false);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("could not reach GitHub for instance apps-dev (org/manifests)");
  });

  test("fetch's TypeError with an ECONNREFUSED cause", () => {
    const error = toDeliveryError(new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }) }), github);
    expect(error.permanent).toBe(false);
    expect(error.message).toContain("ECONNREFUSED");
  });

  test("an AbortError or TimeoutError is a retryable timeout", () => {
    for (const name of ["AbortError", "TimeoutError"]) {
      const error = toDeliveryError(new DOMException("The operation was aborted.", name), github);
      expect(error.permanent).toBe(false);
      expect(error.message).toContain("no answer from GitHub for instance apps-dev");
    }
  });

  test("an aborted signal makes any error a timeout", () => {
    const controller = new AbortController();
    controller.abort();
    expect(toDeliveryError(new Error("socket hang up"), github, controller.signal).message).toContain("no answer from GitHub");
  });

  test("an Octokit RequestError with a response is classified by its status, headers and data", () => {
    const octokitError = Object.assign(new Error("Validation Failed"), {
      name: "HttpError",
      status: 422,
      response: { headers: {}, data: { message: "Validation Failed", errors: [{ message: "context is too long" }] } },
    });
    const error = toDeliveryError(octokitError, github);
    expect(error).toMatchObject({ permanent: true, status: 422 });
    expect(error.message).toContain("Validation Failed: context is too long");
  });

  test("Octokit's response-less '500' for a network error stays a network error", () => {
    const octokitError = Object.assign(new Error("connect ECONNREFUSED"), { name: "HttpError", status: 500 });
    const error = toDeliveryError(octokitError, github);
    expect(error.status).toBeUndefined();
    expect(error.permanent).toBe(false);
  });

  test("a DeliveryError passes through unchanged", () => {
    const original = new DeliveryError("instance x has no pat", { permanent: true });
    expect(toDeliveryError(original, github)).toBe(original);
  });
});

describe("never a token", () => {
  test("no message built from a failure carries the token sent", () => {
    const statuses = [undefined, 400, 401, 403, 404, 408, 409, 422, 429, 500, 503];
    for (const status of statuses) {
      for (const who of [github, subscriber]) {
        const message = classify(status, { headers: { "x-ratelimit-remaining": "1" }, message: "Bad credentials" }, who).message;
        expect(message).not.toContain(TOKEN);
        expect(message).not.toContain("ghp_");
      }
    }
  });

  test("URLs lose their credentials and query before they reach a message", () => {
    expect(describeUrl(`https://user:${TOKEN}@hooks.example.com/path?token=${TOKEN}`)).toBe("https://hooks.example.com/path");
    expect(describeUrl("not a url")).toBe("<invalid URL>");
  });
});
