import { describe, expect, it } from "vitest";
import { resample, resampledLength, StreamingResampler } from "../../src/audio/resample.js";
import { f32, loadFixture } from "../fixtures/frontend/load.js";

function tone(n: number, freq: number, rate: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Amplitude of the component at `freq` over y[from, to) (windowed single-bin DFT, Hann). */
function amplitudeAt(y: Float32Array, freq: number, rate: number, from: number, to: number): number {
  let re = 0;
  let im = 0;
  let wsum = 0;
  const n = to - from;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
    const a = (2 * Math.PI * freq * (from + i)) / rate;
    re += w * y[from + i] * Math.cos(a);
    im -= w * y[from + i] * Math.sin(a);
    wsum += w;
  }
  return (2 * Math.hypot(re, im)) / wsum;
}

function rms(y: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += y[i] * y[i];
  return Math.sqrt(s / (to - from));
}

const db = (x: number): number => 20 * Math.log10(x);
// 44123 and 7993 have no small common factor with 16000: they use the interpolated kernel.
const RATES = [7993, 8000, 11025, 22050, 32000, 44100, 44123, 48000, 96000];

describe("resample", () => {
  it("returns an equal copy for 16k -> 16k", () => {
    const x = tone(1234, 440, 16000);
    const y = resample(x, 16000, 16000);
    expect(y).not.toBe(x);
    expect(y).toEqual(x);
  });

  it("returns ceil(n * out / in) samples, as librosa.resample", () => {
    for (const rate of [...RATES, 44123]) {
      for (const n of [0, 1, 2, 3, 440, 441, 442, 4410, 12345]) {
        const expected = Math.ceil((n * 16000) / rate);
        expect(resample(new Float32Array(n), rate, 16000).length).toBe(expected);
        expect(resampledLength(n, rate, 16000)).toBe(expected);
      }
    }
  });

  it("keeps passband sines within ±0.1 dB, in phase", () => {
    for (const rate of RATES) {
      const lowNyquist = Math.min(rate, 16000) / 2;
      for (const f of [100, 1000, 0.5 * lowNyquist, 0.9 * lowNyquist]) {
        const y = resample(tone(rate, f, rate, 0.5), rate, 16000);
        const a = amplitudeAt(y, f, 16000, 1600, 14400);
        expect(Math.abs(db(a / 0.5)), `${rate} Hz input, ${f} Hz tone`).toBeLessThan(0.1);
        // Zero-delay filter: the output tracks the ideal 16 kHz sine.
        const ideal = tone(16000, f, 16000, 0.5);
        let err = 0;
        for (let i = 1600; i < 14400; i++) err = Math.max(err, Math.abs(y[i] - ideal[i]));
        expect(err, `${rate} Hz input, ${f} Hz tone`).toBeLessThan(0.01);
      }
    }
  });

  it("attenuates tones above the new Nyquist by at least 60 dB", () => {
    for (const rate of [22050, 32000, 44100, 48000, 96000]) {
      for (const f of [8100, 8500, 12000, 0.49 * rate]) {
        const y = resample(tone(rate, f, rate, 0.5), rate, 16000);
        const level = rms(y, 1600, 14400) / (0.5 * Math.SQRT1_2);
        expect(db(level), `${rate} Hz input, ${f} Hz tone`).toBeLessThan(-60);
      }
    }
  });

  it("suppresses images when upsampling by at least 60 dB", () => {
    for (const rate of [8000, 11025]) {
      for (const f of [500, 0.9 * (rate / 2)]) {
        const y = resample(tone(rate, f, rate, 0.5), rate, 16000);
        const image = amplitudeAt(y, rate - f, 16000, 1600, 14400);
        expect(db(image / 0.5), `${rate} Hz input, ${f} Hz tone`).toBeLessThan(-60);
      }
    }
  });

  it("agrees with librosa.resample (soxr_hq) on an analytic multi-tone", () => {
    const fx = loadFixture<{
      tones: Array<[number, number, number]>;
      cases: Array<{ fromRate: number; n: number; output: string }>;
    }>("resample.json");
    for (const c of fx.cases) {
      const x = Float32Array.from({ length: c.n }, (_, i) =>
        fx.tones
          .filter(([, f]) => f < 0.45 * c.fromRate)
          .reduce((s, [a, f, p]) => s + a * Math.sin((2 * Math.PI * f * i) / c.fromRate + p), 0),
      );
      const ours = resample(x, c.fromRate, 16000);
      const ref = f32(c.output);
      expect(ours.length).toBe(ref.length);
      // Away from the edges (where the two filters' zero padding differs), SNR of ours vs librosa.
      let sig = 0;
      let noise = 0;
      for (let i = 200; i < ref.length - 200; i++) {
        sig += ref[i] * ref[i];
        noise += (ours[i] - ref[i]) ** 2;
      }
      expect(10 * Math.log10(sig / noise), `${c.fromRate} Hz`).toBeGreaterThan(65);
    }
  });

  it("gives the same result with the plain JS kernel as with WebAssembly SIMD", () => {
    for (const rate of [11025, 44100, 44123]) {
      const x = tone(rate, 3000, rate, 0.8);
      const simd = resample(x, rate, 16000);
      const js = resample(x, rate, 16000, { simd: false });
      let worst = 0;
      for (let i = 0; i < js.length; i++) worst = Math.max(worst, Math.abs(simd[i] - js[i]));
      expect(worst, `${rate} Hz`).toBeLessThan(1e-5);
    }
  });

  it("rejects non-integer or non-positive rates", () => {
    expect(() => resample(new Float32Array(4), 0, 16000)).toThrow(RangeError);
    expect(() => resample(new Float32Array(4), 44100.5, 16000)).toThrow(/positive integer/);
    expect(() => new StreamingResampler(48000, -1)).toThrow(RangeError);
    expect(() => resample(new Float32Array(4), 4_294_967_295, 16000)).toThrow(/more than 256:1/);
  });
});

