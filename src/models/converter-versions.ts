import type { ConverterName } from "./manifest.js";

/**
 * Each converter's version, recorded in conversion records: a new version converts again the files an
 * older one made. Bump one when its graph changes. Apart from the converters, so checking a record
 * does not load them (and their archive and pickle readers).
 */
export const CONVERTER_VERSIONS: Record<ConverterName, string> = {
  "resemblyzer-onnx": "1",
  "ecapa-onnx": "1",
  "campplus-onnx": "2",
  "silero-sequence": "1",
};
