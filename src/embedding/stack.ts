import { modelFilePath } from "../models/paths.js";
import type { Component } from "../util/lifecycle.js";
import { type Logger, silentLogger } from "../util/log.js";
import { SileroVad } from "../vad/silero.js";
import type { SpeakerEncoder } from "./encoder.js";
import { createEncoder } from "./factory.js";
import { VoiceprintExtractor } from "./voiceprint.js";

export interface ModelStackOptions {
  modelsDir: string;
  /** Encoder model id (config identification.encoder). */
  encoder: string;
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
    this.encoder = createEncoder(options.encoder, { modelsDir: options.modelsDir });
    this.clipVad = this.vad();
    this.extractor = new VoiceprintExtractor(this.encoder, this.clipVad);
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
      modelPath: modelFilePath(this.options.modelsDir, "silero-vad-v5", "silero_vad.onnx"),
      logger: (this.options.logger ?? silentLogger).child("vad"),
    });
  }
}
