import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CAMPPLUS_MODEL, WaveformEncoder } from "../../src/embedding/waveform-encoder.js";
import { convertCampplus } from "../../src/models/campplus-onnx.js";
import { ModelConversionError } from "../../src/models/errors.js";
import { findModel, isDerivedFile, loadManifest } from "../../src/models/manifest.js";
import { modelFilePath } from "../../src/models/paths.js";
import { expectReferenceParity } from "../helpers/parity.js";
import { repoRoot } from "../helpers/paths.js";
import { realModelsDir, realPretrainedPt } from "./helpers.js";

interface CampplusReference {
  checkpointSha256: string;
  files: Record<string, { samples: number; embedding: number[] }>;
}

/** ModelScope's own CAMPPlus on the real weights (scripts/reference/campplus_reference.py). */
const reference = JSON.parse(
  readFileSync(path.join(repoRoot, "test/fixtures/campplus-reference.json"), "utf8"),
) as CampplusReference;
const sha256Hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("CAM++ converted from 3D-Speaker's checkpoint (the real weights)", () => {
  it("reads the layer sizes, converts to the pinned encoder.onnx, and refuses another model's checkpoint", async () => {
    const dir = await realModelsDir(["campplus-zh-en", "resemblyzer-0.1.4"]);
    const checkpoint = readFileSync(modelFilePath(dir, "campplus-zh-en", "campplus_cn_en_common.pt"));
    expect(sha256Hex(checkpoint)).toBe(reference.checkpointSha256);
    const { onnx, shape } = convertCampplus(checkpoint);
    expect(shape).toEqual({
      headChannels: 32,
      initChannels: 128,
      growthRate: 32,
      bottleneck: 128,
      embeddingDim: 192,
    });
    const pinned = findModel(loadManifest(), "campplus-zh-en").files.find((f) => f.name === "encoder.onnx");
    expect(pinned !== undefined && isDerivedFile(pinned) ? pinned.sha256 : undefined).toBe(sha256Hex(onnx));
    const resemblyzer = readFileSync(realPretrainedPt(dir));
    expect(() => convertCampplus(resemblyzer, "pretrained.pt")).toThrow(ModelConversionError);
    expect(() => convertCampplus(resemblyzer, "pretrained.pt")).toThrow(
      /pretrained.pt: tensor "head.conv1.weight" is missing; not a CAM\+\+\?/,
    );
  });

  it("gives ModelScope's voiceprints (Kaldi fbank, mean norm, CAMPPlus forward) to cosine >= 0.9999 on real audio", async () => {
    const dir = await realModelsDir(["campplus-zh-en"]);
    const modelPath = modelFilePath(dir, "campplus-zh-en", "encoder.onnx");
    const encoder = new WaveformEncoder(CAMPPLUS_MODEL, { modelPath, defaultThreshold: 0.5 });
    await encoder.start();
    try {
      expect(encoder.dim).toBe(192);
      const cosines = await expectReferenceParity(encoder, reference.files);
      console.log(`CAM++ parity (real weights): ${cosines.join(", ")}`);
    } finally {
      await encoder.stop();
    }
  });
});