describe("StreamingResampler", () => {
  const chunkSizes = [1, 7, 128, 441, 1000, 3, 4096, 160];

  for (const [rate, simd] of [
    [8000, true],
    [44100, true],
    [48000, true],
    [96000, true],
    [16000, true],
    [44123, true],
    [44100, false],
    [44123, false],
  ] as const) {
    it(`matches the one-shot output exactly for ${rate} Hz in irregular chunks (simd ${simd})`, () => {
      let seed = rate;
      const x = Float32Array.from({ length: rate + 777 }, () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed / 2 ** 31 - 1;
      });
      const once = resample(x, rate, 16000, { simd });
      const s = new StreamingResampler(rate, 16000, { simd });
      const parts: Float32Array[] = [];
      let at = 0;
      for (let k = 0; at < x.length; k++) {
        const n = chunkSizes[k % chunkSizes.length];
        parts.push(s.push(x.subarray(at, at + n)));
        at += n;
      }
      parts.push(s.flush());
      const streamed = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        streamed.set(p, o);
        o += p.length;
      }
      expect(streamed.length).toBe(once.length);
      let mismatches = 0;
      for (let i = 0; i < once.length; i++) if (streamed[i] !== once[i]) mismatches++;
      expect(mismatches).toBe(0);
    });
  }

  it("emits output while the stream is running (bounded latency)", () => {
    const s = new StreamingResampler(48000, 16000);
    const out = s.push(new Float32Array(4800));
    expect(out.length).toBeGreaterThan(1000);
    expect(out.length).toBeLessThanOrEqual(1600);
  });

  it("refuses push after flush until reset, then starts a new stream", () => {
    const s = new StreamingResampler(44100, 16000);
    const x = tone(4410, 300, 44100);
    const first = [...s.push(x), ...s.flush()];
    expect(() => s.push(x)).toThrow(/after flush/);
    s.reset();
    const second = [...s.push(x), ...s.flush()];
    expect(second).toEqual(first);
  });
});
