import type { SpeakerEncoder } from "./encoder.js";
import { ResemblyzerEncoder } from "./resemblyzer.js";

export interface EncoderFactoryOptions {
  modelsDir: string;
  threads?: number;
}

type EncoderConstructor = (options: EncoderFactoryOptions) => SpeakerEncoder;

/** Encoders by model id (the ids of models/manifest.json). */
const encoders: Record<string, EncoderConstructor> = {
  "resemblyzer-0.1.4": (o) =>
    new ResemblyzerEncoder({
      modelPath: `${o.modelsDir}/resemblyzer-0.1.4/encoder.onnx`,
      threads: o.threads,
    }),
};

export const ENCODER_IDS = Object.keys(encoders);

export class UnknownEncoderError extends Error {
  readonly code = "unknown_encoder";
}

export function createEncoder(id: string, options: EncoderFactoryOptions): SpeakerEncoder {
  const make = encoders[id];
  if (!make) {
    throw new UnknownEncoderError(`Unknown encoder "${id}"; valid options: ${ENCODER_IDS.join(", ")}`);
  }
  return make(options);
}
