import * as ort from "onnxruntime-node";
import type { EncoderOptions, SpeakerEncoder } from "./encoder.js";
import {
  createEncoderSession,
  type ExecutionProvider,
  encoderSessionOptions,
  outputWidth,
} from "./onnx-session.js";
import { OnnxWorkerSession } from "./onnx-worker.js";

const SAMPLE_RATE = 16000;
/** Windows per onnxruntime run in embedWindows: the event loop gets a turn in between. */
const WINDOWS_PER_RUN = 4;
/** Below this SpeechBrain's reflect padding has too few frames to mirror (CAM++ needs 720). */
const MIN_SAMPLES = 1600;

/** A model whose graph takes the waveform itself: its id in models/manifest.json and a name for logs. */
export interface WaveformModel {
  id: string;
  label: string;
}

export const ECAPA_MODEL: WaveformModel = { id: "ecapa-voxceleb", label: "ECAPA-TDNN encoder" };
export const CAMPPLUS_MODEL: WaveformModel = { id: "campplus-zh-en", label: "CAM++ encoder" };

/**
 * An encoder whose ONNX graph holds its own front end (SpeechBrain's ECAPA-TDNN with its Fbank, 3D-Speaker's
 * CAM++ with Kaldi's fbank), so an utterance's voiceprint is one run over the whole waveform, as the
 * original computes it. Streaming windows have Resemblyzer's length and hop, so the live tracker's timing
 * does not depend on the encoder.
 *
 * An utterance is one onnxruntime run, which blocks its thread (4.5 s for a 2-minute upload on an x86-64
 * core with ECAPA-TDNN), so utterances run in a worker thread with a session of their own (the weights
 * once more in memory, from the first utterance until stop()); streaming windows, a few at a time, stay
 * on the main thread and never queue behind an upload. A one-shot command (`utteranceWorker: false`)
 * runs utterances on the main session: `voiceid identify` with CAM++ would otherwise create it twice.
 */
export class WaveformEncoder implements SpeakerEncoder {
  readonly modelId: string;
  readonly windowSamples = 160 * 160;
  readonly hopSamples = 77 * 160;
  readonly defaultThreshold: number;
  provider: ExecutionProvider = "cpu";
  private width = 192;
  private session: ort.InferenceSession | null = null;
  private utterances: OnnxWorkerSession | null = null;

  /** `modelPath`: the converted encoder.onnx (wav in, unit voiceprint out; see models/ecapa-onnx.ts, models/campplus-onnx.ts). */
  constructor(
    private readonly model: WaveformModel,
    private readonly options: EncoderOptions,
  ) {
    this.modelId = model.id;
    this.defaultThreshold = options.defaultThreshold;
  }

  /** 192 for both pinned models; read from the model at start(). */
  get dim(): number {
    return this.width;
  }

  async start(): Promise<void> {
    if (this.session) return;
    const { session, provider } = await createEncoderSession({
      modelPath: this.options.modelPath,
      label: this.model.label,
      threads: this.options.threads,
      executionProvider: this.options.executionProvider,
      logger: this.options.logger,
    });
    this.session = session;
    // Its worker starts at the first utterance: live windows alone never pay for a second session.
    this.utterances =
      this.options.utteranceWorker === false
        ? null
        : new OnnxWorkerSession(this.options.modelPath, {
            ...encoderSessionOptions(this.options.threads),
            executionProviders: provider === "cuda" ? ["cuda", "cpu"] : ["cpu"],
          });
    this.provider = provider;
    this.width = outputWidth(session, "embedding");
  }

  async stop(): Promise<void> {
    const session = this.session;
    const utterances = this.utterances;
    this.session = null;
    this.utterances = null;
    await utterances?.stop();
    await session?.release();
  }

  async embedUtterance(samples: Float32Array): Promise<Float32Array> {
    if (samples.length < MIN_SAMPLES)
      throw new RangeError(
        `${samples.length} samples is too short for a voiceprint (at least ${MIN_SAMPLES / SAMPLE_RATE} s)`,
      );
    const utterances = this.utterances;
    if (!utterances) return (await this.run([samples], samples.length))[0];
    const { embedding } = await utterances.run({ wav: { data: samples.slice(), dims: [1, samples.length] } });
    return embedding.data.slice(0, this.width);
  }

  async embedWindows(windows: Float32Array[]): Promise<Float32Array[]> {
    for (const w of windows)
      if (w.length !== this.windowSamples)
        throw new RangeError(`window of ${w.length} samples, expected ${this.windowSamples}`);
    const out: Float32Array[] = [];
    for (let first = 0; first < windows.length; first += WINDOWS_PER_RUN) {
      if (first > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      out.push(...(await this.run(windows.slice(first, first + WINDOWS_PER_RUN), this.windowSamples)));
    }
    return out;
  }

  private async run(batch: Float32Array[], length: number): Promise<Float32Array[]> {
    const session = this.session;
    if (!session) throw new Error(`${this.model.label} used before start()`);
    const input = new Float32Array(batch.length * length);
    batch.forEach((w, b) => {
      input.set(w, b * length);
    });
    const out = await session.run({ wav: new ort.Tensor("float32", input, [batch.length, length]) });
    const data = out.embedding.data as Float32Array;
    return batch.map((_, b) => data.slice(b * this.width, (b + 1) * this.width));
  }
}
