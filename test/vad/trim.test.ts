import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VadUsageError } from "../../src/vad/errors.js";
import { SileroVad } from "../../src/vad/silero.js";
import { trimLongSilences, trimLongSilencesWithProbabilities } from "../../src/vad/trim.js";
import { concat, librispeechWav, readWav16kMono, sameSamples, sileroModelPath } from "./helpers.js";

const W = 512;
const SECOND = 16_000;

/** Probabilities from a 0/1 string, and samples whose value is their window index (to see what is kept). */
function fromFlags(flags: string): { probs: Float32Array; samples: Float32Array } {
  const probs = Float32Array.from(flags, (c) => (c === "1" ? 0.9 : 0.1));
  const samples = new Float32Array(flags.length * W).map((_, i) => Math.floor(i / W));
  return { probs, samples };
}

function keptWindows(samples: Float32Array, total: number): string {
  const kept = new Set<number>();
  for (let i = 0; i < samples.length; i += W) kept.add(samples[i]);
  return Array.from({ length: total }, (_, w) => (kept.has(w) ? "1" : "0")).join("");
}

// Expected masks computed with Resemblyzer's own moving_average + np.round + scipy binary_dilation.
const cases = [
  {
    flags: "0000011111111110000000000000000111100000111111111111111000000000000000000001111",
    smoothed: "0000011111111100000000000000000000000000111111111111110000000000000000000000000",
    keep: "0011111111111111100000000000000000000111111111111111111110000000000000000000000",
    keepW5S3: "0001111111111111000000000000011111110011111111111111111100000000000000000111111",
  },
  {
    flags: "0001101001111110000011011110011111011101101000111010111101000001111101",
    smoothed: "0000001111111100000001111111111111111111000000001111111100000001111100",
    keep: "0001111111111111101111111111111111111111111001111111111111101111111111",
    keepW5S3: "0011111111111111000111111111111111111111111011111111111111000111111111",
  },
  {
    flags: "11110000000011111000000000000000000000000000000001",
    smoothed: "00000000000011110000000000000000000000000000000000",
    keep: "00000000011111111110000000000000000000000000000000",
    keepW5S3: "11111000001111111100000000000000000000000000000000",
  },
];

describe("trimLongSilencesWithProbabilities", () => {
  it("keeps exactly the windows Resemblyzer's trim_long_silences keeps", () => {
    for (const c of cases) {
      const { probs, samples } = fromFlags(c.flags);
      const result = trimLongSilencesWithProbabilities(samples, probs);
      expect(keptWindows(result.samples, c.flags.length)).toBe(c.keep);
      expect(result.speechSeconds).toBeCloseTo(
        ([...c.smoothed].filter((x) => x === "1").length * W) / SECOND,
        9,
      );
      const other = trimLongSilencesWithProbabilities(samples, probs, {
        movingAverageWidth: 5,
        maxSilenceWindows: 3,
      });
      expect(keptWindows(other.samples, c.flags.length)).toBe(c.keepW5S3);
    }
  });

  it("drops the trailing partial window and checks the probability count", () => {
    const { probs, samples } = fromFlags("1111111111");
    const withTail = concat(samples, new Float32Array(100).fill(7));
    expect(trimLongSilencesWithProbabilities(withTail, probs).samples.length).toBe(10 * W);
    expect(() => trimLongSilencesWithProbabilities(samples, probs.subarray(0, 9))).toThrow(VadUsageError);
    expect(() => trimLongSilencesWithProbabilities(samples, probs, { movingAverageWidth: 0 })).toThrow(
      /movingAverageWidth/,
    );
  });
});

describe("trimLongSilences with Silero", () => {
  const vad = new SileroVad({ modelPath: sileroModelPath });
  beforeAll(() => vad.start());
  afterAll(() => vad.stop());

  it("keeps the speech of file + 3 s silence + file and removes most of the silence", async () => {
    const a = readWav16kMono(librispeechWav("103-1240-0000.wav"));
    const b = readWav16kMono(librispeechWav("1034-121119-0000.wav"));
    const gap = new Float32Array(3 * SECOND);
    const joined = concat(a, gap, b);
    const result = await trimLongSilences(joined, vad);
    const alone = [await trimLongSilences(a, vad), await trimLongSilences(b, vad)];

    // The 3 s gap is gone: at most the dilation margin (~6 windows) of it can remain.
    const keptAll = alone[0].samples.length + alone[1].samples.length;
    expect(result.samples.length).toBeLessThan(joined.length - 2.5 * SECOND);
    expect(Math.abs(result.samples.length - keptAll)).toBeLessThan(0.5 * SECOND);
    // The speech is kept: as much speech found as in the parts on their own, and plenty of it.
    const speechAlone = alone[0].speechSeconds + alone[1].speechSeconds;
    expect(Math.abs(result.speechSeconds - speechAlone)).toBeLessThan(0.05 * speechAlone);
    expect(result.speechSeconds).toBeGreaterThan(0.6 * ((a.length + b.length) / SECOND));
    expect(result.samples.length / SECOND).toBeGreaterThanOrEqual(result.speechSeconds);
    // Output windows are input windows, unchanged and in order.
    let from = 0;
    for (let i = 0; i < result.samples.length; i += W) {
      const window = result.samples.subarray(i, i + W);
      while (from < joined.length && !sameSamples(window, joined.subarray(from, from + W))) from += W;
      expect(from, `output window ${i / W}`).toBeLessThan(joined.length);
      from += W;
    }
  });

  it("gives the same result from precomputed probabilities and leaves the detector reset", async () => {
    const a = readWav16kMono(librispeechWav("1040-133433-0000.wav"));
    const probs = await vad.speechProbabilities(a);
    const fromProbs = await trimLongSilences(a, probs);
    const fromDetector = await trimLongSilences(a, vad);
    expect(fromDetector.speechSeconds).toBe(fromProbs.speechSeconds);
    expect(sameSamples(fromDetector.samples, fromProbs.samples)).toBe(true);
    expect(await vad.speechProbabilities(a)).toEqual(probs);
  });

  it("finds no speech in digital silence", async () => {
    const result = await trimLongSilences(new Float32Array(2 * SECOND), vad);
    expect(result.speechSeconds).toBe(0);
    expect(result.samples.length).toBe(0);
  });
});
