import * as ort from "onnxruntime-node";
import { dftKernels } from "../models/onnx/dft.js";
import { GraphBuilder } from "../models/onnx/graph-builder.js";
import type { Component } from "../util/lifecycle.js";

/**
 * Resemblyzer's mel front end,
 *   librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160, n_mels=40)
 *     .astype(np.float32).T
 * as run by resemblyzer 0.1.4 with librosa 0.11.0 (what `pip install resemblyzer==0.1.4 librosa`
 * resolves to here). Since librosa 0.10, stft(center=True) pads with pad_mode="constant" (zeros);
 * older librosa reflected the signal instead — we match the zero padding.
 * Power 2, periodic Hann window, Slaney mel scale, Slaney area normalisation, fmin 0, fmax 8000.
 * It runs on onnxruntime: the STFT is one strided convolution whose kernels are the windowed DFT rows
 * (a GEMM, 3x faster here than a hand-written FFT), then the power and the filterbank as a MatMul.
 */

export const MEL_SAMPLE_RATE = 16000;
export const MEL_N_FFT = 400;
export const MEL_HOP = 160;
export const MEL_N_CHANNELS = 40;

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

/**
 * The mel power spectrogram on onnxruntime. Its input is already framed: the samples from half a
 * window before the first frame's centre to half a window after the last's, zeros outside the audio, so
 * any range of frames of a long recording is exactly that part of the whole spectrogram.
 */
export class MelFrontEnd implements Component {
  private session: ort.InferenceSession | null = null;

  constructor(private readonly threads = 1) {}

  async start(): Promise<void> {
    this.session ??= await ort.InferenceSession.create(melModel(), {
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      enableCpuMemArena: false,
    });
  }

  async stop(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.release();
  }

  /**
   * Frames [fromFrame, toFrame) of the spectrogram of each input (all of the same length), in one run:
   * [inputs, frames, 40] row-major, frame t of input b at (b * frames + t) * 40. By default every frame:
   * 1 + floor(n / 160).
   */
  async frames(
    inputs: readonly Float32Array[],
    fromFrame = 0,
    toFrame = 1 + Math.floor(inputs[0].length / MEL_HOP),
  ): Promise<Float32Array> {
    const session = this.session;
    if (!session) throw new Error("MelFrontEnd used before start()");
    const frames = toFrame - fromFrame;
    const span = (frames - 1) * MEL_HOP + MEL_N_FFT;
    const first = fromFrame * MEL_HOP - MEL_N_FFT / 2;
    const framed = new Float32Array(inputs.length * span);
    inputs.forEach((samples, b) => {
      const from = Math.max(0, first);
      const to = Math.min(samples.length, first + span);
      if (to > from) framed.set(samples.subarray(from, to), b * span + (from - first));
    });
    const out = await session.run({ framed: new ort.Tensor("float32", framed, [inputs.length, span]) });
    return out.mels.data as Float32Array;
  }
}

/** wav framed [batch, span] -> mels [batch, frames, 40]; deterministic, built in memory at start. */
function melModel(): Uint8Array {
  const bins = MEL_N_FFT / 2 + 1;
  const g = new GraphBuilder();
  // scipy.signal.get_window("hann", 400, fftbins=True): periodic Hann.
  const dft = dftKernels((n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / MEL_N_FFT), MEL_N_FFT);
  const spectrum = g.op(
    "Conv",
    [g.op("Unsqueeze", ["framed", g.int64s([1])]), g.floats("dft", [2 * bins, 1, MEL_N_FFT], dft)],
    { kernel_shape: { type: "ints", value: [MEL_N_FFT] }, strides: { type: "ints", value: [MEL_HOP] } },
  );
  const squared = g.op("Mul", [spectrum, spectrum]);
  const [re2, im2] = g.opN("Split", [squared], 2, { axis: { type: "int", value: 1 } });
  const bank = melFilterbank(MEL_SAMPLE_RATE, MEL_N_FFT, MEL_N_CHANNELS);
  const mel = g.op("MatMul", [
    g.floats("mel_filters", [MEL_N_CHANNELS, bins], bank),
    g.op("Add", [re2, im2]),
  ]);
  g.op("Transpose", [mel], { perm: { type: "ints", value: [0, 2, 1] } });
  g.nameLastOutput("mels");
  return g.toModel(
    { graph: "resemblyzer_mel", producer: "voiceid mel", version: "1" },
    { name: "framed", shape: ["batch", "span"] },
    { name: "mels", shape: ["batch", "frames", MEL_N_CHANNELS] },
  );
}
