import { convertCampplusToOnnx } from "./campplus-onnx.js";
import { convertEcapaToOnnx } from "./ecapa-onnx.js";
import type { ConverterName } from "./manifest.js";
import { convertResemblyzerToOnnx } from "./resemblyzer-onnx.js";
import { convertSileroToSequence } from "./silero-sequence.js";

/** Converters named by derived files in the manifest: source file bytes -> derived file bytes (deterministic). */
export const converters: Record<ConverterName, (source: Uint8Array, label: string) => Uint8Array> = {
  "resemblyzer-onnx": convertResemblyzerToOnnx,
  "ecapa-onnx": convertEcapaToOnnx,
  "campplus-onnx": convertCampplusToOnnx,
  "silero-sequence": convertSileroToSequence,
};
