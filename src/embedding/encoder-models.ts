import { findModel, loadManifest } from "../models/manifest.js";
import { modelFilePath } from "../models/paths.js";
import type { EncoderId } from "./encoder.js";

// Apart from encoder.ts: the manifest's schemas cost a command that never touches a model (the
// configuration imports the encoder ids).

/** Where an encoder's runnable model lives. */
export function encoderModelPath(modelsDir: string, id: EncoderId): string {
  return modelFilePath(modelsDir, id, "encoder.onnx");
}

/** The encoder's default threshold, as the manifest records it with its source. */
export function defaultThresholdOf(id: EncoderId): number {
  const threshold = findModel(loadManifest(), id).threshold;
  if (threshold === undefined) throw new Error(`the manifest gives no threshold for encoder ${id}`);
  return threshold.default;
}
