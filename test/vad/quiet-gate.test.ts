import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { levelDb, QuietGate } from "../../src/vad/quiet-gate.js";
import { SileroVad } from "../../src/vad/silero.js";
import { StreamingVad } from "../../src/vad/streaming.js";
import { concat, librispeechWav, readWav16kMono, sileroModelPath } from "./helpers.js";

const RATE = 16_000;
let vad: SileroVad;

beforeAll(async () => {
  vad = new SileroVad({ modelPath: sileroModelPath });
  await vad.start();
});
afterAll(async () => {
  await vad?.stop();
});

/** Deterministic uniform noise with the given RMS in dBFS. */
function noise(seconds: number, dbfs: number, seed = 1): Float32Array {
  let s = seed;
  const out = new Float32Array(Math.round(seconds * RATE));
  const a = 10 ** (dbfs / 20) * Math.sqrt(3);
  for (let i = 0; i < out.length; i++) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    out[i] = (2 * (s / 2 ** 31) - 1) * a;
  }
  return out;
}

async function speechSegments(samples: Float32Array, gate: QuietGate | null): Promise<[number, number][]> {
  vad.reset();
  const streaming = new StreamingVad({ detector: gate ?? vad });
  const segments: [number, number][] = [];
  let open: number | null = null;
  for (let i = 0; i <= samples.length; i += 2048) {
    const events =
      i < samples.length ? await streaming.push(samples.subarray(i, i + 2048)) : await streaming.flush();
    for (const e of events) {
      if (e.type === "speech-start") open = e.startSample;
      if (e.type === "speech-end" && open !== null) {
        if (!e.discarded) segments.push([open, e.endSample]);
        open = null;
      }
    }
  }
  return segments;
}

describe("QuietGate with Silero", () => {
  it("leaves the model alone on a steady -60 dBFS background after the hangover, and says 0", async () => {
    vad.reset();
    const gate = new QuietGate(vad);
    const background = noise(3, -60);
    const probabilities: number[] = [];
    for (let i = 0; i + 512 <= background.length; i += 512)
      probabilities.push(await gate.process(background.subarray(i, i + 512)));
    const windows = probabilities.length;
    // The first 32 quiet windows (1 s) are still judged by the model (the hangover), none after them.
    expect(gate.skipped).toBe(windows - 32);
    expect(probabilities.slice(32).every((p) => p === 0)).toBe(true);
  });

  it("never skips anything louder than the ceiling (a noisy room is always judged)", async () => {
    vad.reset();
    const gate = new QuietGate(vad);
    const room = noise(2, -40);
    for (let i = 0; i + 512 <= room.length; i += 512) await gate.process(room.subarray(i, i + 512));
    expect(gate.skipped).toBe(0);
  });

  it("finds the same speech in real recordings as the ungated model, from the same onset", async () => {
    for (const file of ["1040-133433-0000.wav", "103-1240-0000.wav"]) {
      const stream = concat(noise(2, -60, 3), readWav16kMono(librispeechWav(file)), noise(2, -60, 4));
      const plain = await speechSegments(stream, null);
      const gate = new QuietGate(vad);
      const gated = await speechSegments(stream, gate);
      expect(gate.skipped, file).toBeGreaterThan(50);
      expect(gated.length, file).toBeGreaterThan(0);
      expect(Math.abs(gated[0][0] - plain[0][0]) / RATE, file).toBeLessThanOrEqual(0.1);
      const total = (s: [number, number][]) => s.reduce((t, [a, b]) => t + b - a, 0);
      expect(total(gated) / total(plain), file).toBeGreaterThan(0.99);
      expect(total(gated) / total(plain), file).toBeLessThan(1.01);
    }
  });

  it("measures levels in dBFS, digital silence included", () => {
    expect(levelDb(new Float32Array(512))).toBe(-120);
    expect(levelDb(new Float32Array(512).fill(0.1))).toBeCloseTo(-20, 5);
  });
});
