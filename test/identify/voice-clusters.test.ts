import { describe, expect, it } from "vitest";
import { agglomerate, clusterVoices, cut } from "../../src/identify/voice-clusters.js";
import { mulberry32 } from "../../src/util/random.js";

/** `n` unit vectors around `centre` (a 32-dimensional direction), spread by `noise`. */
function voice(centre: number, n: number, noise: number, random: () => number): Float32Array[] {
  return Array.from({ length: n }, () => {
    const v = new Float32Array(32);
    v[centre] = 1;
    for (let i = 0; i < v.length; i++) v[i] += noise * (random() - 0.5);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

describe("clusterVoices", () => {
  it("finds three voices among interleaved voiceprints, numbered by first appearance", () => {
    const random = mulberry32(3);
    const [a, b, c] = [voice(0, 5, 0.25, random), voice(1, 5, 0.25, random), voice(2, 5, 0.25, random)];
    const order = [b[0], a[0], c[0], b[1], a[1], c[1], a[2], b[2], c[2], a[3], b[3], c[3], a[4], b[4], c[4]];
    const groups = clusterVoices(order);
    expect(groups.slice(0, 3)).toEqual([0, 1, 2]);
    expect(groups).toEqual([0, 1, 2, 0, 1, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2]);
  });

  it("keeps one voice one voice", () => {
    const groups = clusterVoices(voice(4, 12, 0.25, mulberry32(5)));
    expect(new Set(groups)).toEqual(new Set([0]));
  });

  it("stops merging where the groups are less alike than the threshold", () => {
    const random = mulberry32(7);
    const items = [...voice(0, 4, 0.3, random), ...voice(1, 4, 0.3, random)];
    const merges = agglomerate(items);
    expect(merges).toHaveLength(items.length - 1);
    // Average linkage never merges a closer pair later.
    for (let i = 1; i < merges.length; i++)
      expect(merges[i].similarity).toBeLessThanOrEqual(merges[i - 1].similarity);
    expect(merges.at(-1)!.similarity).toBeLessThan(0.3);
    expect(cut(items.length, merges, 2)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(clusterVoices(items, { minSimilarity: -1, minMembers: 1 })).toEqual(new Array(8).fill(0));
  });
});
