import type { GraphBuilder } from "./graph-builder.js";
import { cosSinOfTurn, portableLog, portablePow } from "./portable-math.js";

/**
 * Kaldi's fbank with its defaults, as 3D-Speaker computes CAM++'s features
 * (torchaudio.compliance.kaldi.fbank, 80 bins, dither 0): 25 ms frames every 10 ms with no padding
 * (snip_edges), each frame's DC removed, pre-emphasis 0.97, Povey window, 512-point power spectrum,
 * Kaldi's mel filters from 20 Hz to 8 kHz, natural log floored at float32's epsilon.
 */
export const KALDI_FBANK = {
  sampleRate: 16000,
  frame: 400,
  hop: 160,
  nFft: 512,
  mels: 80,
  lowHz: 20,
  preemphasis: 0.97,
  floor: 1.1920928955078125e-7,
} as const;

/**
 * Appends Kaldi's fbank and mean normalisation over time to `g`:
 *   wav [batch, samples] -> features [batch, 80, frames] (channels first), frames = 1 + (samples - 400) / 160.
 * DC removal, pre-emphasis and the window are linear in the frame, so they are folded into the DFT
 * kernels: the whole front end up to the power spectrum is one strided Conv.
 */
export function appendKaldiFbank(g: GraphBuilder, wav: string): string {
  const { frame, hop, nFft, mels, floor } = KALDI_FBANK;
  const bins = nFft / 2 + 1;
  const framesIn = g.op("Unsqueeze", [wav, g.int64s([1])]);
  const spectrum = g.op("Conv", [framesIn, g.floats("kaldi_dft", [2 * bins, 1, frame], frameKernels())], {
    kernel_shape: { type: "ints", value: [frame] },
    strides: { type: "ints", value: [hop] },
  });
  const squared = g.op("Mul", [spectrum, spectrum]);
  const [re2, im2] = g.opN("Split", [squared], 2, { axis: { type: "int", value: 1 } });
  const power = g.op("Add", [re2, im2]);
  const melPower = g.op("MatMul", [g.floats("kaldi_mel", [mels, bins], kaldiMelFilters()), power]);
  const logMel = g.op("Log", [g.op("Max", [melPower, g.scalar(floor)])]);
  const mean = g.op("ReduceMean", [logMel], {
    axes: { type: "ints", value: [2] },
    keepdims: { type: "int", value: 1 },
  });
  return g.op("Sub", [logMel, mean]);
}

/**
 * [2 * 257, 1, 400]: for each bin the cosine then (after all cosines) the negated sine row of the
 * 512-point DFT of a frame zero-padded from 400 samples, composed with the Povey window, pre-emphasis
 * (x[i] - 0.97 x[i-1], and x[0] - 0.97 x[0]) and the removal of the frame's mean, in that (reverse) order.
 * Portable arithmetic only (portable-math.ts): the converted graph has the same bytes on every machine.
 */
export function frameKernels(): Float32Array {
  const { frame, nFft, preemphasis } = KALDI_FBANK;
  const bins = nFft / 2 + 1;
  const window = Float64Array.from({ length: frame }, (_, n) =>
    portablePow(0.5 - 0.5 * cosSinOfTurn(n, frame - 1)[0], 0.85),
  );
  const out = new Float32Array(2 * bins * frame);
  const row = new Float64Array(frame);
  for (let part = 0; part < 2; part++)
    for (let k = 0; k < bins; k++) {
      // The DFT row times the window, then pulled back through pre-emphasis and DC removal.
      for (let n = 0; n < frame; n++) {
        const [cos, sin] = cosSinOfTurn(k * n, nFft);
        row[n] = window[n] * (part === 0 ? cos : -sin);
      }
      let sum = 0;
      const pulled = new Float64Array(frame);
      for (let n = 0; n < frame; n++) {
        pulled[n] = n === 0 ? row[0] * (1 - preemphasis) : row[n];
        if (n + 1 < frame) pulled[n] -= preemphasis * row[n + 1];
        sum += pulled[n];
      }
      const mean = sum / frame;
      const base = (part * bins + k) * frame;
      for (let n = 0; n < frame; n++) out[base + n] = pulled[n] - mean;
    }
  return out;
}

/** Kaldi's triangular filters on the mel scale 1127 ln(1 + f/700), [80, 257] (the Nyquist bin weighs 0). */
export function kaldiMelFilters(): Float32Array {
  const { nFft, mels, sampleRate, lowHz } = KALDI_FBANK;
  const bins = nFft / 2 + 1;
  const mel = (hz: number) => 1127 * portableLog(1 + hz / 700);
  const low = mel(lowHz);
  const delta = (mel(sampleRate / 2) - low) / (mels + 1);
  const out = new Float32Array(mels * bins);
  for (let m = 0; m < mels; m++) {
    const left = low + m * delta;
    const centre = left + delta;
    const right = centre + delta;
    for (let k = 0; k < bins - 1; k++) {
      const x = mel((k * sampleRate) / nFft);
      const up = (x - left) / (centre - left);
      const down = (right - x) / (right - centre);
      out[m * bins + k] = Math.max(0, Math.min(up, down));
    }
  }
  return out;
}
