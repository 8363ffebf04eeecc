import { MEL_HOP, MEL_SAMPLE_RATE } from "./mel.js";

/** Mel frames in one partial utterance (resemblyzer hparams.partials_n_frames: 1.6 s). */
export const PARTIAL_FRAMES = 160;

/** Half-open range [start, stop), like a Python slice. */
export interface SliceRange {
  start: number;
  stop: number;
}

export interface PartialSlices {
  /** Sample ranges; the last may run past the end of the wav (zero-pad up to its stop). */
  wavSlices: SliceRange[];
  /** Mel-frame ranges, one per wav slice. */
  melSlices: SliceRange[];
}

/** numpy.round: round half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Where to cut an utterance into partial windows, exactly as
 * resemblyzer.VoiceEncoder.compute_partial_slices(n_samples, rate, min_coverage).
 */
export function computePartialSlices(nSamples: number, rate = 1.3, minCoverage = 0.75): PartialSlices {
  if (!Number.isInteger(nSamples) || nSamples < 0) {
    throw new RangeError(`nSamples must be a non-negative integer, got ${nSamples}`);
  }
  if (!(minCoverage > 0 && minCoverage <= 1)) {
    throw new RangeError(`minCoverage must be in (0, 1], got ${minCoverage}`);
  }
  const samplesPerFrame = MEL_HOP;
  const nFrames = Math.ceil((nSamples + 1) / samplesPerFrame);
  const frameStep = roundHalfEven(MEL_SAMPLE_RATE / rate / samplesPerFrame);
  if (!(frameStep > 0)) throw new RangeError(`rate ${rate} is too high (frame step would be ${frameStep})`);
  if (frameStep > PARTIAL_FRAMES) {
    const minRate = MEL_SAMPLE_RATE / (samplesPerFrame * PARTIAL_FRAMES);
    throw new RangeError(`rate ${rate} is too low, it should be ${minRate} at least`);
  }

  const wavSlices: SliceRange[] = [];
  const melSlices: SliceRange[] = [];
  const steps = Math.max(1, nFrames - PARTIAL_FRAMES + frameStep + 1);
  for (let i = 0; i < steps; i += frameStep) {
    melSlices.push({ start: i, stop: i + PARTIAL_FRAMES });
    wavSlices.push({ start: i * samplesPerFrame, stop: (i + PARTIAL_FRAMES) * samplesPerFrame });
  }

  // Drop the last window if too little of it is real audio (but always keep one).
  const last = wavSlices[wavSlices.length - 1];
  const coverage = (nSamples - last.start) / (last.stop - last.start);
  if (coverage < minCoverage && melSlices.length > 1) {
    melSlices.pop();
    wavSlices.pop();
  }
  return { wavSlices, melSlices };
}
