import type { ClipFeedback, EnrolmentResult } from "../enrolment/enroller.js";
import type { Sample, Speaker } from "../registry/schema.js";

/** A speaker as the API shows it: no voiceprints (large, and biometric), no file paths. */
export interface SpeakerView {
  id: string;
  name: string;
  /** The speaker's threshold override for the running encoder, null for the default. */
  threshold: number | null;
  /** Overrides for every encoder model (scales differ by model). */
  thresholds: Record<string, number>;
  /** Has at least one voiceprint of the running model, i.e. can be identified. */
  enrolled: boolean;
  sampleCount: number;
  speechSeconds: number;
  createdAt: string;
  updatedAt: string;
  samples: SampleView[];
}

export interface SampleView {
  id: string;
  createdAt: string;
  source: string;
  speechSeconds: number;
  durationSeconds: number;
  /** The WAV was kept (so it can be re-embedded for another model). */
  hasClip: boolean;
  /** Model ids this sample has a voiceprint for. */
  models: string[];
}

export function sampleView(sample: Sample): SampleView {
  return {
    id: sample.id,
    createdAt: sample.createdAt,
    source: sample.source,
    speechSeconds: sample.speechSeconds,
    durationSeconds: sample.durationSeconds,
    hasClip: sample.clip !== undefined,
    models: Object.keys(sample.voiceprints),
  };
}

export function speakerView(speaker: Speaker, modelId: string): SpeakerView {
  return {
    id: speaker.id,
    name: speaker.name,
    threshold: speaker.thresholds?.[modelId] ?? null,
    thresholds: { ...speaker.thresholds },
    enrolled: speaker.samples.some((s) => s.voiceprints[modelId] !== undefined),
    sampleCount: speaker.samples.length,
    speechSeconds: speaker.samples.reduce((sum, s) => sum + s.speechSeconds, 0),
    createdAt: speaker.createdAt,
    updatedAt: speaker.updatedAt,
    samples: speaker.samples.map(sampleView),
  };
}

export interface EnrolmentView {
  speaker: SpeakerView;
  /** Feedback per uploaded clip, in upload order. */
  samples: ClipFeedback[];
}

export function enrolmentView(result: EnrolmentResult, modelId: string): EnrolmentView {
  return { speaker: speakerView(result.speaker, modelId), samples: result.clips };
}
