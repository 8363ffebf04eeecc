import { access } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { modelFilePath } from "../models/paths.js";
import { SILERO_CONTEXT_SAMPLES } from "../models/silero-sequence.js";
import type { Logger } from "../util/log.js";
import { silentLogger } from "../util/log.js";
import { VAD_WINDOW_SAMPLES, type VoiceActivityDetector } from "./detector.js";
import { VadModelMissingError, VadUsageError } from "./errors.js";

const STATE_SIZE = 2 * 1 * 128;
const SPAN = SILERO_CONTEXT_SAMPLES + VAD_WINDOW_SAMPLES;
/** Windows per call when a whole clip is judged at once (about 33 s: a bounded buffer, short calls). */
const CLIP_CHUNK_WINDOWS = 1024;

/** The runnable Silero VAD in a models directory (converted from the pinned silero_vad.onnx at fetch). */
export function sileroModelPath(modelsDir: string): string {
  return modelFilePath(modelsDir, "silero-vad-v5", "silero_vad_sequence.onnx");
}

export interface SileroVadOptions {
  /** Path to silero_vad_sequence.onnx (convertSileroToSequence of Silero v5; see sileroModelPath). */
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
 * Silero VAD v5 on onnxruntime-node: one 512-sample window (32 ms at 16 kHz) per process() call, or a
 * whole clip per speechProbabilities() call (convertSileroToSequence: the network over many windows).
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
    const input = new Float32Array(SPAN);
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
        windows: new ort.Tensor("float32", input, [1, SPAN]),
        state: new ort.Tensor("float32", stateIn, [2, 1, 128]),
      },
      fetches: {
        probabilities: new ort.Tensor("float32", output, [1]),
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
    clearStream(this.run);
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
      clearStream(run);
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
   * One probability per 512-sample window of `samples`, the last partial window zero-padded, as
   * process() would give them window by window, in a few calls. Treats `samples` as a new stream:
   * state is reset before and after.
   */
  async speechProbabilities(samples: Float32Array): Promise<Float32Array> {
    const run = this.run;
    if (!run)
      throw new VadUsageError("SileroVad.speechProbabilities() called before start() (or after stop())");
    if (this.inflight)
      throw new VadUsageError("SileroVad.speechProbabilities() called while a window is running");
    const windows = Math.ceil(samples.length / VAD_WINDOW_SAMPLES);
    const probabilities = new Float32Array(windows);
    const rows = new Float32Array(Math.min(windows, CLIP_CHUNK_WINDOWS) * SPAN);
    const state = new Float32Array(STATE_SIZE);
    const pending = (async () => {
      for (let first = 0; first < windows; first += CLIP_CHUNK_WINDOWS) {
        const count = Math.min(CLIP_CHUNK_WINDOWS, windows - first);
        // Row t: the 64 samples before window first + t (zeros before the clip), then the window.
        rows.fill(0);
        for (let t = 0; t < count; t++) {
          const begin = (first + t) * VAD_WINDOW_SAMPLES;
          const from = Math.max(0, begin - SILERO_CONTEXT_SAMPLES);
          const to = Math.min(samples.length, begin + VAD_WINDOW_SAMPLES);
          rows.set(samples.subarray(from, to), t * SPAN + (from - (begin - SILERO_CONTEXT_SAMPLES)));
        }
        const out = await run.session.run({
          windows: new ort.Tensor("float32", rows.subarray(0, count * SPAN), [count, SPAN]),
          state: new ort.Tensor("float32", state, [2, 1, 128]),
        });
        probabilities.set(out.probabilities.data as Float32Array, first);
        state.set(out.stateN.data as Float32Array);
      }
    })();
    this.inflight = pending;
    try {
      await pending;
    } finally {
      this.inflight = null;
      this.resetRequested = false;
      clearStream(run);
    }
    return probabilities;
  }
}

/** A new stream: no context before the next window, no recurrent state. */
function clearStream(run: RunBuffers): void {
  run.input.fill(0);
  run.stateIn.fill(0);
}
