import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWav } from "../../src/audio/wav.js";
import { MEL_N_CHANNELS, MelFrontEnd, melFilterbank } from "../../src/embedding/mel.js";
import { f32, loadFixture, readSharedAudio } from "../fixtures/frontend/load.js";

interface MelFixture {
  librosa: string;
  file: string;
  offset: number;
  length: number;
  frames: number;
  mel: string;
  short: Array<{ input: string; n: number; frames: number; mel: string }>;
}

/** Worst relative error over reference values above 1e-6 of the reference maximum. */
function worstRelativeError(got: Float32Array, want: Float32Array): number {
  let max = 0;
  for (const v of want) max = Math.max(max, v);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (want[i] > 1e-6 * max) worst = Math.max(worst, Math.abs(got[i] - want[i]) / want[i]);
  }
  return worst;
}

const mel = new MelFrontEnd();
beforeAll(() => mel.start());
afterAll(() => mel.stop());

describe("MelFrontEnd", () => {
  const fx = loadFixture<MelFixture>("mel.json");

  it(`matches librosa ${fx.librosa} on 1.5 s of real speech (${fx.file} @ ${fx.offset})`, async () => {
    const wav = decodeWav(readSharedAudio(fx.file)).channelData[0];
    const data = await mel.frames([wav.subarray(fx.offset, fx.offset + fx.length)]);
    expect(data.length).toBe(fx.frames * MEL_N_CHANNELS);
    expect(worstRelativeError(data, f32(fx.mel))).toBeLessThan(1e-4);
  });

  it("matches librosa's zero-padded edges on short inputs (0 .. 1000 samples)", async () => {
    for (const c of fx.short) {
      const data = await mel.frames([f32(c.input)]);
      expect(data.length / MEL_N_CHANNELS, `n=${c.n}`).toBe(c.frames);
      expect(c.frames).toBe(1 + Math.floor(c.n / 160));
      expect(worstRelativeError(data, f32(c.mel)), `n=${c.n}`).toBeLessThan(1e-4);
    }
  });

  // The same numbers up to float rounding: onnxruntime's GEMM sums in an order that depends on the shapes.
  it("gives any range of frames as that part of the whole, and a batch as one input at a time", async () => {
    const wav = decodeWav(readSharedAudio(fx.file)).channelData[0].subarray(0, 48_000);
    const whole = await mel.frames([wav]);
    for (const [from, to] of [
      [0, 10],
      [77, 237],
      [290, 301],
    ]) {
      const part = await mel.frames([wav], from, to);
      expect(part.length).toBe((to - from) * MEL_N_CHANNELS);
      expect(
        worstRelativeError(part, whole.subarray(from * MEL_N_CHANNELS, to * MEL_N_CHANNELS)),
      ).toBeLessThan(1e-5);
    }
    const a = wav.subarray(0, 25_600);
    const b = wav.subarray(16_000, 41_600);
    const batch = await mel.frames([a, b], 0, 160);
    expect(worstRelativeError(batch.subarray(0, 6400), await mel.frames([a], 0, 160))).toBeLessThan(1e-5);
    expect(worstRelativeError(batch.subarray(6400), await mel.frames([b], 0, 160))).toBeLessThan(1e-5);
  });

  it("puts a pure tone's energy in the mel channel that covers its frequency", async () => {
    const x = Float32Array.from(
      { length: 16000 },
      (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000),
    );
    const data = await mel.frames([x]);
    const frames = data.length / MEL_N_CHANNELS;
    const t = Math.floor(frames / 2);
    const row = Array.from(data.subarray(t * MEL_N_CHANNELS, (t + 1) * MEL_N_CHANNELS));
    const best = row.indexOf(Math.max(...row));
    // Slaney scale: linear below 1 kHz at 200/3 Hz per mel; channel centres are 41 points on 0..~45 mel.
    const bank = melFilterbank(16000, 400, MEL_N_CHANNELS);
    const bin1k = 1000 / 40;
    const strongest = Array.from({ length: MEL_N_CHANNELS }, (_, m) => bank[m * 201 + bin1k]);
    expect(best).toBe(strongest.indexOf(Math.max(...strongest)));
  });

  it("has Slaney area-normalised filters: each triangle integrates to ~1 over Hz", () => {
    const bank = melFilterbank(16000, 400, MEL_N_CHANNELS);
    for (let m = 0; m < MEL_N_CHANNELS; m++) {
      let area = 0;
      for (let k = 0; k < 201; k++) area += bank[m * 201 + k] * 40; // 40 Hz per bin
      // Narrow low filters are sampled coarsely by 40 Hz bins; the area is 1 in the continuum.
      expect(area, `channel ${m}`).toBeGreaterThan(0.5);
      expect(area, `channel ${m}`).toBeLessThan(1.5);
    }
  });
});
