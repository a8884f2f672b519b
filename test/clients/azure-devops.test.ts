/**
 * The Azure DevOps HTTP client through real fetch against the loopback fake: what every call sends (PAT as
 * Basic auth, JSON, our User-Agent), how each way Azure DevOps can refuse is classified (retry or dead), and that
 * no message carries the token in any of its forms.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import { basicAuthorization, createAzureDevOpsHttp, unexpectedAnswer } from "../../src/clients/azure-devops.ts";
import type { FailureParty } from "../../src/clients/http-failure.ts";
import type { FetchLike } from "../../src/core/http.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { startFakeApi } from "../support/fake-api.ts";

const PAT = "azdopat0123456789abcdefghijklmnopqrstuvwxyzABCD";
const PAT_BASIC = Buffer.from(`:${PAT}`).toString("base64");
const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const who: FailureParty = {
  service: "Azure DevOps",
  instance: "apps-azdo",
  resource: "dev.azure.com/org/project/manifests",
  tokenKey: "pat",
  permission: "Code (Status) to post commit statuses",
  notFound: "repository dev.azure.com/org/project/manifests not found or not visible to the token of instance apps-azdo (check azdoOrgUrl, azdoGitOpsRepoName and pat)",
};

let fetchCalls = 0;
const countingFetch: FetchLike = (input, init) => {
  fetchCalls++;
  return fetch(input, init);
};
beforeEach(() => {
  fetchCalls = 0;
});

const http = (token = PAT) => createAzureDevOpsHttp({ credentials: tokenCredentials(token), userAgent: USER_AGENT, fetch: countingFetch });
const signal = () => AbortSignal.timeout(5_000);
const url = (path = "/org/project/_apis/git/repositories/manifests/commits/abc/statuses?api-version=7.1") => `${fake.url}${path}`;

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error("expected a DeliveryError");
}

const postOnce = (token = PAT, abort: AbortSignal = signal()) => http(token).send({ method: "POST", url: url(), body: { state: "succeeded" } }, who, abort);
const getOnce = () => http().send({ method: "GET", url: url("/org/project/_apis/git/repositories/manifests/commits/abc?api-version=7.1") }, who, signal());

describe("basicAuthorization", () => {
  test("the PAT is the password of an empty user name", () => {
    expect(basicAuthorization(PAT)).toBe(`Basic ${PAT_BASIC}`);
    expect(Buffer.from(basicAuthorization("s3cret").slice("Basic ".length), "base64").toString()).toBe(":s3cret");
  });
});

describe("what every call sends", () => {
  test("a POST: Basic auth, JSON body and content type, JSON accept, our User-Agent, through the given fetch", async () => {
    const answer = await postOnce();
    const [request] = fake.requests();
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/org/project/_apis/git/repositories/manifests/commits/abc/statuses");
    expect(request?.query).toEqual({ "api-version": "7.1" });
    expect(request?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers.accept).toBe("application/json");
    expect(request?.headers["user-agent"]).toBe(USER_AGENT);
    expect(request?.headers["user-agent"]).toMatch(/^gitops-connector\/\d+\.\d+\.\d+/);
    expect(request?.rawBody).toBe('{"state":"succeeded"}');
    expect(answer).toMatchObject({ state: "succeeded" });
    expect(fetchCalls).toBe(1);
  });

  test("a GET has no body and no content type, and resolves with the parsed JSON", async () => {
    fake.setCommitMessage("abc", "Merged PR 12: Deploy");
    const answer = await getOnce();
    const [request] = fake.requests();
    expect(request?.method).toBe("GET");
    expect(request?.rawBody).toBe("");
    expect(request?.headers["content-type"]).toBeUndefined();
    expect(request?.headers.accept).toBe("application/json");
    expect(request?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
    expect(answer).toEqual({ commitId: "abc", comment: "Merged PR 12: Deploy" });
  });

  test("a 204 resolves with undefined", async () => {
    fake.failNext(1, { status: 204 });
    expect(await postOnce()).toBeUndefined();
  });
});

describe("how refusals are classified", () => {
  test("401: permanent, names the instance and says to check pat", async () => {
    fake.failNext(1, { status: 401, headers: { "www-authenticate": "Bearer" }, body: "" });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect(error.message).toBe("401 from Azure DevOps for instance apps-azdo: the token for instance apps-azdo is invalid or expired (check pat)");
  });

  test("403: permanent, names the permission the call needs", async () => {
    fake.failNext(1, {
      status: 403,
      body: { message: "TF401027: You need the Git 'GenericContribute' permission to perform this action.", typeKey: "GitNeedsPermissionException" },
    });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: true, status: 403 });
    expect(error.message).toContain("it needs Code (Status) to post commit statuses (check pat)");
    expect(error.message).toContain("TF401027");
  });

  test("404: permanent, with the party's notFound text and Azure's own message (TF401019)", async () => {
    const azureMessage = "TF401019: The Git repository with name or identifier manifests does not exist or you do not have permissions for the operation you are attempting.";
    fake.failNext(1, {
      status: 404,
      body: { $id: "1", innerException: null, message: azureMessage, typeName: "Microsoft.TeamFoundation.Git.Server.GitRepositoryNotFoundException", typeKey: "GitRepositoryNotFoundException", errorCode: 0, eventId: 3000 },
    });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: true, status: 404 });
    expect(error.message).toContain(who.notFound!);
    expect(error.message).toContain(`(Azure DevOps said: ${azureMessage})`);
  });

  test("400 carries Azure's message", async () => {
    fake.failNext(1, { status: 400, body: { message: "VS403403: The state value 'bogus' is not valid." } });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: true, status: 400 });
    expect(error.message).toContain("VS403403: The state value 'bogus' is not valid.");
  });

  test("429 with Retry-After: retryable, after that long", async () => {
    fake.failNext(1, { status: 429, headers: { "retry-after": "30", "x-ratelimit-resource": "Core" }, body: { message: "Request was blocked due to exceeding usage of resource 'Core'" } });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: false, status: 429, retryAfterMs: 30_000 });
  });

  test.each([500, 502, 503])("%d: retryable", async (status) => {
    fake.failNext(1, { status, body: { message: "The service is temporarily unavailable" } });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: false, status });
    expect(error.message).toEndWith("; will retry");
  });

  test("503 with Retry-After keeps the wait", async () => {
    fake.failNext(1, { status: 503, headers: { "retry-after": "5" }, body: "" });
    expect(await failureOf(postOnce())).toMatchObject({ permanent: false, status: 503, retryAfterMs: 5_000 });
  });

  test("203 (a rejected PAT answered with the sign-in page): permanent, like a 401", async () => {
    fake.failNext(1, { status: 203, headers: { "content-type": "text/html; charset=utf-8" }, body: "<html><head><title>Azure DevOps Services | Sign In</title></head></html>" });
    const error = await failureOf(postOnce());
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect(error.message).toContain("for instance apps-azdo");
    expect(error.message).toContain("check pat");
    expect(error.message).toContain("sign-in page");
  });

  test("a 200 HTML sign-in page instead of JSON: permanent, like a 401", async () => {
    fake.failNext(1, { status: 200, headers: { "content-type": "text/html" }, body: "<!DOCTYPE html><html><body>Sign in to your account</body></html>" });
    const error = await failureOf(getOnce());
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect(error.message).toContain("check pat");
  });

  test("a redirect to the sign-in page is not followed: permanent, like a 401", async () => {
    fake.failNext(1, { status: 302, headers: { location: `${fake.url}/_signin?realm=dev.azure.com` } });
    const error = await failureOf(getOnce());
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect(fake.requests().map((r) => r.path)).toEqual(["/org/project/_apis/git/repositories/manifests/commits/abc"]);
  });

  test("a closed port: retryable network error, no status", async () => {
    const closed = startFakeApi();
    const closedUrl = `${closed.url}/org/project/_apis/git/repositories/manifests/commits/abc/statuses?api-version=7.1`;
    await closed.stop();
    const error = await failureOf(http().send({ method: "POST", url: closedUrl, body: {} }, who, signal()));
    expect(error.permanent).toBe(false);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("could not reach Azure DevOps for instance apps-azdo (dev.azure.com/org/project/manifests)");
  });

  test("a hang cut by AbortSignal.timeout: retryable, says it timed out", async () => {
    fake.hang();
    const error = await failureOf(postOnce(PAT, AbortSignal.timeout(100)));
    expect(error.permanent).toBe(false);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("no answer from Azure DevOps for instance apps-azdo (dev.azure.com/org/project/manifests) before the delivery timed out or was cancelled");
    expect(fake.requests()).toHaveLength(1);
  });

  test("an abort from the caller (shutdown) is retryable too", async () => {
    fake.hang();
    const controller = new AbortController();
    const pending = failureOf(postOnce(PAT, controller.signal));
    await fake.waitFor(() => true);
    controller.abort();
    expect(await pending).toMatchObject({ permanent: false });
  });
});

describe("no message carries the token", () => {
  const forms = [PAT, PAT_BASIC, Buffer.from(PAT).toString("base64")];

  test("in any failure the connector words (4xx, 5xx, sign-in page, network, timeout)", async () => {
    const failures = [
      ...[400, 401, 403, 404, 409, 429, 500, 503].map((status) => ({ status, body: { message: "TF400813: The user is not authorized to access this resource." } })),
      { status: 203, headers: { "content-type": "text/html" }, body: "<html><title>Sign In</title></html>" },
      { status: 200, headers: { "content-type": "text/html" }, body: "<html><title>Sign In</title></html>" },
    ];
    const messages: string[] = [];
    for (const failure of failures) {
      fake.failNext(1, failure);
      messages.push((await failureOf(postOnce())).message);
    }
    fake.hang();
    messages.push((await failureOf(postOnce(PAT, AbortSignal.timeout(50)))).message);
    fake.unhang();
    const closed = startFakeApi();
    const closedUrl = `${closed.url}/org/project/_apis/git/repositories/manifests/commits/abc/statuses`;
    await closed.stop();
    messages.push((await failureOf(http().send({ method: "POST", url: closedUrl, body: {} }, who, signal()))).message);

    expect(messages).toHaveLength(12);
    for (const message of messages) for (const form of forms) expect(message).not.toContain(form);
  });
});

describe("unexpectedAnswer", () => {
  test("a permanent error naming the instance and what was called", () => {
    const error = unexpectedAnswer(who, "a commit without a comment (commit abc)");
    expect(error).toMatchObject({ permanent: true });
    expect(error.message).toBe("Azure DevOps for instance apps-azdo answered dev.azure.com/org/project/manifests with a commit without a comment (commit abc)");
  });
});
