/** The loopback fake itself: other tests (worker, crash) lean on these behaviours. */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { DEFAULT_COMMIT_MESSAGE, isDispatch, startFakeApi } from "./fake-api.ts";

const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const post = (path: string, body: unknown = { a: 1 }, signal?: AbortSignal) =>
  fetch(`${fake.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-test": "yes" }, body: JSON.stringify(body), signal });

describe("fake API", () => {
  test("records method, path, query, lower-cased headers and the parsed body", async () => {
    await post("/hook?x=1", { hello: "world" });
    await fetch(`${fake.url}/plain`, { method: "POST", body: "not json" });
    const [json, text] = fake.requests();
    expect(json).toMatchObject({ method: "POST", path: "/hook", query: { x: "1" }, body: { hello: "world" }, answeredWith: 200 });
    expect(json?.headers["x-test"]).toBe("yes");
    expect(text?.body).toBe("not json");
    expect(typeof json?.at).toBe("number");
  });

  test("GitHub defaults: 201 status, commit JSON, 204 dispatch, 404 elsewhere", async () => {
    expect((await post("/repos/o/r/statuses/abc", { state: "success" })).status).toBe(201);
    const commit = await fetch(`${fake.url}/api/v3/repos/o/r/commits/abc`);
    expect(await commit.json()).toEqual({ sha: "abc", commit: { message: DEFAULT_COMMIT_MESSAGE } });
    expect((await post("/repos/o/r/dispatches")).status).toBe(204);
    expect((await fetch(`${fake.url}/nothing`)).status).toBe(404);
  });

  test("on(): a route with :params, newest first; setHandler() before routes; failNext() before both", async () => {
    fake.on("POST", "/repos/:owner/:repo/dispatches", { status: 500 });
    fake.on("POST", "/repos/:owner/:repo/dispatches", { status: 202, body: "ok" });
    expect((await post("/repos/o/r/dispatches")).status).toBe(202);
    fake.setHandler((request) => (request.path === "/repos/o/r/dispatches" ? { status: 418 } : undefined));
    expect((await post("/repos/o/r/dispatches")).status).toBe(418);
    fake.failNext(2, { status: 503, headers: { "retry-after": "1" } }, isDispatch);
    expect((await post("/elsewhere")).status).toBe(200);
    const failed = await post("/repos/o/r/dispatches");
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).toBe("1");
    expect((await post("/repos/o/r/dispatches")).status).toBe(503);
    expect((await post("/repos/o/r/dispatches")).status).toBe(418);
  });

  test("hang() holds requests (recorded) until unhang()", async () => {
    fake.hang();
    const pending = post("/slow");
    const arrived = await fake.waitFor((r) => r.path === "/slow");
    expect(arrived.answeredWith).toBeUndefined();
    fake.unhang();
    expect((await pending).status).toBe(200);
  });

  test("a hanging request ends when the client aborts", async () => {
    fake.hang();
    const controller = new AbortController();
    const pending = post("/slow", {}, controller.signal).catch((error: Error) => error.name);
    await fake.waitFor((r) => r.path === "/slow");
    controller.abort();
    expect(await pending).toBe("AbortError");
  });

  test("waitFor() sees requests already arrived; waitForCount() waits for more; both time out with a listing", async () => {
    await post("/one");
    expect((await fake.waitFor((r) => r.path === "/one")).path).toBe("/one");
    const two = fake.waitForCount(2, (r) => r.path === "/two");
    await post("/two");
    await post("/two");
    expect(await two).toHaveLength(2);
    await expect(fake.waitFor((r) => r.path === "/never", 50)).rejects.toThrow(/expected 1 matching request\(s\) within 50ms; got 0 \(all requests: POST \/one/);
  });

  test("reset() forgets requests and rules", async () => {
    fake.failNext(5, { status: 500 });
    fake.setCommitMessage("abc", "custom");
    await post("/x");
    fake.reset();
    expect(fake.requests()).toHaveLength(0);
    expect((await post("/x")).status).toBe(200);
    expect(await (await fetch(`${fake.url}/repos/o/r/commits/abc`)).json()).toMatchObject({ commit: { message: DEFAULT_COMMIT_MESSAGE } });
  });
});
