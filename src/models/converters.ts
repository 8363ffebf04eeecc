import { convertEcapaToOnnx, ECAPA_ONNX_CONVERTER_VERSION } from "./ecapa-onnx.js";
import type { ConverterName } from "./manifest.js";
import { convertResemblyzerToOnnx, RESEMBLYZER_ONNX_CONVERTER_VERSION } from "./resemblyzer-onnx.js";

export interface Converter {
  /** Source file bytes -> derived file bytes (deterministic). */
  convert(source: Uint8Array, label: string): Uint8Array;
  /** Recorded in provenance records: a new version re-converts files it did not make. */
  version: string;
}

/** Converters named by derived files in the manifest. */
export const converters: Record<ConverterName, Converter> = {
  "resemblyzer-onnx": { convert: convertResemblyzerToOnnx, version: RESEMBLYZER_ONNX_CONVERTER_VERSION },
  "ecapa-onnx": { convert: convertEcapaToOnnx, version: ECAPA_ONNX_CONVERTER_VERSION },
};
