import { describe, expect, test } from "bun:test";
import { toWellFormedJson } from "../../src/server/well-formed.ts";

const parse = (text: string) => toWellFormedJson(JSON.parse(text), text);

describe("toWellFormedJson", () => {
  test("lone surrogates in strings and keys become U+FFFD, at any depth; pairs, NULs and the rest stay", () => {
    const text = String.raw`{"a":"web\ud800x","b\udc00":["\ud83d\ude00","\u0000",{"c":"end\ud83d"}],"n":1}`;
    expect(parse(text)).toEqual({ a: "web\ufffdx", "b\ufffd": ["😀", "\u0000", { c: "end\ufffd" }], n: 1 });
  });

  test("a body without a surrogate escape is returned as parsed (no walk)", () => {
    const value = { a: "plain", b: ["😀"] };
    expect(toWellFormedJson(value, JSON.stringify(value))).toBe(value);
  });

  test("a deeply nested body does not exhaust the stack", () => {
    const text = `${"[".repeat(20_000)}"\\ud800"${"]".repeat(20_000)}`;
    let value = parse(text);
    for (let depth = 0; depth < 20_000; depth++) value = (value as unknown[])[0];
    expect(value).toBe("\ufffd");
  });
});
