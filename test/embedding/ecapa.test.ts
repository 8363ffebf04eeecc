import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { encoderSessionOptions, ModelMissingError } from "../../src/embedding/onnx-session.js";
import { ECAPA_MODEL, WaveformEncoder } from "../../src/embedding/waveform-encoder.js";
import { convertEcapaToOnnx } from "../../src/models/ecapa-onnx.js";
import { ecapaFixtureCheckpoint } from "../helpers/ecapa.js";
import { recordingLogger } from "../helpers/logger.js";
import { librispeechSpeakers, librispeechWav } from "../helpers/paths.js";

const modelPath = path.join(os.tmpdir(), `voiceid-ecapa-encoder-${process.pid}.onnx`);
const speech = () => readWavAs16kMono(readFileSync(librispeechWav("103-1240-0000.wav")));
let encoder: WaveformEncoder;

beforeAll(async () => {
  writeFileSync(modelPath, convertEcapaToOnnx(readFileSync(ecapaFixtureCheckpoint)));
  encoder = new WaveformEncoder(ECAPA_MODEL, { modelPath, defaultThreshold: 0.25 });
  await encoder.start();
});
afterAll(() => encoder.stop());

describe("WaveformEncoder with ECAPA-TDNN", () => {
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
    const missing = new WaveformEncoder(ECAPA_MODEL, {
      modelPath: "/nonexistent/encoder.onnx",
      defaultThreshold: 0.25,
    });
    await expect(missing.start()).rejects.toThrow(ModelMissingError);
  });

  it("falls back to the CPU, saying why, when CUDA is asked for but cannot load", async () => {
    // This machine has no GPU and onnxruntime is installed without its CUDA files: the fall-back path.
    const { logger, lines } = recordingLogger();
    const gpu = new WaveformEncoder(ECAPA_MODEL, {
      modelPath,
      defaultThreshold: 0.25,
      executionProvider: "cuda",
      logger,
    });
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

  it("embeds utterances on its one session for a one-shot command: the same voiceprint, no thread started", async () => {
    const threads = () => readdirSync("/proc/self/task").length;
    const oneShot = new WaveformEncoder(ECAPA_MODEL, {
      modelPath,
      defaultThreshold: 0.25,
      utteranceWorker: false,
    });
    await oneShot.start();
    try {
      const clip = speech().subarray(0, 5 * 16_000);
      const before = threads();
      const got = await oneShot.embedUtterance(clip);
      expect(threads()).toBe(before);
      expect(Array.from(got)).toEqual(Array.from(await encoder.embedUtterance(clip)));
    } finally {
      await oneShot.stop();
    }
  });

  it("embeds a 2-minute upload off the event loop: timers, and live windows, do not wait behind it", async () => {
    // 120 s of real speech, as the largest upload the API takes (http.maxUploadSeconds).
    const upload = new Float32Array(120 * 16_000);
    let filled = 0;
    for (const { file } of librispeechSpeakers()) {
      if (filled === upload.length) break;
      const clip = readWavAs16kMono(readFileSync(librispeechWav(file)));
      const n = Math.min(clip.length, upload.length - filled);
      upload.set(clip.subarray(0, n), filled);
      filled += n;
    }
    // What one onnxruntime run of it on this thread gives: the worker's voiceprint must be the same.
    const direct = await ort.InferenceSession.create(modelPath, {
      ...encoderSessionOptions(),
      executionProviders: ["cpu"],
    });
    const t0 = performance.now();
    const expected = (await direct.run({ wav: new ort.Tensor("float32", upload, [1, upload.length]) }))
      .embedding.data as Float32Array;
    const blockedMs = performance.now() - t0;
    await direct.release();

    // One upload through the encoder, a live window asked for 20 ms later: how long the loop waited, in ms.
    const attempt = async () => {
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      let uploadDoneAt = 0;
      const voiceprint = encoder.embedUtterance(upload).then((v) => {
        uploadDoneAt = performance.now();
        return v;
      });
      await new Promise((r) => setTimeout(r, 20));
      await encoder.embedWindows([speech().subarray(0, encoder.windowSamples)]);
      const windowDoneAt = performance.now();
      const got = await voiceprint;
      delay.disable();
      return { got, worstMs: delay.max / 1e6, windowFirst: windowDoneAt < uploadDoneAt };
    };
    // The first includes starting the worker. A run on the loop blocks it every time; a busy shared machine
    // only sometimes delays a timer past 100 ms, so the best of three attempts is taken.
    const attempts = [await attempt()];
    while (attempts.length < 3 && !attempts.some((a) => a.worstMs < 100)) attempts.push(await attempt());
    console.log(
      `ECAPA fixture, 120 s upload: ${blockedMs.toFixed(0)} ms as one run on the event loop; through the worker the loop waited at most ${attempts.map((a) => a.worstMs.toFixed(1)).join(", ")} ms`,
    );
    const best = attempts.reduce((a, b) => (b.worstMs < a.worstMs ? b : a));
    expect(best.worstMs).toBeLessThan(100);
    // Less than the one run on the loop holds it (which is about 100 ms on a quiet fast machine, 200-800 ms
    // on a busy one; the real weights take seconds).
    expect(best.worstMs).toBeLessThan(blockedMs);
    // A live window is answered while the upload is still being embedded.
    expect(best.windowFirst).toBe(true);
    for (const { got } of attempts) expect(Array.from(got)).toEqual(Array.from(expected));
  });
});
