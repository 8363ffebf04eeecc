import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelConversionError } from "../../src/models/errors.js";
import { loadManifest } from "../../src/models/manifest.js";
import { GraphBuilder } from "../../src/models/onnx/graph-builder.js";
import { convertSileroToSequence } from "../../src/models/silero-sequence.js";
import { VAD_WINDOW_SAMPLES } from "../../src/vad/detector.js";
import { SileroVad } from "../../src/vad/silero.js";
import {
  concat,
  librispeechWav,
  readWav16kMono,
  sharedAudio,
  sileroModelPath,
  sileroOriginalPath,
} from "../vad/helpers.js";

/** The pinned silero_vad.onnx itself, one window per call, as the official OnnxWrapper runs it. */
async function originalProbabilities(
  session: ort.InferenceSession,
  samples: Float32Array,
): Promise<Float32Array> {
  const windows = Math.ceil(samples.length / VAD_WINDOW_SAMPLES);
  const out = new Float32Array(windows);
  const input = new Float32Array(64 + VAD_WINDOW_SAMPLES);
  let state = new Float32Array(256);
  const sr = new ort.Tensor("int64", BigInt64Array.of(16000n), []);
  for (let w = 0; w < windows; w++) {
    input.copyWithin(0, VAD_WINDOW_SAMPLES);
    input.fill(0, 64);
    input.set(samples.subarray(w * VAD_WINDOW_SAMPLES, (w + 1) * VAD_WINDOW_SAMPLES), 64);
    const r = await session.run({
      input: new ort.Tensor("float32", input, [1, input.length]),
      state: new ort.Tensor("float32", state, [2, 1, 128]),
      sr,
    });
    out[w] = (r.output.data as Float32Array)[0];
    state = new Float32Array(r.stateN.data as Float32Array);
  }
  return out;
}

describe("Silero VAD over a sequence of windows", () => {
  const vad = new SileroVad({ modelPath: sileroModelPath });
  let original: ort.InferenceSession;
  beforeAll(async () => {
    original = await ort.InferenceSession.create(sileroOriginalPath, { intraOpNumThreads: 1 });
    await vad.start();
  });
  afterAll(async () => {
    await original.release();
    await vad.stop();
  });

  const files = [
    librispeechWav("103-1240-0000.wav"),
    librispeechWav("1034-121119-0000.wav"),
    `${sharedAudio}/librispeech-room/103-1240-0000.wav`,
    `${sharedAudio}/librispeech-room/1040-133433-0000.wav`,
    `${sharedAudio}/conversation/sample.wav`,
  ];
  it.each(files)("gives the original model's probabilities and decisions on %s", async (file) => {
    const samples = readWav16kMono(file);
    const expected = await originalProbabilities(original, samples);
    const got = await vad.speechProbabilities(samples);
    expect(got.length).toBe(expected.length);
    let maxDiff = 0;
    let flips = 0;
    for (let i = 0; i < got.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
      if (got[i] >= 0.5 !== expected[i] >= 0.5) flips++;
    }
    expect(maxDiff).toBeLessThan(1e-5);
    expect(flips).toBe(0);
  });

  it("carries state from one chunk of windows to the next (a clip longer than one call)", async () => {
    // The 30 s conversation three times: more windows than one call takes (1024), so the state crosses
    // two call boundaries.
    const once = readWav16kMono(`${sharedAudio}/conversation/sample.wav`);
    const conversation = concat(once, once, once);
    const whole = await vad.speechProbabilities(conversation);
    vad.reset();
    const frame = new Float32Array(VAD_WINDOW_SAMPLES);
    let maxDiff = 0;
    for (let w = 0; w < whole.length; w++) {
      frame.fill(0);
      frame.set(conversation.subarray(w * VAD_WINDOW_SAMPLES, (w + 1) * VAD_WINDOW_SAMPLES));
      maxDiff = Math.max(maxDiff, Math.abs((await vad.process(frame)) - whole[w]));
    }
    vad.reset();
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it("refuses a model that is not Silero VAD v5, saying which file", () => {
    const g = new GraphBuilder();
    g.op("Relu", ["x"]);
    g.nameLastOutput("y");
    const other = g.toModel(
      { graph: "t", producer: "test", version: "1" },
      { name: "x", shape: [1] },
      { name: "y", shape: [1] },
    );
    expect(() => convertSileroToSequence(other, "other.onnx")).toThrow(ModelConversionError);
    expect(() => convertSileroToSequence(other, "other.onnx")).toThrow(/^other.onnx: not Silero VAD v5 /);
    expect(() => convertSileroToSequence(readFileSync(sileroOriginalPath).subarray(0, 4096))).toThrow(
      /silero_vad.onnx: not an ONNX model \(truncated/,
    );
  });

  it("converts the pinned file to the pinned bytes, the file voiceid runs", () => {
    const manifest = loadManifest();
    const derived = manifest.models
      .find((m) => m.id === "silero-vad-v5")
      ?.files.find((f) => f.name === "silero_vad_sequence.onnx");
    const bytes = convertSileroToSequence(readFileSync(sileroOriginalPath));
    expect(bytes.length).toBe(derived?.size);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(derived?.sha256);
    expect(Buffer.from(bytes).equals(readFileSync(sileroModelPath))).toBe(true);
  });
});
