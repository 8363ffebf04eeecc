import { modelFilePath } from "../models/paths.js";
import { ENCODER_IDS, type EncoderId, type SpeakerEncoder } from "./encoder.js";
import { ResemblyzerEncoder } from "./resemblyzer.js";

export interface EncoderFactoryOptions {
  modelsDir: string;
  threads?: number;
}

type EncoderConstructor = (options: EncoderFactoryOptions) => SpeakerEncoder;

/** One implementation per model id. */
const encoders: Record<EncoderId, EncoderConstructor> = {
  "resemblyzer-0.1.4": (o) =>
    new ResemblyzerEncoder({
      modelPath: modelFilePath(o.modelsDir, "resemblyzer-0.1.4", "encoder.onnx"),
      threads: o.threads,
    }),
};

export class UnknownEncoderError extends Error {
  readonly code = "unknown_encoder";
}

export function createEncoder(id: string, options: EncoderFactoryOptions): SpeakerEncoder {
  const make = (ENCODER_IDS as readonly string[]).includes(id) ? encoders[id as EncoderId] : undefined;
  if (!make) {
    throw new UnknownEncoderError(`Unknown encoder "${id}"; valid options: ${ENCODER_IDS.join(", ")}`);
  }
  return make(options);
}
