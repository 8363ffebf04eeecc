import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { EcapaEncoder } from "../../src/embedding/ecapa.js";
import { ModelMissingError } from "../../src/embedding/onnx-session.js";
import { convertEcapaToOnnx } from "../../src/models/ecapa-onnx.js";
import { ecapaFixtureCheckpoint } from "../helpers/ecapa.js";
import { recordingLogger } from "../helpers/logger.js";
import { librispeechWav } from "../helpers/paths.js";

const modelPath = path.join(os.tmpdir(), `voiceid-ecapa-encoder-${process.pid}.onnx`);
const speech = () => readWavAs16kMono(readFileSync(librispeechWav("103-1240-0000.wav")));
let encoder: EcapaEncoder;

beforeAll(async () => {
  writeFileSync(modelPath, convertEcapaToOnnx(readFileSync(ecapaFixtureCheckpoint)));
  encoder = new EcapaEncoder({ modelPath, defaultThreshold: 0.25 });
  await encoder.start();
});
afterAll(() => encoder.stop());

describe("EcapaEncoder", () => {
  it("embeds streaming windows in batches exactly as one window at a time", async () => {
    const audio = speech();
    const windows = Array.from({ length: 6 }, (_, i) =>
      audio.slice(i * encoder.hopSamples, i * encoder.hopSamples + encoder.windowSamples),
    );
    const batched = await encoder.embedWindows(windows);
    expect(batched).toHaveLength(6);
    for (const [i, w] of windows.entries()) {
      const alone = await encoder.embedUtterance(w);
      for (let d = 0; d < encoder.dim; d++) expect(batched[i][d]).toBeCloseTo(alone[d], 5);
    }
    await expect(encoder.embedWindows([audio.slice(0, 100)])).rejects.toThrow(RangeError);
  });

  it("refuses audio too short for its convolutions, and says where a missing model should be", async () => {
    await expect(encoder.embedUtterance(new Float32Array(800))).rejects.toThrow(/too short/);
    const missing = new EcapaEncoder({ modelPath: "/nonexistent/encoder.onnx", defaultThreshold: 0.25 });
    await expect(missing.start()).rejects.toThrow(ModelMissingError);
  });

  it("falls back to the CPU, saying why, when CUDA is asked for but cannot load", async () => {
    // This machine has no GPU and onnxruntime is installed without its CUDA files: the fall-back path.
    const { logger, lines } = recordingLogger();
    const gpu = new EcapaEncoder({ modelPath, defaultThreshold: 0.25, executionProvider: "cuda", logger });
    await gpu.start();
    try {
      expect(gpu.provider).toBe("cpu");
      expect(
        lines.some((l) =>
          /^warn CUDA is not usable for ECAPA-TDNN encoder \(.+\); running on the CPU$/.test(l),
        ),
      ).toBe(true);
      const v = await gpu.embedUtterance(speech().subarray(0, 32000));
      const w = await encoder.embedUtterance(speech().subarray(0, 32000));
      for (let d = 0; d < encoder.dim; d++) expect(v[d]).toBeCloseTo(w[d], 6);
    } finally {
      await gpu.stop();
    }
  });
});
