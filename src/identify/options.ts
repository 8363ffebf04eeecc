import type { IdentificationConfig, VadConfig } from "../config/schema.js";
import type { SegmenterConfig } from "../vad/segmenter.js";
import type { LiveIdentifierOptions } from "./live-identifier.js";
import { DEFAULT_TRACKER_OPTIONS } from "./speaker-tracker.js";
import { voiceChangeModel } from "./voice-change.js";

/** The live identification settings for a configuration and the running encoder (its model id and threshold). */
export function liveIdentifierOptions(
  config: IdentificationConfig,
  defaultThreshold: number,
  modelId: string,
): LiveIdentifierOptions {
  return {
    hopSeconds: config.hopSeconds,
    tracker: {
      ...DEFAULT_TRACKER_OPTIONS,
      defaultThreshold,
      voiceChange: voiceChangeModel(modelId),
      minMargin: config.minMargin,
      pauseSeconds: config.pauseSeconds,
      minSpeechSeconds: config.minSpeechSeconds,
    },
  };
}

/** The segmenter's part of the vad section (the rest names the model and the quiet gate). */
export function segmenterOptions({
  model: _model,
  quietGate: _quietGate,
  ...segmenter
}: VadConfig): Partial<SegmenterConfig> {
  return segmenter;
}
