import type { ClipFeedback, EnrolmentResult } from "../enrolment/enroller.js";
import { centroidOf, consistency, cosine } from "../registry/matcher.js";
import type { LearnedVoiceprint, Sample, Speaker } from "../registry/schema.js";

/**
 * A speaker as the API shows it: how many voiceprints, never the vectors (large, and biometric); no
 * file paths.
 */
export interface SpeakerView {
  id: string;
  name: string;
  /** The speaker's threshold override for the running encoder, null for the default. */
  threshold: number | null;
  /** Overrides for every encoder model (scales differ by model). */
  thresholds: Record<string, number>;
  /** Has at least one voiceprint of the running model, i.e. can be identified. */
  enrolled: boolean;
  /** Mean cosine between the person's samples (running model); null with fewer than two. */
  consistency: number | null;
  /** What the running model identifies the person by. */
  voiceprints: VoiceprintCounts;
  /** When the newest learned voiceprint of the running model was learned; null when none. */
  learnedAt: string | null;
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
  /** Simulated rooms the running model heard this sample in (0 when none). */
  simulatedRooms: number;
}

/** A person's voiceprints of one model, by where they came from. */
export interface VoiceprintCounts {
  /** Samples with a voiceprint of the model. */
  enrolled: number;
  /** Rooms the samples were heard in by simulation, summed over the samples. */
  simulated: number;
  /** Learned by the daemon from turns it named with confidence. */
  learned: number;
}

export function voiceprintCounts(speaker: Speaker, modelId: string): VoiceprintCounts {
  return {
    enrolled: speaker.samples.filter((s) => s.voiceprints[modelId] !== undefined).length,
    simulated: speaker.samples.reduce((sum, s) => sum + (s.simulated?.[modelId]?.rooms ?? 0), 0),
    learned: learnedOf(speaker, modelId).length,
  };
}

function learnedOf(speaker: Speaker, modelId: string): LearnedVoiceprint[] {
  return (speaker.learned ?? []).filter((l) => l.modelId === modelId);
}

/** The newest createdAt of the model's learned voiceprints (parsed: the registry allows any offset). */
function newestLearned(speaker: Speaker, modelId: string): string | null {
  return learnedOf(speaker, modelId).reduce<string | null>(
    (newest, l) => (newest === null || Date.parse(l.createdAt) > Date.parse(newest) ? l.createdAt : newest),
    null,
  );
}

export function sampleView(sample: Sample, modelId: string): SampleView {
  return {
    id: sample.id,
    createdAt: sample.createdAt,
    source: sample.source,
    speechSeconds: sample.speechSeconds,
    durationSeconds: sample.durationSeconds,
    hasClip: sample.clip !== undefined,
    models: Object.keys(sample.voiceprints),
    simulatedRooms: sample.simulated?.[modelId]?.rooms ?? 0,
  };
}

export function speakerView(speaker: Speaker, modelId: string): SpeakerView {
  return {
    id: speaker.id,
    name: speaker.name,
    threshold: speaker.thresholds?.[modelId] ?? null,
    thresholds: { ...speaker.thresholds },
    enrolled: speaker.samples.some((s) => s.voiceprints[modelId] !== undefined),
    consistency: consistencyOf(speaker, modelId),
    voiceprints: voiceprintCounts(speaker, modelId),
    learnedAt: newestLearned(speaker, modelId),
    sampleCount: speaker.samples.length,
    speechSeconds: speaker.samples.reduce((sum, s) => sum + s.speechSeconds, 0),
    createdAt: speaker.createdAt,
    updatedAt: speaker.updatedAt,
    samples: speaker.samples.map((s) => sampleView(s, modelId)),
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

/**
 * How alike the speaker's voiceprints of `modelId` are: the mean over samples of each one's mean cosine to
 * the others (the enrolment feedback's figure), rounded; null with fewer than two.
 */
function consistencyOf(speaker: Speaker, modelId: string): number | null {
  const prints = speaker.samples.flatMap((s) => (s.voiceprints[modelId] ? [s.voiceprints[modelId]] : []));
  if (prints.length < 2) return null;
  const means = prints.map(
    (p, i) =>
      consistency(
        p,
        prints.filter((_, j) => j !== i),
      ).mean ?? 0,
  );
  return Math.round((means.reduce((a, b) => a + b, 0) / means.length) * 1000) / 1000;
}

/** What a person's threshold is set against: how their own samples and everyone else score. */
export interface ThresholdScoresView {
  /** The person's own threshold for the running model, null for the default. */
  threshold: number | null;
  defaultThreshold: number;
  /** Each sample against the mean of the person's other samples (empty with fewer than two). */
  own: { sampleId: string; score: number }[];
  /** Each other enrolled person's closest sample against this person's voiceprint. */
  others: { id: string; name: string; score: number }[];
}

export function thresholdScoresView(
  speaker: Speaker,
  everyone: readonly Speaker[],
  modelId: string,
  defaultThreshold: number,
): ThresholdScoresView {
  const printsOf = (s: Speaker) =>
    s.samples.flatMap((x) =>
      x.voiceprints[modelId] ? [{ sampleId: x.id, print: x.voiceprints[modelId] }] : [],
    );
  const mine = printsOf(speaker);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const own =
    mine.length < 2
      ? []
      : mine.map(({ sampleId, print }) => {
          const rest = centroidOf(mine.filter((m) => m.sampleId !== sampleId).map((m) => m.print));
          return { sampleId, score: rest === null ? 0 : round(cosine(print, rest)) };
        });
  const centroid = centroidOf(mine.map((m) => m.print));
  const others =
    centroid === null
      ? []
      : everyone
          .filter((s) => s.id !== speaker.id)
          .flatMap((s) => {
            const theirs = printsOf(s);
            if (theirs.length === 0) return [];
            const score = Math.max(...theirs.map((t) => cosine(t.print, centroid)));
            return [{ id: s.id, name: s.name, score: round(score) }];
          });
  return { threshold: speaker.thresholds?.[modelId] ?? null, defaultThreshold, own, others };
}
