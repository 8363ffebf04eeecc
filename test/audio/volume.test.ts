import { describe, expect, it } from "vitest";
import { normalizeVolume, waveDbfs } from "../../src/audio/volume.js";
import { decodeWav } from "../../src/audio/wav.js";
import { f32, loadFixture, readSharedAudio } from "../fixtures/frontend/load.js";

interface VolumeFixture {
  file: string;
  offset: number;
  length: number;
  cases: Array<{
    scale: number;
    target: number;
    increaseOnly: boolean;
    decreaseOnly: boolean;
    output: string;
    unchanged: boolean;
  }>;
}

describe("normalizeVolume", () => {
  const fx = loadFixture<VolumeFixture>("volume.json");
  const speech = decodeWav(readSharedAudio(fx.file)).channelData[0].subarray(
    fx.offset,
    fx.offset + fx.length,
  );

  it("matches resemblyzer.audio.normalize_volume on real speech at several levels", () => {
    for (const c of fx.cases) {
      const scale = Math.fround(c.scale);
      const x = speech.map((v) => v * scale);
      const y = normalizeVolume(x, c.target, { increaseOnly: c.increaseOnly, decreaseOnly: c.decreaseOnly });
      const ref = f32(c.output);
      expect(y === x, JSON.stringify(c)).toBe(c.unchanged);
      let worst = 0;
      let peak = 0;
      for (let i = 0; i < ref.length; i++) {
        worst = Math.max(worst, Math.abs(y[i] - ref[i]));
        peak = Math.max(peak, Math.abs(ref[i]));
      }
      // numpy does this in float32; we use float64, so allow float32 rounding of the gain.
      expect(worst / peak, JSON.stringify(c)).toBeLessThan(1e-6);
      if (!c.unchanged) expect(waveDbfs(y)).toBeCloseTo(c.target, 4);
    }
  });

  it("leaves silence and empty input unchanged instead of producing NaN", () => {
    const zeros = new Float32Array(1000);
    const out = normalizeVolume(zeros, -30, { increaseOnly: true });
    expect(out.every((v) => v === 0)).toBe(true);
    expect(normalizeVolume(new Float32Array(0))).toHaveLength(0);
    expect(waveDbfs(zeros)).toBe(Number.NEGATIVE_INFINITY);
  });

  it("computes dBFS like resemblyzer: a full-scale square wave is 0 dBFS", () => {
    const square = Float32Array.from({ length: 100 }, (_, i) => (i % 2 ? 1 : -1));
    expect(waveDbfs(square)).toBeCloseTo(0, 10);
    const half = normalizeVolume(square, -6.0206);
    expect(Math.abs(half[0])).toBeCloseTo(0.5, 4);
  });

  it("rejects increaseOnly together with decreaseOnly", () => {
    expect(() =>
      normalizeVolume(Float32Array.of(0.1), -30, { increaseOnly: true, decreaseOnly: true }),
    ).toThrow(/Both increase only and decrease only/);
  });
});
