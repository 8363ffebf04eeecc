import { describe, expect, it } from "vitest";
import { AsyncMutex } from "../../src/util/mutex.js";

describe("AsyncMutex", () => {
  it("runs tasks one at a time in call order and survives failures", async () => {
    const mutex = new AsyncMutex();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) =>
      mutex.run(async () => {
        running++;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await new Promise((r) => setImmediate(r));
        log.push(`end ${name}`);
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a"), task("b", true), task("c")]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    await mutex.idle();
  });
});
