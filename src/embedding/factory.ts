import type { Logger } from "../util/log.js";
import { EcapaEncoder } from "./ecapa.js";
import { ENCODER_IDS, type EncoderId, isEncoderId, type SpeakerEncoder } from "./encoder.js";
import { defaultThresholdOf, encoderModelPath } from "./encoder-models.js";
import type { ExecutionProvider } from "./onnx-session.js";
import { ResemblyzerEncoder } from "./resemblyzer.js";

export interface EncoderFactoryOptions {
  modelsDir: string;
  threads?: number;
  executionProvider?: ExecutionProvider;
  logger?: Logger;
  /** Run this file instead of <modelsDir>/<id>/encoder.onnx (tests, benchmarks with other weights). */
  modelPath?: string;
}

interface Made {
  modelPath: string;
  defaultThreshold: number;
}

/** One implementation per model id. */
const encoders: Record<EncoderId, (o: EncoderFactoryOptions & Made) => SpeakerEncoder> = {
  "resemblyzer-0.1.4": (o) => new ResemblyzerEncoder(o),
  "ecapa-voxceleb": (o) => new EcapaEncoder(o),
};

export class UnknownEncoderError extends Error {
  readonly code = "unknown_encoder";
}

export function createEncoder(id: string, options: EncoderFactoryOptions): SpeakerEncoder {
  if (!isEncoderId(id))
    throw new UnknownEncoderError(`Unknown encoder "${id}"; valid options: ${ENCODER_IDS.join(", ")}`);
  return encoders[id]({
    ...options,
    modelPath: options.modelPath ?? encoderModelPath(options.modelsDir, id),
    defaultThreshold: defaultThresholdOf(id),
  });
}
