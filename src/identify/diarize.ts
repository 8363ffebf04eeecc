import type { SpeechPipelineOptions } from "../daemon/speech-pipeline.js";
import { SpeechPipeline } from "../daemon/speech-pipeline.js";
import { NoSpeechError, SAMPLE_RATE, type VoiceprintExtractor } from "../embedding/voiceprint.js";
import { cosine } from "../registry/matcher.js";
import type { Decision, DecisionReason } from "./decision.js";

/** One stretch of the timeline: who spoke from `start` to `end` (seconds). */
export interface DiarizedTurn {
  start: number;
  end: number;
  /** An enrolled person's id, or "unknown-1", "unknown-2", ... for voices nobody enrolled. */
  label: string;
  /** The enrolled person's display name, or null. */
  speaker: string | null;
  speakerId: string | null;
  /** Why nobody was named (null when named). */
  reason: DecisionReason | null;
  score: number | null;
}

/** Unknown voices at least this similar (cosine of their turns' voiceprints) are taken for one person. */
export const SAME_UNKNOWN_VOICE = 0.75;

export type DiarizeOptions = Omit<SpeechPipelineOptions, "onDecision">;

/**
 * Who spoke when in a recording: the daemon's speech path over the whole file (VAD, windows, speaker
 * tracker), then the turns nobody enrolled is named in grouped by voice (average-linkage clustering of
 * their voiceprints), so two different strangers stay apart as unknown-1 and unknown-2.
 */
export async function diarize(
  samples: Float32Array,
  options: DiarizeOptions,
  extractor: VoiceprintExtractor,
): Promise<DiarizedTurn[]> {
  const decisions: Decision[] = [];
  const pipeline = new SpeechPipeline({
    ...options,
    // Offline: every window is judged; the quiet gate only saves a live daemon's idle CPU.
    quietGate: false,
    idleBatchSamples: 0,
    onDecision: (d) => decisions.push(d),
  });
  await pipeline.start();
  const chunk = 16_384;
  for (let i = 0; i < samples.length; i += chunk) await pipeline.accept(samples.subarray(i, i + chunk));
  await pipeline.stop();
  const turns = decisions
    .filter((d) => d.type === "stopped" && d.reason !== "too_short")
    .map((d) => ({
      start: d.startS,
      end: d.startS + d.durationS,
      label: d.speakerId ?? "",
      speaker: d.speaker,
      speakerId: d.speakerId,
      reason: d.reason,
      score: d.score,
    }));
  const unknown = turns.filter((t) => t.speakerId === null);
  const voiceprints: (Float32Array | null)[] = [];
  for (const t of unknown) {
    const audio = samples.subarray(Math.round(t.start * SAMPLE_RATE), Math.round(t.end * SAMPLE_RATE));
    voiceprints.push(
      await extractor.fromSamples(audio).then(
        (v) => v.embedding,
        (err: unknown) => {
          if (err instanceof NoSpeechError) return null;
          throw err;
        },
      ),
    );
  }
  const clusters = clusterVoices(voiceprints, SAME_UNKNOWN_VOICE);
  unknown.forEach((t, i) => {
    t.label = `unknown-${clusters[i] + 1}`;
  });
  return turns;
}

/**
 * Average-linkage agglomerative clustering by cosine: merges the two most similar groups while their
 * mean pairwise similarity reaches `minSimilarity`. Returns a group number per item, numbered by first
 * appearance; an item without a voiceprint is a group of its own.
 */
export function clusterVoices(
  voiceprints: readonly (Float32Array | null)[],
  minSimilarity: number,
): number[] {
  let groups: number[][] = voiceprints.map((_, i) => [i]);
  const similarity = (a: number[], b: number[]): number => {
    let sum = 0;
    for (const i of a) {
      for (const j of b) {
        const vi = voiceprints[i];
        const vj = voiceprints[j];
        if (!vi || !vj) return Number.NEGATIVE_INFINITY;
        sum += cosine(vi, vj);
      }
    }
    return sum / (a.length * b.length);
  };
  for (;;) {
    let best = Number.NEGATIVE_INFINITY;
    let pair: [number, number] | null = null;
    for (let a = 0; a < groups.length; a++) {
      for (let b = a + 1; b < groups.length; b++) {
        const s = similarity(groups[a], groups[b]);
        if (s > best) {
          best = s;
          pair = [a, b];
        }
      }
    }
    if (!pair || best < minSimilarity) break;
    const [a, b] = pair;
    groups[a] = [...groups[a], ...groups[b]];
    groups = groups.filter((_, k) => k !== b);
  }
  const out = new Array<number>(voiceprints.length);
  groups
    .sort((x, y) => Math.min(...x) - Math.min(...y))
    .forEach((group, n) => {
      for (const i of group) out[i] = n;
    });
  return out;
}
