import * as ort from "onnxruntime-node";
import type { EncoderOptions, SpeakerEncoder } from "./encoder.js";
import { MelFrontEnd } from "./mel.js";
import { createEncoderSession, type ExecutionProvider } from "./onnx-session.js";
import { computePartialSlices, PARTIAL_FRAMES } from "./partials.js";

const MEL_CHANNELS = 40;
const EMBEDDING_DIM = 256;
const HOP_SAMPLES = 160;

export interface ResemblyzerOptions extends EncoderOptions {
  /** Partial utterances per second (Resemblyzer's default 1.3). */
  rate?: number;
  /** Minimum coverage of the last partial (Resemblyzer's default 0.75). */
  minCoverage?: number;
}

/**
 * Resemblyzer's GE2E encoder (3-layer LSTM, 256-d) on onnxruntime, with the original
 * partial-utterance scheme: 1.6 s windows at 1.3 per second, mean of partial embeddings.
 */
/** Partials per onnxruntime run in embedPartials: about 30 ms of work here, and no slower per partial. */
const PARTIALS_PER_RUN = 4;
/** Partials per mel call (about 25 s of audio, a few ms): one call instead of one per run, no frame twice. */
const PARTIALS_PER_MEL = 32;

export class ResemblyzerEncoder implements SpeakerEncoder {
  readonly modelId = "resemblyzer-0.1.4";
  readonly dim = EMBEDDING_DIM;
  readonly defaultThreshold: number;
  provider: ExecutionProvider = "cpu";
  readonly windowSamples = PARTIAL_FRAMES * HOP_SAMPLES;
  // Resemblyzer: round((16000 / 1.3) / 160) = 77 frames between partials.
  readonly hopSamples = 77 * HOP_SAMPLES;
  private session: ort.InferenceSession | null = null;
  private readonly mel: MelFrontEnd;

  constructor(private readonly options: ResemblyzerOptions) {
    this.defaultThreshold = options.defaultThreshold;
    this.mel = new MelFrontEnd(options.threads ?? 1);
  }

  async start(): Promise<void> {
    if (this.session) return;
    const { session, provider } = await createEncoderSession({
      modelPath: this.options.modelPath,
      label: "Resemblyzer encoder",
      threads: this.options.threads,
      executionProvider: this.options.executionProvider,
      logger: this.options.logger,
    });
    await this.mel.start();
    this.session = session;
    this.provider = provider;
  }

  async stop(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.release();
    await this.mel.stop();
  }

  async embedUtterance(samples: Float32Array): Promise<Float32Array> {
    const partials = await this.embedPartials(samples);
    return meanNormalised(partials, this.dim);
  }

  async embedWindows(windows: Float32Array[]): Promise<Float32Array[]> {
    if (windows.length === 0) return [];
    for (const window of windows)
      if (window.length !== this.windowSamples)
        throw new RangeError(`window of ${window.length} samples, expected ${this.windowSamples}`);
    // A window's first 160 frames, as Resemblyzer slices a partial out of its spectrogram.
    return this.run(await this.mel.frames(windows, 0, PARTIAL_FRAMES), windows.length);
  }

  /** One L2-normalised embedding per partial window, as Resemblyzer's `return_partials`. */
  async embedPartials(samples: Float32Array): Promise<Float32Array[]> {
    const { melSlices, wavSlices } = computePartialSlices(
      samples.length,
      this.options.rate ?? 1.3,
      this.options.minCoverage ?? 0.75,
    );
    // Resemblyzer zero-pads the waveform up to the end of the last partial before the mel.
    const paddedLength = wavSlices[wavSlices.length - 1].stop;
    let wav = samples;
    if (paddedLength > samples.length) {
      wav = new Float32Array(paddedLength);
      wav.set(samples);
    }
    const out: Float32Array[] = [];
    // The mel of many partials per call (overlapping partials share their frames), the encoder on a
    // few at a time with the event loop free in between: onnxruntime runs on the calling thread, and a
    // 2-minute upload in one run would stall live detection and the API for a second.
    for (let group = 0; group < melSlices.length; group += PARTIALS_PER_MEL) {
      const groupSlices = melSlices.slice(group, group + PARTIALS_PER_MEL);
      // Only the frames these partials cover: the same numbers as slicing the whole spectrogram.
      const firstFrame = groupSlices[0].start;
      const mel = await this.mel.frames(
        [wav],
        firstFrame,
        groupSlices[groupSlices.length - 1].start + PARTIAL_FRAMES,
      );
      for (let first = 0; first < groupSlices.length; first += PARTIALS_PER_RUN) {
        const slices = groupSlices.slice(first, first + PARTIALS_PER_RUN);
        const input = new Float32Array(slices.length * PARTIAL_FRAMES * MEL_CHANNELS);
        slices.forEach(({ start }, b) => {
          const from = (start - firstFrame) * MEL_CHANNELS;
          input.set(
            mel.subarray(from, from + PARTIAL_FRAMES * MEL_CHANNELS),
            b * PARTIAL_FRAMES * MEL_CHANNELS,
          );
        });
        if (group + first > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        out.push(...(await this.run(input, slices.length)));
      }
    }
    return out;
  }

  private async run(input: Float32Array, batch: number): Promise<Float32Array[]> {
    const session = this.session;
    if (!session) throw new Error("ResemblyzerEncoder used before start()");
    const feeds = { mels: new ort.Tensor("float32", input, [batch, PARTIAL_FRAMES, MEL_CHANNELS]) };
    const out = await session.run(feeds);
    const data = out.embedding.data as Float32Array;
    const result: Float32Array[] = [];
    for (let b = 0; b < batch; b++) result.push(data.slice(b * this.dim, (b + 1) * this.dim));
    return result;
  }
}

export function meanNormalised(vectors: Float32Array[], dim: number): Float32Array {
  const acc = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) acc[i] += v[i];
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += acc[i] * acc[i];
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = acc[i] / norm;
  return out;
}
