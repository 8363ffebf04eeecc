import { describe, expect, it } from "vitest";
import { decodeWav } from "../../src/audio/wav.js";
import { MEL_N_CHANNELS, melFilterbank, melSpectrogram } from "../../src/embedding/mel.js";
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

describe("melSpectrogram", () => {
  const fx = loadFixture<MelFixture>("mel.json");

  it(`matches librosa ${fx.librosa} on 1.5 s of real speech (${fx.file} @ ${fx.offset})`, () => {
    const wav = decodeWav(readSharedAudio(fx.file)).channelData[0];
    const mel = melSpectrogram(wav.subarray(fx.offset, fx.offset + fx.length));
    const want = f32(fx.mel);
    expect(mel.frames).toBe(fx.frames);
    expect(mel.data.length).toBe(fx.frames * MEL_N_CHANNELS);
    expect(worstRelativeError(mel.data, want)).toBeLessThan(1e-4);
  });

  it("matches librosa's zero-padded edges on short inputs (0 .. 1000 samples)", () => {
    for (const c of fx.short) {
      const mel = melSpectrogram(f32(c.input));
      expect(mel.frames, `n=${c.n}`).toBe(c.frames);
      expect(mel.frames).toBe(1 + Math.floor(c.n / 160));
      expect(worstRelativeError(mel.data, f32(c.mel)), `n=${c.n}`).toBeLessThan(1e-4);
    }
  });

  it("puts a pure tone's energy in the mel channel that covers its frequency", () => {
    const x = Float32Array.from(
      { length: 16000 },
      (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000),
    );
    const { frames, data } = melSpectrogram(x);
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
