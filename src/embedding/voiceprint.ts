import { normalizeVolume } from "../audio/volume.js";
import { readWavAs16kMono } from "../audio/wav.js";
import type { SileroVad } from "../vad/silero.js";
import { trimLongSilences } from "../vad/trim.js";
import type { SpeakerEncoder } from "./encoder.js";

export const SAMPLE_RATE = 16_000;

export interface Voiceprint {
  modelId: string;
  embedding: Float32Array;
  /** Seconds of speech the VAD found (the whole duration when trimming is off). */
  speechSeconds: number;
  durationSeconds: number;
}

/** Speech ready for the encoder: volume-normalised, long silences trimmed. */
export interface Speech {
  samples: Float32Array;
  speechSeconds: number;
  durationSeconds: number;
}

export class NoSpeechError extends Error {
  readonly code = "no_speech";
}

/**
 * The offline path from audio to voiceprint, as Resemblyzer's preprocess_wav + embed_utterance:
 * normalise to -30 dBFS (increase only), trim long silences with the VAD, encode.
 */
export class VoiceprintExtractor {
  // The VAD carries recurrent state, so utterances go through it one at a time.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly encoder: SpeakerEncoder,
    private readonly vad: Pick<SileroVad, "start" | "speechProbabilities">,
  ) {}

  get modelId(): string {
    return this.encoder.modelId;
  }

  fromWav(bytes: Uint8Array, options: { trim?: boolean } = {}): Promise<Voiceprint> {
    return this.fromSamples(readWavAs16kMono(bytes), options);
  }

  fromSamples(samples: Float32Array, options: { trim?: boolean } = {}): Promise<Voiceprint> {
    return this.serially(async () => this.encode(await this.preprocess(samples, options.trim ?? true)));
  }

  /**
   * A clip's voiceprint and the speech it was made of (volume-normalised, silences trimmed), for
   * voiceprints of the same speech as heard elsewhere (see `fromSpeech`).
   */
  speechAndVoiceprint(samples: Float32Array): Promise<{ speech: Speech; voiceprint: Voiceprint }> {
    return this.serially(async () => {
      const speech = await this.preprocess(samples, true);
      return { speech, voiceprint: await this.encode(speech) };
    });
  }

  /** The voiceprint of speech that is already preprocessed (as `speechAndVoiceprint` gives it). */
  fromSpeech(speech: Speech): Promise<Voiceprint> {
    return this.serially(() => this.encode(speech));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async preprocess(samples: Float32Array, trim: boolean): Promise<Speech> {
    const durationSeconds = samples.length / SAMPLE_RATE;
    let wav = normalizeVolume(samples, -30, { increaseOnly: true });
    let speechSeconds = durationSeconds;
    if (trim) {
      // Started on first use: a daemon that never enrols never pays for a second VAD session.
      await this.vad.start();
      const trimmed = await trimLongSilences(wav, this.vad);
      wav = trimmed.samples;
      speechSeconds = trimmed.speechSeconds;
    }
    if (wav.length < SAMPLE_RATE * 0.1) {
      throw new NoSpeechError(
        trim
          ? `no speech found in ${durationSeconds.toFixed(2)} s of audio`
          : `audio too short (${durationSeconds.toFixed(2)} s)`,
      );
    }
    return { samples: wav, speechSeconds, durationSeconds };
  }

  private async encode(speech: Speech): Promise<Voiceprint> {
    // Preprocessed already: normalised before trimming (trimming only raises the level), and simulated
    // rooms keep the level of the speech they were made from.
    const embedding = await this.encoder.embedUtterance(speech.samples);
    return {
      modelId: this.encoder.modelId,
      embedding,
      speechSeconds: speech.speechSeconds,
      durationSeconds: speech.durationSeconds,
    };
  }
}
