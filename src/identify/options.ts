import type { IdentificationConfig, VadConfig } from "../config/schema.js";
import type { SegmenterConfig } from "../vad/segmenter.js";
import type { LiveIdentifierOptions } from "./live-identifier.js";
import { DEFAULT_TRACKER_OPTIONS } from "./speaker-tracker.js";
import { cosineSpread, voiceChangeModel } from "./voice-change.js";

/** `identification.minMargin` for the running encoder (it is written in Resemblyzer's cosines); 0 is none. */
export function minMarginFor(config: IdentificationConfig, modelId: string): number | undefined {
  return config.minMargin * cosineSpread(modelId) || undefined;
}

/**
 * `enrolment.consistencyWarning` for the running encoder: written in Resemblyzer's cosines (0.75, 0.07 below
 * its 0.82), it keeps its distance below the encoder's threshold, widened by the encoder's spread.
 */
export function consistencyWarningFor(configured: number, defaultThreshold: number, modelId: string): number {
  const spread = cosineSpread(modelId);
  if (spread === 1) return configured;
  // Two decimals: it is shown in warnings.
  return Math.round((defaultThreshold - (RESEMBLYZER_THRESHOLD - configured) * spread) * 100) / 100;
}

/** The scale the settings above are written in. */
const RESEMBLYZER_THRESHOLD = 0.82;

/**
 * The live identification settings for a configuration and the running encoder (its model id and
 * threshold). The tracker's margins and evidence are written in Resemblyzer's cosines (as is
 * `minMargin`): they widen with the encoder's spread.
 */
export function liveIdentifierOptions(
  config: IdentificationConfig,
  defaultThreshold: number,
  modelId: string,
): LiveIdentifierOptions {
  const spread = cosineSpread(modelId);
  return {
    hopSeconds: config.hopSeconds,
    tracker: {
      ...DEFAULT_TRACKER_OPTIONS,
      defaultThreshold,
      voiceChange: voiceChangeModel(modelId),
      evidenceOffset: DEFAULT_TRACKER_OPTIONS.evidenceOffset * spread,
      evidenceScale: DEFAULT_TRACKER_OPTIONS.evidenceScale / spread,
      unknownMargin: DEFAULT_TRACKER_OPTIONS.unknownMargin * spread,
      // A weight on squared likeness.
      pauseLengthWeight: DEFAULT_TRACKER_OPTIONS.pauseLengthWeight * spread ** 2,
      minMargin: minMarginFor(config, modelId) ?? 0,
      pauseSeconds: config.pauseSeconds,
      minSpeechSeconds: config.minSpeechSeconds,
      wholeTurn:
        modelId === RESEMBLYZER
          ? null
          : { ...WHOLE_TURN, aboveThreshold: WHOLE_TURN.aboveThreshold * spread },
    },
  };
}

const RESEMBLYZER = "resemblyzer-0.1.4";
/**
 * A turn not yet named is heard whole from 2 s to 4 s of its speech, every 0.4 s. Resemblyzer's utterance
 * voiceprint is the mean of its windows', which the tracker has already; a waveform encoder's (CAM++,
 * ECAPA-TDNN) hears the speech at once, and names more members enrolled on another microphone sooner.
 */
const WHOLE_TURN = { from: 2, until: 4, every: 0.4, aboveThreshold: 0.01 };

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
