import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VAD_WINDOW_SAMPLES } from "../../src/vad/detector.js";
import { VadModelMissingError, VadUsageError } from "../../src/vad/errors.js";
import { SileroVad } from "../../src/vad/silero.js";
import { concat, conversationWav, librispeechWav, readWav16kMono, sileroModelPath } from "./helpers.js";

const SECOND = 16_000;

describe("SileroVad", () => {
  const vad = new SileroVad({ modelPath: sileroModelPath });
  beforeAll(() => vad.start());
  afterAll(() => vad.stop());

  it("matches the official silero_vad OnnxWrapper probabilities on the conversation", async () => {
    // Reference produced by silero_vad 6.2.3 OnnxWrapper.audio_forward (Python onnxruntime 1.31).
    const reference = JSON.parse(
      readFileSync(new URL("./conversation-probs.silero-v5.json", import.meta.url), "utf8"),
    ) as { probabilities: number[] };
    const probs = await vad.speechProbabilities(readWav16kMono(conversationWav));
    expect(probs.length).toBe(reference.probabilities.length);
    let maxDiff = 0;
    for (let i = 0; i < probs.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(probs[i] - reference.probabilities[i]));
    }
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("is high in speech and low in digital silence", async () => {
    const speech = readWav16kMono(librispeechWav("103-1240-0000.wav"));
    const silence = new Float32Array(2 * SECOND);
    const probs = await vad.speechProbabilities(concat(silence, speech, silence));
    const silenceWindows = Math.floor(silence.length / VAD_WINDOW_SAMPLES);
    const speechWindows = Math.floor(speech.length / VAD_WINDOW_SAMPLES);
    const leading = probs.subarray(0, silenceWindows - 1);
    const trailing = probs.subarray(silenceWindows + speechWindows + 3);
    // Skip a few windows around the edges of the speech (leading/trailing breath, context).
    const inSpeech = probs.subarray(silenceWindows + 5, silenceWindows + speechWindows - 5);
    expect(Math.max(...leading)).toBeLessThan(0.1);
    expect(Math.max(...trailing)).toBeLessThan(0.1);
    const mean = inSpeech.reduce((s, p) => s + p, 0) / inSpeech.length;
    const voiced = inSpeech.filter((p) => p >= 0.5).length / inSpeech.length;
    expect(mean).toBeGreaterThan(0.6);
    expect(voiced).toBeGreaterThan(0.65);
  });

  it("gives one probability per window, zero-padding the last partial window, like process()", async () => {
    const speech = readWav16kMono(librispeechWav("1034-121119-0000.wav")).subarray(0, 20 * 512 + 100);
    const batch = await vad.speechProbabilities(speech);
    expect(batch.length).toBe(21);
    vad.reset();
    const frame = new Float32Array(VAD_WINDOW_SAMPLES);
    for (let w = 0; w < 21; w++) {
      frame.fill(0);
      frame.set(speech.subarray(w * 512, (w + 1) * 512));
      expect(await vad.process(frame)).toBe(batch[w]);
    }
    vad.reset();
  });

  it("carries state across calls, and reset() makes results reproducible", async () => {
    const speech = readWav16kMono(librispeechWav("1040-133433-0000.wav")).subarray(0, 3 * SECOND);
    const frames = Math.floor(speech.length / VAD_WINDOW_SAMPLES);
    const runOnce = async () => {
      const out: number[] = [];
      for (let w = 0; w < frames; w++) out.push(await vad.process(speech.subarray(w * 512, (w + 1) * 512)));
      return out;
    };
    vad.reset();
    const first = await runOnce();
    // Without reset the second pass starts from the state left by the first: different output.
    const carried = await runOnce();
    vad.reset();
    const again = await runOnce();
    expect(again).toEqual(first);
    expect(carried).not.toEqual(first);
  });

  it("rejects frames of the wrong size and overlapping calls", async () => {
    await expect(vad.process(new Float32Array(511))).rejects.toThrow(VadUsageError);
    await expect(vad.process(new Float32Array(1024))).rejects.toThrow(/exactly 512 samples/);
    const frame = new Float32Array(VAD_WINDOW_SAMPLES);
    const first = vad.process(frame);
    await expect(vad.process(frame)).rejects.toThrow(/await each call/);
    expect(await first).toBeGreaterThanOrEqual(0);
    vad.reset();
  });
});

describe("SileroVad lifecycle", () => {
  it("says how to get the model when the file is missing", async () => {
    const vad = new SileroVad({ modelPath: "/nonexistent/silero_vad.onnx" });
    const failure = vad.start();
    await expect(failure).rejects.toThrow(VadModelMissingError);
    await expect(failure).rejects.toThrow(/voiceid models fetch/);
  });

  it("refuses to process before start and after stop; stop is idempotent; restart works", async () => {
    const vad = new SileroVad({ modelPath: sileroModelPath });
    const frame = new Float32Array(VAD_WINDOW_SAMPLES);
    await expect(vad.process(frame)).rejects.toThrow(/before start/);
    await vad.stop();
    await vad.start();
    await vad.start();
    const p = await vad.process(frame);
    await vad.stop();
    await vad.stop();
    await expect(vad.process(frame)).rejects.toThrow(VadUsageError);
    await vad.start();
    expect(await vad.process(frame)).toBe(p);
    await vad.stop();
  });
});
