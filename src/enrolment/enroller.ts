import { readWavAs16kMono, WavFormatError } from "../audio/wav.js";
import {
  NoSpeechError,
  SAMPLE_RATE,
  type Voiceprint,
  type VoiceprintExtractor,
} from "../embedding/voiceprint.js";
import { SpeakerExistsError, SpeakerNotFoundError } from "../registry/errors.js";
import { consistency, type MatchReason, type Vector } from "../registry/matcher.js";
import type { SampleSource, SpeakerRegistry } from "../registry/registry.js";
import type { Speaker } from "../registry/schema.js";
import { ClipError, ClipTooLongError, NoClipsError } from "./errors.js";
import { Identifier } from "./identifier.js";

export interface EnrollerOptions {
  /** Below this much speech (after silence trimming) a clip gets a warning; it is still enrolled. */
  minSpeechSeconds?: number;
  /** Below this mean cosine to the speaker's other samples a clip gets a "different voice" warning. */
  consistencyWarning?: number;
  /** Keep the WAV bytes next to the registry so samples can be re-embedded after a model change. */
  keepClips?: boolean;
  /** Match threshold for speakers without an override (the encoder's `defaultThreshold`). */
  defaultThreshold?: number;
  /** See IdentifierOptions.minMargin. */
  minMargin?: number;
  /** Reuse the daemon's identifier (and its cache); by default one is made for `extractor.modelId`. */
  identifier?: Identifier;
}

export interface EnrolmentClip {
  /** A WAV file. */
  bytes: Uint8Array;
  source: SampleSource;
  /** File name or other label, used in error messages and feedback. */
  name?: string;
}

export interface EnrolOptions {
  /** Create the speaker (with `speakerIdOrName` as its name) when it does not exist yet. */
  create?: boolean;
  /** Refuse clips longer than this (seconds of decoded audio). */
  maxClipSeconds?: number;
}

export interface ClipFeedback {
  sampleId: string;
  name?: string;
  speechSeconds: number;
  durationSeconds: number;
  /** Cosine to the speaker's earlier samples (stored ones and the earlier clips of this batch). */
  consistency: { mean: number; min: number } | null;
  warnings: string[];
}

export interface EnrolmentResult {
  /** The speaker after enrolment. */
  speaker: Speaker;
  created: boolean;
  clips: ClipFeedback[];
}

export interface Identification {
  /** Display name of the identified speaker, null when nobody matched. */
  speaker: string | null;
  speakerId: string | null;
  /** Best cosine, null when nobody is enrolled for this model. */
  score: number | null;
  margin: number | null;
  scores: Record<string, number>;
  threshold: number;
  /** null when identified; else why not. */
  reason: MatchReason | null;
  nearestSpeaker: string | null;
  nearestSpeakerId: string | null;
  speechSeconds: number;
  durationSeconds: number;
}

export const DEFAULT_MIN_SPEECH_SECONDS = 3;
export const DEFAULT_CONSISTENCY_WARNING = 0.75;
/** Resemblyzer's operating point; matches ResemblyzerEncoder.defaultThreshold. */
export const DEFAULT_MATCH_THRESHOLD = 0.82;

/**
 * Turns WAV clips into registry samples with feedback, and identifies who speaks in a WAV.
 * Shared by the CLI and the HTTP API.
 */
export class Enroller {
  readonly identifier: Identifier;
  private readonly minSpeechSeconds: number;
  private readonly consistencyWarning: number;
  private readonly keepClips: boolean;

  constructor(
    private readonly registry: SpeakerRegistry,
    private readonly extractor: VoiceprintExtractor,
    options: EnrollerOptions = {},
  ) {
    this.minSpeechSeconds = options.minSpeechSeconds ?? DEFAULT_MIN_SPEECH_SECONDS;
    this.consistencyWarning = options.consistencyWarning ?? DEFAULT_CONSISTENCY_WARNING;
    this.keepClips = options.keepClips ?? true;
    this.identifier =
      options.identifier ??
      new Identifier(registry, {
        modelId: extractor.modelId,
        defaultThreshold: options.defaultThreshold ?? DEFAULT_MATCH_THRESHOLD,
        minMargin: options.minMargin,
      });
  }

  get modelId(): string {
    return this.extractor.modelId;
  }

