import {
  ENCODER_IDS,
  type EncoderId,
  type EncoderOptions,
  isEncoderId,
  type SpeakerEncoder,
} from "./encoder.js";
import { defaultThresholdOf, encoderModelPath } from "./encoder-models.js";
import { ResemblyzerEncoder } from "./resemblyzer.js";
import { CAMPPLUS_MODEL, ECAPA_MODEL, WaveformEncoder } from "./waveform-encoder.js";

export interface EncoderFactoryOptions extends Omit<EncoderOptions, "modelPath" | "defaultThreshold"> {
  modelsDir: string;
  /** Run this file instead of <modelsDir>/<id>/encoder.onnx (tests, benchmarks with other weights). */
  modelPath?: string;
}

/** One implementation per model id. */
const encoders: Record<EncoderId, (o: EncoderOptions) => SpeakerEncoder> = {
  "resemblyzer-0.1.4": (o) => new ResemblyzerEncoder(o),
  "ecapa-voxceleb": (o) => new WaveformEncoder(ECAPA_MODEL, o),
  "campplus-zh-en": (o) => new WaveformEncoder(CAMPPLUS_MODEL, o),
};

export class UnknownEncoderError extends Error {
  readonly code = "unknown_encoder";
}

export function createEncoder(id: string, options: EncoderFactoryOptions): SpeakerEncoder {
  if (!isEncoderId(id))
    throw new UnknownEncoderError(`Unknown encoder "${id}"; valid options: ${ENCODER_IDS.join(", ")}`);
  const { modelsDir, modelPath, ...rest } = options;
  return encoders[id]({
    ...rest,
    modelPath: modelPath ?? encoderModelPath(modelsDir, id),
    defaultThreshold: defaultThresholdOf(id),
  });
}
