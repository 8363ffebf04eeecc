import { isCloseTalk } from "../audio/volume.js";
import { AudioTooLongError, decodeWavAs16kMono, WavFormatError } from "../audio/wav.js";
import { NoSpeechError, type Voiceprint, type VoiceprintExtractor } from "../embedding/voiceprint.js";
import { SpeakerNotFoundError } from "../registry/errors.js";
import { consistency, type MatchReason, type Vector } from "../registry/matcher.js";
import type { SampleSource, SpeakerRegistry } from "../registry/registry.js";
import type { SimulatedVoiceprint, Speaker } from "../registry/schema.js";
import { AsyncMutex } from "../util/mutex.js";
import { ClipError, NoClipsError } from "./errors.js";
import { Identifier } from "./identifier.js";
import { simulatedRoomVoiceprint } from "./room-voiceprints.js";

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
  /** Also keep each clip's voiceprint as heard in simulated rooms (default on). */
  simulateRooms?: boolean;
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
  /** Clean, close to the microphone (a phone, a headset, a studio file): unlike a room microphone. */
  closeTalk: boolean;
  /** Voiceprints of the clip as heard in simulated rooms (0 when simulation is off). */
  simulatedRooms: number;
  warnings: string[];
  /** Advice that is not a problem with the clip. */
  hints: string[];
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
/** Resemblyzer's default (models/manifest.json), for callers that do not pass the running encoder's. */
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
  private readonly simulateRooms: boolean;
  /** Decoding and embedding of uploaded clips, one at a time. */
  private readonly clipWork = new AsyncMutex();

  constructor(
    private readonly registry: SpeakerRegistry,
    private readonly extractor: VoiceprintExtractor,
    options: EnrollerOptions = {},
  ) {
    this.minSpeechSeconds = options.minSpeechSeconds ?? DEFAULT_MIN_SPEECH_SECONDS;
    this.consistencyWarning = options.consistencyWarning ?? DEFAULT_CONSISTENCY_WARNING;
    this.keepClips = options.keepClips ?? true;
    this.simulateRooms = options.simulateRooms ?? true;
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
   * Adds every clip as a sample of the speaker, in one registry commit: all clips or none. Clips are
   * decoded and embedded one at a time (one upload at a time daemon-wide, so uploads never crowd out live
   * detection); a clip that fails throws a ClipError naming it and nothing is written.
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

    const prepared: PreparedClip[] = [];
    for (const [index, clip] of clips.entries()) {
      try {
        prepared.push(await this.prepare(clip.bytes, options.maxClipSeconds));
      } catch (err) {
        // Only problems of the clip itself name the clip; anything else (a model failure) is not the user's.
        if (isClipProblem(err)) throw new ClipError(index, clips.length, clip.name, err);
        throw err;
      }
    }

    const modelId = this.extractor.modelId;
    const target = existing ? { speaker: existing.id } : { createNamed: speakerIdOrName };
    const { speaker, created, samples } = await this.registry.addSamples(
      target,
      clips.map((clip, index) => ({
        voiceprints: { [modelId]: prepared[index].voiceprint.embedding },
        speechSeconds: prepared[index].voiceprint.speechSeconds,
        durationSeconds: prepared[index].voiceprint.durationSeconds,
        source: clip.source,
        ...(prepared[index].simulated ? { simulated: { [modelId]: prepared[index].simulated } } : {}),
        ...(this.keepClips ? { clipWav: clip.bytes } : {}),
      })),
    );
    // Earlier samples of this model: the stored ones, then each clip of this batch in order.
    const batch = new Set(samples.map((s) => s.id));
    const earlier: Vector[] = speaker.samples.flatMap((s) =>
      !batch.has(s.id) && s.voiceprints[modelId] ? [s.voiceprints[modelId]] : [],
    );
    const feedback = clips.map((clip, index) => {
      const item = this.feedbackFor(samples[index].id, speaker.id, clip, prepared[index], earlier);
      earlier.push(prepared[index].voiceprint.embedding);
      return item;
    });
    return { speaker, created, clips: feedback };
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

  private voiceprintOf(bytes: Uint8Array, maxSeconds: number | undefined): Promise<Voiceprint> {
    return this.clipWork.run(async () => {
      const samples = await decodeWavAs16kMono(bytes, { maxSeconds });
      return this.extractor.fromSamples(samples, { trim: true });
    });
  }

  /** A clip's voiceprint, its simulated rooms' and whether it was recorded close-talk. */
  private prepare(bytes: Uint8Array, maxSeconds: number | undefined): Promise<PreparedClip> {
    return this.clipWork.run(async () => {
      const samples = await decodeWavAs16kMono(bytes, { maxSeconds });
      const { speech, voiceprint } = await this.extractor.speechAndVoiceprint(samples);
      const simulated = this.simulateRooms
        ? await simulatedRoomVoiceprint(this.extractor, speech)
        : undefined;
      return { voiceprint, simulated, closeTalk: isCloseTalk(samples) };
    });
  }

  private feedbackFor(
    sampleId: string,
    speakerId: string,
    clip: EnrolmentClip,
    prepared: PreparedClip,
    earlier: readonly Vector[],
  ): ClipFeedback {
    const vp = prepared.voiceprint;
    const warnings: string[] = [];
    const hints: string[] = [];
    if (prepared.closeTalk && clip.source !== "microphone") {
      hints.push(
        "recorded close to the microphone: voiceid also simulates how it sounds across a room, but one " +
          "sample through the daemon's own microphone helps most (\"Record from the daemon's microphone\" on " +
          `the page, or POST /api/speakers/${speakerId}/record)`,
      );
    }
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
      closeTalk: prepared.closeTalk,
      simulatedRooms: prepared.simulated?.rooms ?? 0,
      warnings,
      hints,
    };
  }
}

interface PreparedClip {
  voiceprint: Voiceprint;
  simulated: SimulatedVoiceprint | undefined;
  closeTalk: boolean;
}

function isClipProblem(err: unknown): boolean {
  return err instanceof WavFormatError || err instanceof NoSpeechError || err instanceof AudioTooLongError;
}
