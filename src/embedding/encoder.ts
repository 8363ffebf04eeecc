import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import type { ExecutionProvider } from "./onnx-session.js";

/** Every encoder voiceid can run (model ids of models/manifest.json); see createEncoder(). */
export const ENCODER_IDS = ["resemblyzer-0.1.4", "ecapa-voxceleb", "campplus-zh-en"] as const;
export type EncoderId = (typeof ENCODER_IDS)[number];

export function isEncoderId(id: string): id is EncoderId {
  return (ENCODER_IDS as readonly string[]).includes(id);
}

/** What every encoder is built with (createEncoder fills in the path and the manifest's threshold). */
export interface EncoderOptions {
  /** The runnable encoder.onnx (see `voiceid models fetch`). */
  modelPath: string;
  /** From the manifest (CAM++ 0.5, Resemblyzer 0.82, ECAPA-TDNN 0.25). */
  defaultThreshold: number;
  /** onnxruntime intra-op threads; 1 keeps a Pi's other cores for audio and MQTT. */
  threads?: number;
  executionProvider?: ExecutionProvider;
  /**
   * Encoders whose utterances take one long run (ECAPA-TDNN, CAM++) run them in a worker thread with a
   * session of their own, so an upload never holds up a daemon's event loop (default). false: on the one
   * session, as a one-shot command wants (no second copy of the weights, no thread to start).
   */
  utteranceWorker?: boolean;
  logger?: Logger;
}

/**
 * A speaker encoder turns 16 kHz mono speech into a fixed-size, L2-normalised voiceprint.
 * One implementation per model; `createEncoder()` in factory.ts chooses.
 */
export interface SpeakerEncoder extends Component {
  /** Model id as in models/manifest.json, e.g. "resemblyzer-0.1.4". Voiceprints are stored per model id. */
  readonly modelId: string;
  readonly dim: number;
  /** Where it runs; known after start() (a CUDA request falls back to the CPU). */
  readonly provider: ExecutionProvider;
  /** Cosine threshold at which a match is accepted unless a speaker overrides it. */
  readonly defaultThreshold: number;
  /**
   * Voiceprint of an utterance that is already preprocessed (volume normalised, silence trimmed):
   * 16 kHz mono float32 in [-1, 1]. Returns an L2-normalised vector of length `dim`.
   */
  embedUtterance(samples: Float32Array): Promise<Float32Array>;
  /** Samples in one streaming window (1.6 s for every encoder: Resemblyzer's 160 mel frames). */
  readonly windowSamples: number;
  /** Samples between the starts of two partial windows (Resemblyzer: 1/1.3 s, rounded to frames). */
  readonly hopSamples: number;
  /**
   * Voiceprints of whole windows of exactly `windowSamples` samples each (already preprocessed),
   * one L2-normalised vector per window. Streaming identification averages these as
   * `embedUtterance` averages its partials.
   */
  embedWindows(windows: Float32Array[]): Promise<Float32Array[]>;
}
