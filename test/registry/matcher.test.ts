import { describe, expect, it } from "vitest";
import {
  centroidOf,
  consistency,
  cosine,
  DEFAULT_CONSISTENCY_BOUND,
  type MatchCandidate,
  matchVoiceprint,
} from "../../src/registry/matcher.js";
import { unitVector } from "./helpers.js";

/** Unit vector in the plane of e0/e1 at `degrees` from e0, so cosines are known exactly: cos(angle). */
function at(degrees: number, dim = 4): Float32Array {
  const v = new Float32Array(dim);
  v[0] = Math.cos((degrees * Math.PI) / 180);
  v[1] = Math.sin((degrees * Math.PI) / 180);
  return v;
}

function candidate(id: string, degrees: number, threshold?: number): MatchCandidate {
  const name = id[0].toUpperCase() + id.slice(1);
  return { id, name, centroid: at(degrees), ...(threshold !== undefined ? { threshold } : {}) };
}

describe("cosine", () => {
  it("measures the angle, independent of length", () => {
    expect(cosine([1, 0], [1, 0])).toBe(1);
    expect(cosine([1, 0], [0, 3])).toBe(0);
    expect(cosine([2, 0], [-5, 0])).toBe(-1);
    expect(cosine([1, 1], [3, 3])).toBeCloseTo(1, 12);
    expect(cosine([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 12);
    const a = unitVector(1);
    const b = unitVector(2);
    expect(cosine(a, b)).toBeCloseTo(
      a.reduce((s, x, i) => s + x * b[i], 0),
      12,
    );
    expect(cosine(new Float32Array(a), a)).toBeCloseTo(1, 6);
  });

  it("is 0 for a zero vector and throws on mismatched dimensions", () => {
    expect(cosine([0, 0], [1, 0])).toBe(0);
    expect(() => cosine([1, 0], [1, 0, 0])).toThrow(/different dimensions \(2 vs 3\)/);
  });
});

describe("centroidOf", () => {
  it("is the L2-normalised mean", () => {
    expect(
      Array.from(
        centroidOf([
          [2, 0],
          [0, 2],
        ])!,
      ),
    ).toEqual(Array.from(new Float32Array([Math.SQRT1_2, Math.SQRT1_2])));
    expect(Array.from(centroidOf([[0, 5]])!)).toEqual([0, 1]);
    expect(centroidOf([])).toBeNull();
    expect(
      centroidOf([
        [1, 0],
        [-1, 0],
      ]),
    ).toBeNull();
    expect(() => centroidOf([[1, 0], [1]])).toThrow(RangeError);
  });
});

describe("matchVoiceprint", () => {
  const probe = at(0);

  it("reports unknown with no score when there is nothing to compare", () => {
    expect(matchVoiceprint(probe, [], 0.8)).toEqual({
      speaker: null,
      score: null,
      margin: null,
      scores: {},
      threshold: 0.8,
      nearest: null,
      reason: "unknown",
    });
  });

  it("picks the best speaker above the threshold and scores every candidate", () => {
    const result = matchVoiceprint(
      probe,
      [candidate("bob", 60), candidate("alice", 10), candidate("carol", 90)],
      0.8,
    );
    expect(result.speaker).toEqual({ id: "alice", name: "Alice" });
    expect(result.nearest).toEqual({ id: "alice", name: "Alice" });
    expect(result.reason).toBeNull();
    expect(result.threshold).toBe(0.8);
    expect(result.score).toBeCloseTo(Math.cos((10 * Math.PI) / 180), 6);
    expect(Object.keys(result.scores).sort()).toEqual(["Alice", "Bob", "Carol"]);
    expect(result.scores.Bob).toBeCloseTo(0.5, 6);
    expect(result.scores.Carol).toBeCloseTo(0, 6);
    expect(result.margin).toBeCloseTo(Math.cos((10 * Math.PI) / 180) - 0.5, 6);
  });

  it("matches when the score equals the threshold exactly, not one step below", () => {
    const alice = candidate("alice", 30);
    const score = cosine(probe, alice.centroid);
    expect(matchVoiceprint(probe, [alice], score).speaker?.id).toBe("alice");
    const justAbove = score + Number.EPSILON;
    expect(justAbove).toBeGreaterThan(score);
    const below = matchVoiceprint(probe, [alice], justAbove);
    expect(below.speaker).toBeNull();
    expect(below.reason).toBe("unknown");
  });

  it("returns unknown below the threshold, never the nearest speaker", () => {
    const result = matchVoiceprint(probe, [candidate("alice", 45), candidate("bob", 80)], 0.82);
    expect(result.speaker).toBeNull();
    expect(result.reason).toBe("unknown");
    expect(result.nearest).toEqual({ id: "alice", name: "Alice" });
    expect(result.score).toBeCloseTo(Math.SQRT1_2, 6);
    expect(result.threshold).toBe(0.82);
  });

  it("applies the best speaker's own threshold override", () => {
    // cos 30° = 0.866: above the default 0.82 ...
    const strict = matchVoiceprint(probe, [candidate("alice", 30, 0.9), candidate("bob", 80)], 0.82);
    expect(strict.speaker).toBeNull();
    expect(strict.reason).toBe("unknown");
    expect(strict.threshold).toBe(0.9);
    // ... and cos 45° = 0.707: below the default, above a lenient override.
    const lenient = matchVoiceprint(probe, [candidate("alice", 45, 0.7), candidate("bob", 80)], 0.82);
    expect(lenient.speaker?.id).toBe("alice");
    expect(lenient.threshold).toBe(0.7);
    // The runner-up's override is irrelevant.
    const other = matchVoiceprint(probe, [candidate("alice", 30), candidate("bob", 80, 0.1)], 0.9);
    expect(other.speaker).toBeNull();
    expect(other.threshold).toBe(0.9);
  });

  it("has no margin with a single candidate and margin 0 on a tie (first one wins)", () => {
    const single = matchVoiceprint(probe, [candidate("alice", 10)], 0.8, 0.05);
    expect(single.margin).toBeNull();
    expect(single.speaker?.id).toBe("alice");
    const tie = matchVoiceprint(probe, [candidate("alice", 20), candidate("bob", -20)], 0.8);
    expect(tie.margin).toBe(0);
    expect(tie.speaker?.id).toBe("alice");
  });

  it("reports uncertain when the runner-up is within minMargin", () => {
    const close = [candidate("alice", 10), candidate("bob", 15)];
    const uncertain = matchVoiceprint(probe, close, 0.8, 0.05);
    expect(uncertain.speaker).toBeNull();
    expect(uncertain.reason).toBe("uncertain");
    expect(uncertain.nearest?.id).toBe("alice");
    expect(uncertain.margin!).toBeLessThan(0.05);
    expect(matchVoiceprint(probe, close, 0.8, 0.001).speaker?.id).toBe("alice");
    expect(matchVoiceprint(probe, close, 0.8).speaker?.id).toBe("alice");
    // Below threshold stays "unknown" even when the margin is also small.
    expect(matchVoiceprint(probe, close, 0.99, 0.05).reason).toBe("unknown");
  });

  it("rejects nonsense parameters", () => {
    expect(() => matchVoiceprint(probe, [], Number.NaN)).toThrow(RangeError);
    expect(() => matchVoiceprint(probe, [], 0.8, -1)).toThrow(RangeError);
    expect(() => matchVoiceprint(probe, [{ id: "x", name: "X", centroid: [1, 0] }], 0.8)).toThrow(
      /dimensions/,
    );
  });
});

describe("consistency", () => {
  it("reports mean and min cosine and flags a different voice below the bound", () => {
    const same = consistency(at(0), [at(10), at(30)]);
    expect(same.count).toBe(2);
    expect(same.mean).toBeCloseTo((Math.cos(Math.PI / 18) + Math.cos(Math.PI / 6)) / 2, 6);
    expect(same.min).toBeCloseTo(Math.cos(Math.PI / 6), 6);
    expect(same.bound).toBe(DEFAULT_CONSISTENCY_BOUND);
    expect(same.suspicious).toBe(false);

    const different = consistency(at(0), [at(60), at(70)]);
    expect(different.suspicious).toBe(true);
    expect(consistency(at(0), [at(60), at(70)], 0.3).suspicious).toBe(false);
  });

  it("has nothing to say about the first sample", () => {
    expect(consistency(at(0), [])).toEqual({
      count: 0,
      mean: null,
      min: null,
      bound: DEFAULT_CONSISTENCY_BOUND,
      suspicious: false,
    });
  });
});
