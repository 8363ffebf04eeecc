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

/** Voice commands are short (1 to 3 s after the wake word): a turn of half a second is named, not "too_short". */
export const COMMAND_MIN_SPEECH_SECONDS = 0.5;

/** The live settings for the speaker of a voice command (the Wyoming proxy). */
export function commandIdentifierOptions(
  config: IdentificationConfig,
  defaultThreshold: number,
  modelId: string,
): LiveIdentifierOptions {
  const live = liveIdentifierOptions(config, defaultThreshold, modelId);
  return {
    ...live,
    tracker: {
      ...live.tracker,
      minSpeechSeconds: Math.min(config.minSpeechSeconds, COMMAND_MIN_SPEECH_SECONDS),
    },
  };
}
