import { dftKernels } from "./dft.js";
import type { GraphBuilder } from "./graph-builder.js";

/** torch.hamming_window(400), periodic (torch's default). */
const hamming = (n: number) => 0.54 - 0.46 * Math.cos((2 * Math.PI * n) / FBANK_N_FFT);

/** SpeechBrain's Fbank as spkrec-ecapa-voxceleb configures it (speechbrain/lobes/features.py). */
const FBANK_N_FFT = 400;

export const FBANK = {
  sampleRate: 16000,
  nFft: FBANK_N_FFT,
  hop: 160,
  mels: 80,
  amin: 1e-10,
  topDb: 80,
} as const;

/**
 * Appends SpeechBrain's Fbank + sentence mean normalisation to `g`:
 *   wav [batch, samples] -> STFT (Hamming, periodic; center=True with zero padding) -> power
 *   -> SpeechBrain's triangular filters -> 10*log10(max(x, 1e-10)) -> floor at (max over the whole
 *   segment - 80 dB) -> minus the mean over time per band (InputNormalization "sentence", no std)
 *   -> features [batch, 80, frames], channels first as ECAPA-TDNN wants them.
 * The STFT is one strided Conv whose kernels are the windowed DFT rows: a GEMM, which onnxruntime
 * runs at full speed, instead of a hand-written FFT.
 */
export function appendFbank(g: GraphBuilder, wav: string): string {
  const { nFft, hop, mels, amin, topDb } = FBANK;
  const bins = nFft / 2 + 1;
  const padded = g.op("Pad", [wav, g.int64s([0, nFft / 2, 0, nFft / 2])], {
    mode: { type: "string", value: "constant" },
  });
  const framesIn = g.op("Unsqueeze", [padded, g.int64s([1])]);
  const spectrum = g.op("Conv", [framesIn, g.floats("dft", [2 * bins, 1, nFft], dftKernels(hamming, nFft))], {
    kernel_shape: { type: "ints", value: [nFft] },
    strides: { type: "ints", value: [hop] },
  });
  // [batch, 2 * bins, frames]: real parts then imaginary parts.
  const squared = g.op("Mul", [spectrum, spectrum]);
  const [re2, im2] = g.opN("Split", [squared], 2, { axis: { type: "int", value: 1 } });
  const power = g.op("Add", [re2, im2]);
  const melPower = g.op("MatMul", [g.floats("mel_filters", [mels, bins], melFilters()), power]);
  const clamped = g.op("Max", [melPower, g.scalar(amin)]);
  const db = g.op("Mul", [g.op("Log", [clamped]), g.scalar(10 / Math.LN10)]);
  const peak = g.op("ReduceMax", [db], {
    axes: { type: "ints", value: [1, 2] },
    keepdims: { type: "int", value: 1 },
  });
  const floored = g.op("Max", [db, g.op("Sub", [peak, g.scalar(topDb)])]);
  const mean = g.op("ReduceMean", [floored], {
    axes: { type: "ints", value: [2] },
    keepdims: { type: "int", value: 1 },
  });
  return g.op("Sub", [floored, mean]);
}

/**
 * SpeechBrain's Filterbank._triangular_filters, [80, 201]: centres evenly spaced on the mel scale
 * (2595 log10(1 + f/700)) from 0 to 8 kHz, each filter symmetric with the half-width of the band
 * below its centre (not librosa's or Kaldi's filters).
 */
export function melFilters(): Float32Array {
  const { nFft, mels, sampleRate } = FBANK;
  const bins = nFft / 2 + 1;
  const toMel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
  const toHz = (mel: number) => 700 * (10 ** (mel / 2595) - 1);
  const top = toMel(sampleRate / 2);
  const hz = Array.from({ length: mels + 2 }, (_, i) => toHz((top * i) / (mels + 1)));
  const out = new Float32Array(mels * bins);
  for (let m = 0; m < mels; m++) {
    const centre = hz[m + 1];
    const band = hz[m + 1] - hz[m];
    for (let k = 0; k < bins; k++) {
      const slope = ((k * sampleRate) / 2 / (bins - 1) - centre) / band;
      out[m * bins + k] = Math.max(0, Math.min(slope + 1, 1 - slope));
    }
  }
  return out;
}
