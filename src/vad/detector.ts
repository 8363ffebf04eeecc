import type { Component } from "../util/lifecycle.js";

/** Samples per VAD window at 16 kHz (Silero v5 takes exactly 512). */
export const VAD_WINDOW_SAMPLES = 512;

/**
 * Streaming voice activity detector. Carries recurrent state across calls, so windows must be
 * fed in order; `reset()` starts a new, unrelated stream.
 */
export interface VoiceActivityDetector extends Component {
  /** Speech probability in [0, 1] for one window of VAD_WINDOW_SAMPLES float32 samples. */
  process(frame: Float32Array): Promise<number>;
  reset(): void;
}
