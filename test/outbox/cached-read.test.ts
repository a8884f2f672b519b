import { describe, expect, test } from "bun:test";
import { cachedRead } from "../../src/outbox/cached-read.ts";

describe("cachedRead", () => {
  test("within the age the last answer is given again; after it, a new read; callers during a read share it", async () => {
    let clock = 0;
    let reads = 0;
    let release: (value: number) => void = () => {};
    const read = cachedRead(() => new Promise<number>((resolve) => ((reads += 1), (release = resolve))), 250, () => clock);
    const first = read();
    const second = read();
    release(7);
    expect(await Promise.all([first, second])).toEqual([7, 7]);
    expect(reads).toBe(1);
    clock = 249;
    expect(await read()).toBe(7);
    expect(reads).toBe(1);
    clock = 250;
    const third = read();
    release(9);
    expect(await third).toBe(9);
    expect(reads).toBe(2);
  });

  test("the age counts from when the read started, not from its answer", async () => {
    let clock = 0;
    let reads = 0;
    let release: (value: number) => void = () => {};
    const read = cachedRead(() => new Promise<number>((resolve) => ((reads += 1), (release = resolve))), 250, () => clock);
    const first = read();
    clock = 200; // the database took 200 ms to answer
    release(1);
    await first;
    clock = 260;
    const second = read();
    release(2);
    expect(await second).toBe(2);
    expect(reads).toBe(2);
  });

  test("a failed read is not kept: the next caller reads again", async () => {
    let fail = true;
    const read = cachedRead(async () => {
      if (fail) throw new Error("database gone");
      return 3;
    }, 1_000, () => 0);
    await expect(read()).rejects.toThrow("database gone");
    fail = false;
    expect(await read()).toBe(3);
  });
});
