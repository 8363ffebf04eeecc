import { VAD_WINDOW_SAMPLES } from "./detector.js";
import { VadUsageError } from "./errors.js";
import { VAD_SAMPLE_RATE } from "./segmenter.js";
import type { SileroVad } from "./silero.js";

/**
 * Resemblyzer's trim_long_silences counts in 30 ms webrtcvad windows (moving average 8, max silence 6).
 * Silero windows are 32 ms; the nearest whole counts are the same numbers (8 -> 256 ms vs 240 ms,
 * 6 -> 192 ms vs 180 ms), so the defaults are kept as window counts.
 */
export interface TrimOptions {
  /** A window is voiced when its probability is at or above this. */
  threshold: number;
  /** Width, in windows, of the moving average that smooths the voiced flags. */
  movingAverageWidth: number;
  /** Longest silence, in windows, kept inside speech; longer ones are cut down to about this. */
  maxSilenceWindows: number;
}

export const DEFAULT_TRIM_OPTIONS: Readonly<TrimOptions> = Object.freeze({
  threshold: 0.5,
  movingAverageWidth: 8,
  maxSilenceWindows: 6,
});

export interface TrimResult {
  /** The kept samples (length is a multiple of 512, at most the input length). */
  samples: Float32Array;
  /** Speech found: windows voiced after smoothing (before dilation) x 32 ms. */
  speechSeconds: number;
}

/**
 * Shortens long silences like Resemblyzer's trim_long_silences, with Silero probabilities.
 * `source` is either one probability per 512-sample window of `samples` (extra trailing ones are
 * ignored) or a VAD, which judges `samples` as a new stream.
 */
export async function trimLongSilences(
  samples: Float32Array,
  source: Float32Array | Pick<SileroVad, "speechProbabilities">,
  options: Partial<TrimOptions> = {},
): Promise<TrimResult> {
  const probabilities = source instanceof Float32Array ? source : await source.speechProbabilities(samples);
  return trimLongSilencesWithProbabilities(samples, probabilities, options);
}

/** Synchronous core of trimLongSilences(). */
export function trimLongSilencesWithProbabilities(
  samples: Float32Array,
  probabilities: Float32Array,
  options: Partial<TrimOptions> = {},
): TrimResult {
  const { threshold, movingAverageWidth: width, maxSilenceWindows } = { ...DEFAULT_TRIM_OPTIONS, ...options };
  if (
    !Number.isInteger(width) ||
    width < 1 ||
    !Number.isInteger(maxSilenceWindows) ||
    maxSilenceWindows < 0
  ) {
    throw new VadUsageError("trim movingAverageWidth must be an integer >= 1 and maxSilenceWindows >= 0");
  }
  // Like Resemblyzer, drop the trailing partial window.
  const windows = Math.floor(samples.length / VAD_WINDOW_SAMPLES);
  if (probabilities.length < windows) {
    throw new VadUsageError(
      `trim needs one probability per ${VAD_WINDOW_SAMPLES}-sample window: ${windows} expected, got ${probabilities.length}`,
    );
  }

  // prefix[i] = voiced windows among the first i.
  const prefix = new Int32Array(windows + 1);
  for (let i = 0; i < windows; i++) prefix[i + 1] = prefix[i] + (probabilities[i] >= threshold ? 1 : 0);
  const countIn = (from: number, to: number) => prefix[Math.min(windows, to)] - prefix[Math.max(0, from)];

  // Moving average with numpy's zero padding ((w-1)//2 before, w//2 after), then np.round, which
  // rounds half to even: k/w rounds to 1 exactly when 2k > w.
  const before = Math.floor((width - 1) / 2);
  const after = Math.floor(width / 2);
  const smoothed = new Uint8Array(windows);
  const smoothedPrefix = new Int32Array(windows + 1);
  for (let i = 0; i < windows; i++) {
    smoothed[i] = 2 * countIn(i - before, i + after + 1) > width ? 1 : 0;
    smoothedPrefix[i + 1] = smoothedPrefix[i] + smoothed[i];
  }

  // scipy binary_dilation with ones(m), m = maxSilence + 1: window i is kept when any smoothed window
  // in [i - (ceil(m/2) - 1), i + floor(m/2)] is voiced.
  const m = maxSilenceWindows + 1;
  const reachBack = Math.ceil(m / 2) - 1;
  const reachAhead = Math.floor(m / 2);
  const keep = new Uint8Array(windows);
  let kept = 0;
  for (let i = 0; i < windows; i++) {
    const from = Math.max(0, i - reachBack);
    const to = Math.min(windows, i + reachAhead + 1);
    if (smoothedPrefix[to] - smoothedPrefix[from] > 0) {
      keep[i] = 1;
      kept++;
    }
  }

  const out = new Float32Array(kept * VAD_WINDOW_SAMPLES);
  let at = 0;
  for (let i = 0; i < windows; i++) {
    if (!keep[i]) continue;
    out.set(samples.subarray(i * VAD_WINDOW_SAMPLES, (i + 1) * VAD_WINDOW_SAMPLES), at);
    at += VAD_WINDOW_SAMPLES;
  }
  return {
    samples: out,
    speechSeconds: (smoothedPrefix[windows] * VAD_WINDOW_SAMPLES) / VAD_SAMPLE_RATE,
  };
}
