import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fetchModels } from "../../src/models/fetch.js";
import { loadManifest, type Manifest } from "../../src/models/manifest.js";
import { modelFilePath } from "../../src/models/paths.js";
import { silentLogger } from "../../src/util/log.js";
import { realModelsDir } from "../models/helpers.js";
import { repoRoot } from "./paths.js";

/** SpeechBrain's ECAPA_TDNN, small, random weights, and its reference voiceprints (scripts/reference/ecapa_reference.py). */
export const ecapaFixtureDir = path.join(repoRoot, "test/fixtures/ecapa");
export const ecapaFixtureCheckpoint = path.join(ecapaFixtureDir, "embedding_model.ckpt");

export interface EcapaReference {
  size: string;
  checkpointSha256: string;
  files: Record<string, { samples: number; embedding: number[] }>;
}

export function ecapaReference(): EcapaReference {
  return JSON.parse(readFileSync(path.join(ecapaFixtureDir, "reference.json"), "utf8")) as EcapaReference;
}

/**
 * The committed manifest with ECAPA-TDNN's checkpoint pinned to the fixture instead of the real weights
 * (which cannot be downloaded here) and no internet source: a mirror holding the fixture provides it.
 */
export function manifestWithEcapaFixture(): Manifest {
  const bytes = readFileSync(ecapaFixtureCheckpoint);
  const manifest = loadManifest();
  return {
    ...manifest,
    models: manifest.models.map((m) =>
      m.id !== "ecapa-voxceleb"
        ? m
        : {
            ...m,
            files: m.files
              .filter((f) => f.name !== "hyperparams.yaml")
              .map((f) =>
                f.name === "embedding_model.ckpt"
                  ? {
                      ...f,
                      size: bytes.length,
                      sha256: createHash("sha256").update(bytes).digest("hex"),
                      sources: [],
                    }
                  : f,
              ),
          },
    ),
  };
}

/**
 * A models directory as `voiceid models fetch` leaves it when ECAPA-TDNN is provided through a mirror:
 * Silero and Resemblyzer linked from the real models, ECAPA converted from the fixture checkpoint.
 */
export async function modelsDirWithEcapaFixture(): Promise<{ modelsDir: string; manifest: Manifest }> {
  const real = await realModelsDir();
  const modelsDir = mkdtempSync(path.join(os.tmpdir(), "voiceid-ecapa-models-"));
  for (const [id, file] of [
    ["silero-vad-v5", "silero_vad.onnx"],
    ["silero-vad-v5", "silero_vad_sequence.onnx"],
    ["resemblyzer-0.1.4", "pretrained.pt"],
    ["resemblyzer-0.1.4", "encoder.onnx"],
  ]) {
    mkdirSync(path.join(modelsDir, id), { recursive: true });
    symlinkSync(modelFilePath(real, id, file), modelFilePath(modelsDir, id, file));
  }
  const manifest = manifestWithEcapaFixture();
  await fetchModels({
    modelsDir,
    manifest,
    mirrorDir: ecapaFixtureDir,
    models: ["ecapa-voxceleb"],
    logger: silentLogger,
    progress: false,
  });
  return { modelsDir, manifest };
}
