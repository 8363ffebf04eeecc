import { describe, expect, it } from "vitest";
import { computePartialSlices, PARTIAL_FRAMES } from "../../src/embedding/partials.js";
import { loadFixture } from "../fixtures/frontend/load.js";

interface PartialsFixture {
  cases: Array<{ n: number; rate: number; minCoverage: number; wav: number[][]; mel: number[][] }>;
}

describe("computePartialSlices", () => {
  it("equals VoiceEncoder.compute_partial_slices for many lengths, rates and coverages", () => {
    const fx = loadFixture<PartialsFixture>("partials.json");
    expect(fx.cases.length).toBeGreaterThan(50);
    for (const c of fx.cases) {
      const got = computePartialSlices(c.n, c.rate, c.minCoverage);
      const label = `n=${c.n} rate=${c.rate} cov=${c.minCoverage}`;
      expect(
        got.wavSlices.map((s) => [s.start, s.stop]),
        label,
      ).toEqual(c.wav);
      expect(
        got.melSlices.map((s) => [s.start, s.stop]),
        label,
      ).toEqual(c.mel);
    }
  });

  it("uses 160-frame windows 77 frames apart by default", () => {
    const { melSlices, wavSlices } = computePartialSlices(16000 * 5);
    expect(PARTIAL_FRAMES).toBe(160);
    expect(melSlices[1].start - melSlices[0].start).toBe(77);
    for (const s of melSlices) expect(s.stop - s.start).toBe(160);
    expect(wavSlices[0]).toEqual({ start: 0, stop: 25600 });
  });

  it("rejects bad arguments", () => {
    expect(() => computePartialSlices(-1)).toThrow(RangeError);
    expect(() => computePartialSlices(1.5)).toThrow(RangeError);
    expect(() => computePartialSlices(1000, 1.3, 0)).toThrow(/minCoverage/);
    expect(() => computePartialSlices(1000, 1.3, 1.5)).toThrow(/minCoverage/);
    expect(() => computePartialSlices(1000, 0.5)).toThrow(/too low/);
    expect(() => computePartialSlices(1000, 1000)).toThrow(/too high/);
  });
});
