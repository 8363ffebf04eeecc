/** Pure scoring functions: cosine similarity, centroid maths, open-set matching, enrolment consistency. */

export type Vector = ArrayLike<number>;

/** Cosine similarity in [-1, 1]; 0 when either vector has zero length. Throws on mismatched dimensions. */
export function cosine(a: Vector, b: Vector): number {
  if (a.length !== b.length) {
    throw new RangeError(`cannot compare vectors of different dimensions (${a.length} vs ${b.length})`);
  }
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  if (normA === 0 || normB === 0) return 0;
  const score = dot / Math.sqrt(normA * normB);
  // Rounding can push parallel vectors a hair past 1.
  return Math.min(1, Math.max(-1, score));
}

/**
 * Mean of `vectors`, L2-normalised (Resemblyzer's speaker embedding: mean of utterance embeddings, then
 * normalise). Null for no vectors or a zero mean. Throws on mismatched dimensions.
 */
export function centroidOf(vectors: readonly Vector[]): Float32Array | null {
  if (vectors.length === 0) return null;
  const dim = vectors[0].length;
  const sum = new Float64Array(dim);
  for (const v of vectors) {
    if (v.length !== dim) {
      throw new RangeError(`cannot average vectors of different dimensions (${dim} vs ${v.length})`);
    }
    for (let i = 0; i < dim; i++) sum[i] += v[i];
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += sum[i] * sum[i];
  if (norm === 0) return null;
  const inv = 1 / Math.sqrt(norm);
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = sum[i] * inv;
  return out;
}

export interface MatchCandidate {
  id: string;
  name: string;
  /** The centroid of their enrolled voiceprints. */
  centroid: Vector;
  /**
   * How they sound elsewhere (their clips in simulated rooms, the room as learned), each scored less its
   * `penalty`: a score is the best of the centroid and these.
   */
  alternates?: readonly AlternateCentroid[];
  /** Per-speaker override of the default threshold. */
  threshold?: number;
  /**
   * A voice the household ignores (the TV), not a person: matched like one so its turns are recognised,
   * but never named (see src/voices/).
   */
  ignored?: boolean;
}

export interface AlternateCentroid {
  kind: "simulated" | "learned";
  centroid: Vector;
  /** Subtracted from its cosine: simulated rooms bring everyone's voice closer together. */
  penalty: number;
}

/** A voiceprint's score against a candidate: the best of their centroid and alternates (less penalties). */
export function candidateScore(voiceprint: Vector, candidate: MatchCandidate): number {
  let score = cosine(voiceprint, candidate.centroid);
  for (const alternate of candidate.alternates ?? []) {
    score = Math.max(score, cosine(voiceprint, alternate.centroid) - alternate.penalty);
  }
  return score;
}

export interface SpeakerRef {
  id: string;
  name: string;
}

/**
 * Why a voiceprint names nobody: below the threshold (or nobody to compare with), or too close to a
 * runner-up. The decision reasons of live identification (src/identify/decision.ts) extend these.
 */
export const MATCH_REASONS = ["unknown", "uncertain"] as const;
export type MatchReason = (typeof MATCH_REASONS)[number];

export interface MatchResult {
  /** The identified speaker, or null (see `reason`). Never the nearest speaker when below its threshold. */
  speaker: SpeakerRef | null;
  /** Best cosine over all candidates; null when there are none. */
  score: number | null;
  /**
   * Best minus runner-up cosine; null when there is no runner-up (zero or one candidate), because with a
   * single enrolled speaker there is nothing to be confused with.
   */
  margin: number | null;
  /** Cosine per candidate, keyed by display name (names are unique in the registry). */
  scores: Record<string, number>;
  /** Threshold applied to the best candidate (its override, else the default). */
  threshold: number;
  /** Best-scoring candidate regardless of threshold; null when there are none. */
  nearest: SpeakerRef | null;
  /** null when identified; "unknown": below threshold, or nobody to compare with (score null);
   * "uncertain": above threshold but the runner-up is closer than `minMargin`. */
  reason: MatchReason | null;
}

/**
 * Open-set identification: the best candidate is the speaker iff its score >= its threshold (inclusive),
 * and, when `minMargin` is given and there is a runner-up, best - runnerUp >= minMargin.
 * Ties keep the earlier candidate.
 */
export function matchVoiceprint(
  voiceprint: Vector,
  candidates: readonly MatchCandidate[],
  defaultThreshold: number,
  minMargin?: number,
): MatchResult {
  if (!Number.isFinite(defaultThreshold)) {
    throw new RangeError(`default threshold must be a finite number, got ${defaultThreshold}`);
  }
  if (minMargin !== undefined && !(Number.isFinite(minMargin) && minMargin >= 0)) {
    throw new RangeError(`minMargin must be a non-negative number, got ${minMargin}`);
  }
  const scores: Record<string, number> = {};
  let best: MatchCandidate | null = null;
  let bestScore = Number.NEGATIVE_INFINITY;
  let secondScore: number | null = null;
  for (const candidate of candidates) {
    const score = candidateScore(voiceprint, candidate);
    scores[candidate.name] = score;
    if (best === null || score > bestScore) {
      if (best !== null) secondScore = bestScore;
      best = candidate;
      bestScore = score;
    } else if (secondScore === null || score > secondScore) {
      secondScore = score;
    }
  }
  if (best === null) {
    return {
      speaker: null,
      score: null,
      margin: null,
      scores,
      threshold: defaultThreshold,
      nearest: null,
      reason: "unknown",
    };
  }
  const nearest = { id: best.id, name: best.name };
  const threshold = best.threshold ?? defaultThreshold;
  const margin = secondScore === null ? null : bestScore - secondScore;
  let reason: MatchReason | null = null;
  if (bestScore < threshold) reason = "unknown";
  else if (minMargin !== undefined && margin !== null && margin < minMargin) reason = "uncertain";
  return {
    speaker: reason === null ? nearest : null,
    score: bestScore,
    margin,
    scores,
    threshold,
    nearest,
    reason,
  };
}

/** Below this mean cosine to a speaker's other samples, a new Resemblyzer sample probably is someone else. */
export const DEFAULT_CONSISTENCY_BOUND = 0.75;

export interface ConsistencyReport {
  /** Number of other samples compared against. */
  count: number;
  /** Mean / min cosine to the other samples; null when there are none. */
  mean: number | null;
  min: number | null;
  bound: number;
  /** True when the mean is below `bound`: "this clip looks like a different voice". */
  suspicious: boolean;
}

/** Enrolment feedback: how well a new voiceprint agrees with the speaker's existing ones. */
export function consistency(
  voiceprint: Vector,
  otherVoiceprints: readonly Vector[],
  bound = DEFAULT_CONSISTENCY_BOUND,
): ConsistencyReport {
  if (otherVoiceprints.length === 0) {
    return { count: 0, mean: null, min: null, bound, suspicious: false };
  }
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  for (const other of otherVoiceprints) {
    const score = cosine(voiceprint, other);
    sum += score;
    min = Math.min(min, score);
  }
  const mean = sum / otherVoiceprints.length;
  return { count: otherVoiceprints.length, mean, min, bound, suspicious: mean < bound };
}
