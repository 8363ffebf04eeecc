import type { ConverterName } from "./manifest.js";
import { convertResemblyzerToOnnx } from "./resemblyzer-onnx.js";

/** Converters named by derived files in the manifest: source file bytes -> derived file bytes. */
export const converters: Record<ConverterName, (source: Uint8Array, label: string) => Uint8Array> = {
  "resemblyzer-onnx": convertResemblyzerToOnnx,
};
