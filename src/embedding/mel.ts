import { RealFft } from "../audio/fft.js";

/**
 * Resemblyzer's mel front end, bit-for-bit in spirit with
 *   librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160, n_mels=40)
 *     .astype(np.float32).T
 * as run by resemblyzer 0.1.4 with librosa 0.11.0 (what `pip install resemblyzer==0.1.4 librosa`
 * resolves to here). Since librosa 0.10, stft(center=True) pads with pad_mode="constant" (zeros);
 * older librosa reflected the signal instead — we match the zero padding.
 * Power 2, periodic Hann window, Slaney mel scale, Slaney area normalisation, fmin 0, fmax 8000.
 * Arithmetic runs in float64 (librosa mixes float32/float64); results are stored as float32.
 */

export const MEL_SAMPLE_RATE = 16000;
export const MEL_N_FFT = 400;
export const MEL_HOP = 160;
export const MEL_N_CHANNELS = 40;

export interface MelSpectrogram {
  /** Number of frames: 1 + floor(nSamples / 160). */
  frames: number;
  /** frames × 40, row-major (frame t, channel m at t * 40 + m). */
  data: Float32Array;
}

// Slaney mel scale (librosa.hz_to_mel / mel_to_hz with htk=False).
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** Sparse mel filterbank: for channel m, weights[offsets[m] .. offsets[m+1]) cover bins first[m]... */
interface Filterbank {
  first: Int32Array;
  offsets: Int32Array;
  weights: Float64Array;
}

/**
 * librosa.filters.mel(sr, n_fft, n_mels, norm="slaney", dtype=float32): the triangles are stored
 * as float32 and then scaled in place by the float64 Slaney norm, so we round the same way.
 */
export function melFilterbank(sampleRate: number, nFft: number, nMels: number): Float32Array {
  const bins = Math.floor(nFft / 2) + 1;
  const fftFreqs = new Float64Array(bins);
  for (let k = 0; k < bins; k++) fftFreqs[k] = (k * sampleRate) / nFft;
  // np.linspace(min_mel, max_mel, n_mels + 2): start + i*step, endpoint set exactly.
  const nPts = nMels + 2;
  const minMel = hzToMel(0);
  const maxMel = hzToMel(sampleRate / 2);
  const step = (maxMel - minMel) / (nPts - 1);
  const melF = new Float64Array(nPts);
  for (let i = 0; i < nPts; i++) melF[i] = melToHz(i === nPts - 1 ? maxMel : i * step + minMel);
  const out = new Float32Array(nMels * bins);
  for (let m = 0; m < nMels; m++) {
    const fdiffLo = melF[m + 1] - melF[m];
    const fdiffHi = melF[m + 2] - melF[m + 1];
    const enorm = 2.0 / (melF[m + 2] - melF[m]);
    for (let k = 0; k < bins; k++) {
      const lower = -(melF[m] - fftFreqs[k]) / fdiffLo;
      const upper = (melF[m + 2] - fftFreqs[k]) / fdiffHi;
      const w = Math.fround(Math.max(0, Math.min(lower, upper)));
      out[m * bins + k] = Math.fround(w * enorm);
    }
  }
  return out;
}

function sparseFilterbank(dense: Float32Array, nMels: number, bins: number): Filterbank {
  const first = new Int32Array(nMels);
  const offsets = new Int32Array(nMels + 1);
  const values: number[] = [];
  for (let m = 0; m < nMels; m++) {
    let lo = -1;
    let hi = -1;
    for (let k = 0; k < bins; k++) {
      if (dense[m * bins + k] !== 0) {
        if (lo < 0) lo = k;
        hi = k;
      }
    }
    offsets[m] = values.length;
    first[m] = Math.max(lo, 0);
    if (lo >= 0) for (let k = lo; k <= hi; k++) values.push(dense[m * bins + k]);
  }
  offsets[nMels] = values.length;
  return { first, offsets, weights: Float64Array.from(values) };
}

/** Reusable extractor: holds the FFT plan, window, filterbank and scratch buffers. */
export class MelSpectrogramExtractor {
  private readonly fft = new RealFft(MEL_N_FFT);
  private readonly window = new Float64Array(MEL_N_FFT);
  private readonly bank: Filterbank;
  private readonly spec = new Float64Array(MEL_N_FFT / 2 + 1);
  private readonly specIm = new Float64Array(MEL_N_FFT / 2 + 1);

  constructor() {
    // scipy.signal.get_window("hann", 400, fftbins=True): periodic Hann.
    for (let n = 0; n < MEL_N_FFT; n++) this.window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / MEL_N_FFT);
    const bins = MEL_N_FFT / 2 + 1;
    this.bank = sparseFilterbank(
      melFilterbank(MEL_SAMPLE_RATE, MEL_N_FFT, MEL_N_CHANNELS),
      MEL_N_CHANNELS,
      bins,
    );
  }

  /**
   * The spectrogram of `samples`, or only its frames [fromFrame, toFrame) (each frame depends on its own
   * samples alone, so a range is exactly that part of the whole): row 0 of `data` is then fromFrame.
   */
  compute(
    samples: Float32Array,
    fromFrame = 0,
    toFrame = 1 + Math.floor(samples.length / MEL_HOP),
  ): MelSpectrogram {
    const n = samples.length;
    const frames = toFrame - fromFrame;
    const data = new Float32Array(frames * MEL_N_CHANNELS);
    const half = MEL_N_FFT / 2;
    const zr = this.fft.packedRe;
    const zi = this.fft.packedIm;
    const win = this.window;
    const re = this.spec;
    const im = this.specIm;
    const { first, offsets, weights } = this.bank;
    const bins = half + 1;
    for (let t = 0; t < frames; t++) {
      // center=True: frame t covers samples [t*hop - n_fft/2, t*hop + n_fft/2), zeros outside.
      const start = (fromFrame + t) * MEL_HOP - half;
      if (start >= 0 && start + MEL_N_FFT <= n) {
        for (let k = 0; k < half; k++) {
          const i = 2 * k;
          zr[k] = samples[start + i] * win[i];
          zi[k] = samples[start + i + 1] * win[i + 1];
        }
      } else {
        for (let k = 0; k < half; k++) {
          const i = 2 * k;
          const a = start + i;
          const b = a + 1;
          zr[k] = a >= 0 && a < n ? samples[a] * win[i] : 0;
          zi[k] = b >= 0 && b < n ? samples[b] * win[i + 1] : 0;
        }
      }
      this.fft.forwardPacked(re, im);
      for (let k = 0; k < bins; k++) re[k] = re[k] * re[k] + im[k] * im[k];
      const row = t * MEL_N_CHANNELS;
      for (let m = 0; m < MEL_N_CHANNELS; m++) {
        const o0 = offsets[m];
        const o1 = offsets[m + 1];
        const base = first[m] - o0;
        let acc = 0;
        for (let o = o0; o < o1; o++) acc += weights[o] * re[base + o];
        data[row + m] = acc;
      }
    }
    return { frames, data };
  }
}

let shared: MelSpectrogramExtractor | undefined;

/** Mel power spectrogram of 16 kHz mono audio, as Resemblyzer's wav_to_mel_spectrogram (or frames of it). */
export function melSpectrogram(
  samples16k: Float32Array,
  fromFrame?: number,
  toFrame?: number,
): MelSpectrogram {
  shared ??= new MelSpectrogramExtractor();
  return shared.compute(samples16k, fromFrame, toFrame);
}