  /**
   * Adds every clip as a sample of the speaker. All clips are decoded and embedded first; a clip that
   * fails throws a ClipError naming it and nothing is written. Then samples are written one by one; if a
   * write fails, the samples already written by this call are removed again.
   */
  async enrol(
    speakerIdOrName: string,
    clips: readonly EnrolmentClip[],
    options: EnrolOptions = {},
  ): Promise<EnrolmentResult> {
    if (clips.length === 0) throw new NoClipsError();
    // Fail fast on an unknown speaker, before spending seconds of CPU on embeddings.
    const existing = this.registry.get(speakerIdOrName);
    if (!existing && !options.create) throw new SpeakerNotFoundError(speakerIdOrName);

    const voiceprints: Voiceprint[] = [];
    for (const [index, clip] of clips.entries()) {
      try {
        voiceprints.push(await this.voiceprintOf(clip.bytes, options.maxClipSeconds));
      } catch (err) {
        // Only problems of the clip itself name the clip; anything else (a model failure) is not the user's.
        if (isClipProblem(err)) throw new ClipError(index, clips.length, clip.name, err);
        throw err;
      }
    }

    let created = false;
    let speaker = existing ?? this.registry.get(speakerIdOrName);
    if (!speaker) {
      try {
        speaker = await this.registry.create(speakerIdOrName);
        created = true;
      } catch (err) {
        // A concurrent enrolment created it first: join it.
        const raced = err instanceof SpeakerExistsError ? this.registry.get(speakerIdOrName) : undefined;
        if (!raced) throw err;
        speaker = raced;
      }
    }
    const speakerId = speaker.id;
    const modelId = this.extractor.modelId;
    // Earlier samples of this model: the stored ones, then each clip of this batch as it is added.
    const earlier: Vector[] = speaker.samples.flatMap((s) =>
      s.voiceprints[modelId] ? [s.voiceprints[modelId]] : [],
    );

    const feedback: ClipFeedback[] = [];
    const written: string[] = [];
    try {
      for (const [index, clip] of clips.entries()) {
        const vp = voiceprints[index];
        const sample = await this.registry.addSample(speakerId, {
          voiceprints: { [modelId]: vp.embedding },
          speechSeconds: vp.speechSeconds,
          durationSeconds: vp.durationSeconds,
          source: clip.source,
          ...(this.keepClips ? { clipWav: clip.bytes } : {}),
        });
        written.push(sample.id);
        feedback.push(this.feedbackFor(sample.id, clip, vp, earlier));
        earlier.push(vp.embedding);
      }
    } catch (err) {
      await this.rollback(speakerId, written, created);
      throw err;
    }
    const after = this.registry.get(speakerId);
    if (!after) throw new SpeakerNotFoundError(speakerId);
    return { speaker: after, created, clips: feedback };
  }

  /** Who is speaking in a WAV, against the enrolled speakers' centroids for this model. */
  async identifyWav(bytes: Uint8Array, options: { maxClipSeconds?: number } = {}): Promise<Identification> {
    const vp = await this.voiceprintOf(bytes, options.maxClipSeconds);
    const match = this.identifier.identify(vp.embedding);
    return {
      speaker: match.speaker?.name ?? null,
      speakerId: match.speaker?.id ?? null,
      score: match.score,
      margin: match.margin,
      scores: match.scores,
      threshold: match.threshold,
      reason: match.reason,
      nearestSpeaker: match.nearest?.name ?? null,
      nearestSpeakerId: match.nearest?.id ?? null,
      speechSeconds: vp.speechSeconds,
      durationSeconds: vp.durationSeconds,
    };
  }

  private async voiceprintOf(bytes: Uint8Array, maxSeconds: number | undefined): Promise<Voiceprint> {
    const samples = readWavAs16kMono(bytes);
    const seconds = samples.length / SAMPLE_RATE;
    if (maxSeconds !== undefined && seconds > maxSeconds) throw new ClipTooLongError(seconds, maxSeconds);
    return this.extractor.fromSamples(samples, { trim: true });
  }

  private feedbackFor(
    sampleId: string,
    clip: EnrolmentClip,
    vp: Voiceprint,
    earlier: readonly Vector[],
  ): ClipFeedback {
    const warnings: string[] = [];
    if (vp.speechSeconds < this.minSpeechSeconds) {
      warnings.push(
        `too little speech: ${vp.speechSeconds.toFixed(1)} s, aim for at least ${this.minSpeechSeconds} s`,
      );
    }
    const report = consistency(vp.embedding, earlier, this.consistencyWarning);
    if (report.suspicious && report.mean !== null) {
      warnings.push(
        `this clip sounds like a different voice than the other samples (similarity ${report.mean.toFixed(2)})`,
      );
    }
    return {
      sampleId,
      ...(clip.name !== undefined ? { name: clip.name } : {}),
      speechSeconds: vp.speechSeconds,
      durationSeconds: vp.durationSeconds,
      consistency:
        report.mean !== null && report.min !== null ? { mean: report.mean, min: report.min } : null,
      warnings,
    };
  }

  /** Best effort: undo this call's writes so a failed batch leaves the registry as it was. */
  private async rollback(speakerId: string, sampleIds: readonly string[], created: boolean): Promise<void> {
    if (created) {
      await this.registry.remove(speakerId).catch(() => {});
      return;
    }
    for (const sampleId of sampleIds) await this.registry.removeSample(speakerId, sampleId).catch(() => {});
  }
}

function isClipProblem(err: unknown): boolean {
  return err instanceof WavFormatError || err instanceof NoSpeechError || err instanceof ClipTooLongError;
}
