import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { ModelConversionError } from "../../src/models/errors.js";
import { findModel, loadManifest } from "../../src/models/manifest.js";
import { reorderGates } from "../../src/models/onnx/lstm.js";
import { convertResemblyzerToOnnx } from "../../src/models/resemblyzer-onnx.js";
import { fixture, realModelsDir, realPretrainedPt } from "./helpers.js";

interface ForwardFixture {
  batch: number;
  frames: number;
  channels: number;
  embeddings: number[][];
}

/** The input make_forward_fixture.py used: abs(sin(0.37 b + 0.011 t (c+1))) * 3, rounded to float32. */
function fixtureInput(batch: number, frames: number, channels: number): Float32Array {
  const x = new Float32Array(batch * frames * channels);
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < frames; t++)
      for (let c = 0; c < channels; c++)
        x[(b * frames + t) * channels + c] = Math.abs(Math.sin(0.37 * b + 0.011 * t * (c + 1))) * 3;
  return x;
}

describe("reorderGates", () => {
  it("maps PyTorch (i, f, g, o) blocks to ONNX (i, o, f, c)", () => {
    // hidden 1, cols 2: blocks i=[1,2] f=[3,4] g=[5,6] o=[7,8]
    const out = reorderGates(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 1, 2);
    expect(Array.from(out)).toEqual([1, 2, 7, 8, 3, 4, 5, 6]);
    expect(() => reorderGates(new Float32Array(7), 1, 2)).toThrow(ModelConversionError);
  });
});

describe("Resemblyzer .pt -> ONNX converter", () => {
  let pt: Buffer;
  let onnx: Uint8Array;
  beforeAll(async () => {
    pt = readFileSync(realPretrainedPt(await realModelsDir()));
    onnx = convertResemblyzerToOnnx(pt);
  });

  it("is deterministic and matches the sha256 and size pinned in the manifest", () => {
    const pinned = findModel(loadManifest(), "resemblyzer-0.1.4").files.find(
      (f) => f.name === "encoder.onnx",
    )!;
    expect(onnx.length).toBe(pinned.size);
    expect(createHash("sha256").update(onnx).digest("hex")).toBe(pinned.sha256);
    expect(Buffer.from(convertResemblyzerToOnnx(pt)).equals(Buffer.from(onnx))).toBe(true);
  });

  it("matches PyTorch's VoiceEncoder.forward (fixture from make_forward_fixture.py)", async () => {
    const fx = JSON.parse(readFileSync(fixture("resemblyzer-forward.json"), "utf8")) as ForwardFixture;
    const session = await ort.InferenceSession.create(onnx, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    expect(session.inputNames).toEqual(["mels"]);
    expect(session.outputNames).toEqual(["embedding"]);
    const mels = new ort.Tensor("float32", fixtureInput(fx.batch, fx.frames, fx.channels), [
      fx.batch,
      fx.frames,
      fx.channels,
    ]);
    const out = (await session.run({ mels })).embedding;
    await session.release();
    expect(out.dims).toEqual([fx.batch, 256]);
    const data = out.data as Float32Array;
    for (let b = 0; b < fx.batch; b++) {
      const got = data.subarray(b * 256, (b + 1) * 256);
      const want = fx.embeddings[b];
      let maxDiff = 0;
      let dot = 0;
      let ng = 0;
      let nw = 0;
      for (let i = 0; i < 256; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        dot += got[i] * want[i];
        ng += got[i] * got[i];
        nw += want[i] * want[i];
      }
      const cosine = dot / Math.sqrt(ng * nw);
      expect(maxDiff, `row ${b} max abs diff`).toBeLessThan(1e-4);
      expect(cosine, `row ${b} cosine`).toBeGreaterThan(0.99999);
      expect(Math.sqrt(ng)).toBeCloseTo(1, 5);
    }
  });

  it("refuses checkpoints that are not Resemblyzer's", () => {
    expect(() => convertResemblyzerToOnnx(readFileSync(fixture("tiny-zip.pt")), "tiny-zip.pt")).toThrow(
      /tiny-zip.pt: tensor "lstm.weight_ih_l0" is missing/,
    );
  });
});
