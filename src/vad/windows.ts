import { VAD_WINDOW_SAMPLES, type VoiceActivityDetector } from "./detector.js";

/**
 * One probability per 512-sample window from any detector, feeding windows in order from its
 * current state (reset it first for a fresh stream). The last partial window is zero-padded.
 */
export async function detectorProbabilities(
  detector: Pick<VoiceActivityDetector, "process">,
  samples: Float32Array,
): Promise<Float32Array> {
  const windows = Math.ceil(samples.length / VAD_WINDOW_SAMPLES);
  const probs = new Float32Array(windows);
  const frame = new Float32Array(VAD_WINDOW_SAMPLES);
  for (let w = 0; w < windows; w++) {
    const begin = w * VAD_WINDOW_SAMPLES;
    const end = Math.min(begin + VAD_WINDOW_SAMPLES, samples.length);
    if (end - begin < VAD_WINDOW_SAMPLES) frame.fill(0);
    frame.set(samples.subarray(begin, end));
    probs[w] = await detector.process(frame);
  }
  return probs;
}
