import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Identifier } from "../../src/enrolment/identifier.js";
import { type TempRegistry, tempRegistry } from "./helpers.js";

const MODEL = "test-model";

/** Unit vector along axis `i` (with a small shared component so cosines are not all exactly 0). */
function axis(i: number, dim = 8): number[] {
  const v = Array.from({ length: dim }, (_, k) => (k === i ? 1 : 0.05));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const sample = (vector: number[]) => ({
  voiceprints: { [MODEL]: vector },
  speechSeconds: 4,
  durationSeconds: 5,
  source: "test",
});

let temp: TempRegistry;
beforeEach(async () => {
  temp = await tempRegistry();
});
afterEach(() => temp.dispose());

describe("Identifier", () => {
  it("follows registry changes while started (cached candidates are invalidated)", async () => {
    const identifier = new Identifier(temp.registry, { modelId: MODEL, defaultThreshold: 0.8 });
    await identifier.start();
    expect(identifier.identify(axis(0))).toMatchObject({ reason: "unknown", score: null });

    const alice = await temp.registry.create("Alice");
    await temp.registry.addSample(alice.id, sample(axis(0)));
    const first = identifier.identify(axis(0));
    expect(first.speaker).toEqual({ id: "alice", name: "Alice" });
    expect(first.score).toBeCloseTo(1, 6);

    await temp.registry.rename("alice", "Alicia");
    expect(identifier.identify(axis(0)).speaker).toEqual({ id: "alice", name: "Alicia" });

    await temp.registry.setThreshold("alice", MODEL, 0.9999999);
    expect(identifier.identify(axis(0)).threshold).toBe(0.9999999);

    await temp.registry.remove("alice");
    expect(identifier.identify(axis(0))).toMatchObject({ reason: "unknown", score: null });
    await identifier.stop();
    await identifier.stop(); // idempotent
  });

  it("reads the registry afresh on every call when not started", async () => {
    const identifier = new Identifier(temp.registry, { modelId: MODEL, defaultThreshold: 0.8 });
    const bob = await temp.registry.create("Bob");
    await temp.registry.addSample(bob.id, sample(axis(1)));
    expect(identifier.identify(axis(1)).speaker?.name).toBe("Bob");
    expect(identifier.identify(axis(2))).toMatchObject({ speaker: null, reason: "unknown" });
  });

  it("only considers voiceprints of its model and applies minMargin", async () => {
    const identifier = new Identifier(temp.registry, {
      modelId: MODEL,
      defaultThreshold: 0.5,
      minMargin: 0.2,
    });
    const a = await temp.registry.create("A");
    const b = await temp.registry.create("B");
    const c = await temp.registry.create("C");
    await temp.registry.addSample(a.id, sample(axis(0)));
    await temp.registry.addSample(b.id, sample(axis(0).map((x, i) => (i === 1 ? x + 0.1 : x))));
    await temp.registry.addSample(c.id, { ...sample(axis(3)), voiceprints: { "other-model": axis(3) } });
    const result = identifier.identify(axis(0));
    expect(Object.keys(result.scores).sort()).toEqual(["A", "B"]);
    expect(result.reason).toBe("uncertain");
    expect(result.speaker).toBeNull();
    expect(result.nearest?.name).toBe("A");
  });
});
