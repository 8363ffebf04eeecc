import { access } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import type { Logger } from "../util/log.js";
import { silentLogger } from "../util/log.js";
import { VAD_WINDOW_SAMPLES, type VoiceActivityDetector } from "./detector.js";
import { VadModelMissingError, VadUsageError } from "./errors.js";
import { detectorProbabilities } from "./windows.js";

/** Silero v5 prepends the last 64 samples of the previous window (as the official OnnxWrapper does). */
export const SILERO_CONTEXT_SAMPLES = 64;
export const SILERO_SAMPLE_RATE = 16_000;
const STATE_SIZE = 2 * 1 * 128;

export interface SileroVadOptions {
  /** Path to silero_vad.onnx (v5). The lead resolves it from the models dir. */
  modelPath: string;
  logger?: Logger;
}

/** Tensors and buffers that live as long as the session; reused for every window. */
interface RunBuffers {
  session: ort.InferenceSession;
  input: Float32Array;
  stateIn: Float32Array;
  stateOut: Float32Array;
  output: Float32Array;
  feeds: ort.InferenceSession.FeedsType;
  fetches: ort.InferenceSession.FetchesType;
}

/**
 * Silero VAD v5 on onnxruntime-node, one 512-sample window (32 ms at 16 kHz) per call.
 * Recurrent state and the 64-sample context are carried between calls; `reset()` clears both.
 * Calls must not overlap (the state would be corrupted), so an overlapping call is rejected.
 */
export class SileroVad implements VoiceActivityDetector {
  private readonly modelPath: string;
  private readonly log: Logger;
  private run: RunBuffers | null = null;
  /** The session.run() in flight, so stop() can wait for it before releasing the session. */
  private inflight: Promise<unknown> | null = null;
  /** reset() during a run must not touch buffers ort is reading; it is applied when the run ends. */
  private resetRequested = false;
  private starting: Promise<void> | null = null;

  constructor(options: SileroVadOptions) {
    this.modelPath = options.modelPath;
    this.log = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    if (this.run) return;
    // Concurrent start() calls share one session creation.
    this.starting ??= this.createSession().finally(() => {
      this.starting = null;
    });
    await this.starting;
  }

  private async createSession(): Promise<void> {
    try {
      await access(this.modelPath);
    } catch {
      throw new VadModelMissingError(this.modelPath);
    }
    const session = await ort.InferenceSession.create(this.modelPath, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // The arena keeps peak-sized buffers for good; without it a Pi keeps ~10 MB more for itself.
      enableCpuMemArena: false,
    });
    const input = new Float32Array(SILERO_CONTEXT_SAMPLES + VAD_WINDOW_SAMPLES);
    const stateIn = new Float32Array(STATE_SIZE);
    const stateOut = new Float32Array(STATE_SIZE);
    const output = new Float32Array(1);
    // Pre-allocated outputs: ort writes into our buffers instead of allocating new ones per call.
    this.run = {
      session,
      input,
      stateIn,
      stateOut,
      output,
      feeds: {
        input: new ort.Tensor("float32", input, [1, input.length]),
        state: new ort.Tensor("float32", stateIn, [2, 1, 128]),
        sr: new ort.Tensor("int64", BigInt64Array.of(BigInt(SILERO_SAMPLE_RATE)), []),
      },
      fetches: {
        output: new ort.Tensor("float32", output, [1, 1]),
        stateN: new ort.Tensor("float32", stateOut, [2, 1, 128]),
      },
    };
    this.log.debug("silero vad session created", { modelPath: this.modelPath });
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const run = this.run;
    if (!run) return;
    this.run = null;
    await this.inflight?.catch(() => undefined);
    await run.session.release();
    this.log.debug("silero vad session released");
  }

  reset(): void {
    if (!this.run) return;
    if (this.inflight) {
      this.resetRequested = true;
      return;
    }
    this.run.input.fill(0);
    this.run.stateIn.fill(0);
  }

  async process(frame: Float32Array): Promise<number> {
    const run = this.run;
    if (!run) throw new VadUsageError("SileroVad.process() called before start() (or after stop())");
    if (frame.length !== VAD_WINDOW_SAMPLES) {
      throw new VadUsageError(
        `SileroVad.process() needs exactly ${VAD_WINDOW_SAMPLES} samples, got ${frame.length}`,
      );
    }
    if (this.inflight) {
      throw new VadUsageError("SileroVad.process() called while a previous call is running; await each call");
    }
    // input = [context (tail of the previous window) | frame]; the context already sits at the front.
    run.input.set(frame, SILERO_CONTEXT_SAMPLES);
    const pending = run.session.run(run.feeds, run.fetches);
    this.inflight = pending;
    try {
      await pending;
    } finally {
      this.inflight = null;
    }
    const probability = run.output[0];
    if (this.resetRequested) {
      this.resetRequested = false;
      run.input.fill(0);
      run.stateIn.fill(0);
    } else {
      run.stateIn.set(run.stateOut);
      run.input.copyWithin(0, VAD_WINDOW_SAMPLES);
    }
    return probability;
  }

  /**
   * Takes `frame` as the latest audio without running the model (QuietGate): the next window's context
   * is its tail, as if it had been judged; the recurrent state stays as the last judged window left it.
   */
  skip(frame: Float32Array): void {
    const run = this.run;
    if (!run) throw new VadUsageError("SileroVad.skip() called before start() (or after stop())");
    if (this.inflight) throw new VadUsageError("SileroVad.skip() called while a window is running");
    run.input.set(frame.subarray(frame.length - SILERO_CONTEXT_SAMPLES), 0);
  }

  /**
   * Offline helper: one probability per 512-sample window of `samples`, the last partial window
   * zero-padded. Treats `samples` as a new stream: state is reset before and after.
   */
  async speechProbabilities(samples: Float32Array): Promise<Float32Array> {
    this.reset();
    try {
      return await detectorProbabilities(this, samples);
    } finally {
      this.reset();
    }
  }
}
