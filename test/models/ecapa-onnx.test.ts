import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ECAPA_MODEL, WaveformEncoder } from "../../src/embedding/waveform-encoder.js";
import { convertEcapa, convertEcapaToOnnx } from "../../src/models/ecapa-onnx.js";
import { ModelConversionError } from "../../src/models/errors.js";
import { ecapaFixtureCheckpoint, ecapaReference } from "../helpers/ecapa.js";
import { expectReferenceParity } from "../helpers/parity.js";
import { realModelsDir, realPretrainedPt } from "./helpers.js";

describe("ECAPA-TDNN converted from SpeechBrain's checkpoint", () => {
  const checkpoint = readFileSync(ecapaFixtureCheckpoint);
  const reference = ecapaReference();

  it("is the fixture the reference script made", () => {
    expect(createHash("sha256").update(checkpoint).digest("hex")).toBe(reference.checkpointSha256);
  });

  it("reads the layer sizes from the tensor shapes", () => {
    expect(convertEcapa(checkpoint).shape).toEqual({
      inputSize: 80,
      channels: [32, 32, 32, 32, 96],
      kernelSizes: [5, 3, 3, 3, 1],
      dilations: [1, 2, 3, 4, 1],
      res2netScale: 8,
      seChannels: 16,
      attentionChannels: 16,
      globalContext: true,
      embeddingDim: 24,
    });
  });

  it("gives SpeechBrain's voiceprints (its Fbank, mean norm and forward) to cosine >= 0.9999 on real audio", async () => {
    const modelPath = path.join(os.tmpdir(), `voiceid-ecapa-parity-${process.pid}.onnx`);
    writeFileSync(modelPath, convertEcapaToOnnx(checkpoint));
    const encoder = new WaveformEncoder(ECAPA_MODEL, { modelPath, defaultThreshold: 0.25 });
    await encoder.start();
    try {
      expect(encoder.dim).toBe(24);
      const cosines = await expectReferenceParity(encoder, reference.files);
      console.log(`ECAPA parity (random small model): ${cosines.join(", ")}`);
    } finally {
      await encoder.stop();
    }
  });

  it("is deterministic, and refuses a checkpoint that is not an ECAPA-TDNN", async () => {
    expect(
      Buffer.from(convertEcapaToOnnx(checkpoint)).equals(Buffer.from(convertEcapaToOnnx(checkpoint))),
    ).toBe(true);
    const resemblyzer = readFileSync(realPretrainedPt(await realModelsDir()));
    expect(() => convertEcapaToOnnx(resemblyzer, "pretrained.pt")).toThrow(ModelConversionError);
    expect(() => convertEcapaToOnnx(resemblyzer, "pretrained.pt")).toThrow(
      /pretrained.pt: tensor "blocks.0.conv.conv.weight" is missing; not a SpeechBrain ECAPA-TDNN\?/,
    );
  });
});
