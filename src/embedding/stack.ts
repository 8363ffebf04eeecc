import { configuredThreshold, type VoiceidConfig } from "../config/schema.js";
import type { EncoderChoice } from "../hardware/choose.js";
import { selectEncoderFor } from "../hardware/encoder-selection.js";
import { resolveModelsDir } from "../models/paths.js";
import type { Component } from "../util/lifecycle.js";
import { type Logger, silentLogger } from "../util/log.js";
import { SileroVad, sileroModelPath } from "../vad/silero.js";
import type { SpeakerEncoder } from "./encoder.js";
import { createEncoder } from "./factory.js";
import { OnDemandEncoder } from "./on-demand.js";
import type { ExecutionProvider } from "./onnx-session.js";
import { VoiceprintExtractor } from "./voiceprint.js";

/** The speaker encoder in use, where it runs and why it was chosen (/health, /metrics, the logs). */
export interface EncoderReport {
  model: string;
  provider: ExecutionProvider;
  reason: string;
}

export interface ModelStackOptions {
  modelsDir: string;
  /** Encoder model id (chosen by selectEncoder for config identification.encoder). */
  encoder: string;
  /** Configured threshold for this encoder; unset = the encoder's default. */
  threshold?: number;
  executionProvider?: ExecutionProvider;
  /** Why this encoder runs, for /health and the logs. */
  choice?: EncoderChoice;
  /**
   * Keep the encoder in memory only while it is used, letting it go after this many ms without a
   * voiceprint (OnDemandEncoder; the daemon). Unset: loaded from start() to stop() (commands).
   */
  releaseEncoderAfterMs?: number;
  /** Utterances of long-run encoders in a worker thread (default; the daemon), or not (commands). */
  utteranceWorker?: boolean;
  logger?: Logger;
}

/**
 * The models voiceid runs, built in one place for the daemon, the command line and the tests: the
 * speaker encoder, and Silero VAD for trimming clips (offline) or following a stream (live; each stream
 * needs its own, since the VAD carries state).
 */
export class ModelStack implements Component {
  readonly encoder: SpeakerEncoder;
  /** Trims enrolment and identification clips; started on first use (a daemon that never enrols never pays). */
  readonly clipVad: SileroVad;
  /** WAV or samples to voiceprint, as Resemblyzer's preprocess + embed_utterance. */
  readonly extractor: VoiceprintExtractor;
  private readonly streams: SileroVad[] = [];

  constructor(private readonly options: ModelStackOptions) {
    const encoder = createEncoder(options.encoder, {
      modelsDir: options.modelsDir,
      executionProvider: options.executionProvider,
      utteranceWorker: options.utteranceWorker,
      logger: options.logger?.child("encoder"),
    });
    this.encoder =
      options.releaseEncoderAfterMs === undefined
        ? encoder
        : new OnDemandEncoder(encoder, options.releaseEncoderAfterMs, options.logger?.child("encoder"));
    this.clipVad = this.vad();
    this.extractor = new VoiceprintExtractor(this.encoder, this.clipVad);
  }

  /** The threshold to name a person without an override of their own: configured, else the encoder's. */
  get defaultThreshold(): number {
    return this.options.threshold ?? this.encoder.defaultThreshold;
  }

  get encoderReport(): EncoderReport {
    return {
      model: this.encoder.modelId,
      provider: this.encoder.provider,
      reason: this.options.choice?.reason ?? "",
    };
  }

  /** A VAD for a live stream, stopped with the stack. Start it before use. */
  streamVad(): SileroVad {
    const vad = this.vad();
    this.streams.push(vad);
    return vad;
  }

  async start(): Promise<void> {
    await this.encoder.start();
  }

  async stop(): Promise<void> {
    for (const vad of this.streams) await vad.stop();
    await this.clipVad.stop();
    await this.encoder.stop();
  }

  private vad(): SileroVad {
    return new SileroVad({
      modelPath: sileroModelPath(this.options.modelsDir),
      logger: (this.options.logger ?? silentLogger).child("vad"),
    });
  }
}

/**
 * The stack a configuration asks for: the encoder chosen for this machine (cached), its threshold; for
 * the daemon (`forDaemon`), an encoder let go while idle as `hardware.releaseEncoderAfterSeconds` says,
 * and utterances in a worker thread (a command has no event loop to keep free).
 */
export async function createModelStack(
  config: VoiceidConfig,
  logger: Logger,
  { forDaemon = false } = {},
): Promise<ModelStack> {
  const selection = await selectEncoderFor(config, logger.child("hardware"));
  const encoder = selection.choice.encoder;
  return new ModelStack({
    modelsDir: config.modelsDir ?? resolveModelsDir(),
    encoder,
    threshold: configuredThreshold(config.identification, encoder),
    executionProvider: selection.executionProvider,
    choice: selection.choice,
    // On a GPU it stays loaded: a CUDA session takes seconds to create, and memory is not what is short.
    releaseEncoderAfterMs:
      forDaemon && config.hardware.releaseEncoderAfterSeconds > 0 && selection.executionProvider !== "cuda"
        ? config.hardware.releaseEncoderAfterSeconds * 1000
        : undefined,
    utteranceWorker: forDaemon,
    logger,
  });
}
