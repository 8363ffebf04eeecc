/**
 * Voices nobody enrolled, grouped as their turns come (pure: no I/O). A turn joins the kept voice whose
 * centroid it is closest to when it is as close as a person must be to be named, or begins a new voice; a
 * voice that comes as close to another is merged into the older one, so ids stay stable.
 */
import { cosineSpread } from "../identify/voice-change.js";
import { centroidOf, cosine } from "../registry/matcher.js";

/** One ended turn of a voice nobody enrolled. */
export interface KeptTurn {
  /** Unique within the store: names the turn's clip file. */
  key: string;
  /** When the turn ended (ISO 8601). */
  at: string;
  room: string;
  speechSeconds: number;
  durationSeconds: number;
  voiceprint: Float32Array;
  /** The clip's file name (with unknownVoices.keepClips), or null. */
  clip: string | null;
}

export interface KeptVoice {
  /** "voice-3": stable while the voice is kept. */
  id: string;
  createdAt: string;
  ignored: boolean;
  /** What the household calls an ignored voice ("TV"), or null. */
  label: string | null;
  /** Oldest first (a merge keeps the order). */
  turns: KeptTurn[];
}

export interface VoiceGroupingPolicy {
  /** A turn joins a voice (and two voices merge) at this cosine to its centroid or more. */
  join: number;
}

/** How much closer than naming a person asks a turn must be to join a voice (see voiceGroupingPolicy). */
export const JOIN_ABOVE_THRESHOLD = 0.02;

/**
 * Joining a voice asks a little more than naming a person: the encoder's threshold plus 0.02 (0.84 for
 * Resemblyzer). `npm run bench:voices -- --calibrate` (seeds 101-103, 10 min each) chose it: the fewest
 * voices per visitor among the thresholds that keep purity >= 95 % dry and room (room purity 92.4 % at
 * 0.82, 98.4 % at 0.84 with 1.06 voices per visitor). Other encoders take the same offset widened by
 * their spread (cosineSpread).
 */
export function voiceGroupingPolicy(defaultThreshold: number, modelId: string): VoiceGroupingPolicy {
  return { join: defaultThreshold + JOIN_ABOVE_THRESHOLD * cosineSpread(modelId) };
}

export const VOICE_ID_PATTERN = /^voice-[1-9][0-9]{0,8}$/;

export function voiceNumber(id: string): number {
  return Number(id.slice("voice-".length));
}

export function voiceCentroid(voice: KeptVoice): Float32Array | null {
  return centroidOf(voice.turns.map((t) => t.voiceprint));
}

/** Mean cosine of the voice's turns to its centroid (1 for a single turn); null without turns. */
export function voiceConsistency(voice: KeptVoice): number | null {
  const centroid = voiceCentroid(voice);
  if (!centroid) return null;
  let sum = 0;
  for (const t of voice.turns) sum += cosine(t.voiceprint, centroid);
  return sum / voice.turns.length;
}

/** The voice this voiceprint joins (the nearest at `join` or more), among those `eligible`, or null. */
export function nearestVoice(
  voices: readonly KeptVoice[],
  voiceprint: Float32Array,
  policy: VoiceGroupingPolicy,
  eligible: (voice: KeptVoice) => boolean = (v) => !v.ignored,
): KeptVoice | null {
  let best: KeptVoice | null = null;
  let bestScore = policy.join;
  for (const voice of voices) {
    if (!eligible(voice)) continue;
    const centroid = voiceCentroid(voice);
    if (!centroid) continue;
    const score = cosine(voiceprint, centroid);
    if (score >= bestScore) {
      best = voice;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Adds a turn to the voices: joins its nearest voice or begins `newId`, then merges into that voice every
 * other (not ignored) voice now as close to it. A merge keeps the older id. Returns the turn's voice.
 */
export function groupTurn(
  voices: KeptVoice[],
  turn: KeptTurn,
  policy: VoiceGroupingPolicy,
  newId: () => string,
): KeptVoice {
  let voice: KeptVoice | null = nearestVoice(voices, turn.voiceprint, policy);
  if (!voice) {
    voice = { id: newId(), createdAt: turn.at, ignored: false, label: null, turns: [] };
    voices.push(voice);
  }
  voice.turns.push(turn);
  for (;;) {
    const centroid = voiceCentroid(voice)!;
    const joined: KeptVoice = voice;
    const other = nearestVoice(voices, centroid, policy, (v) => v !== joined && !v.ignored);
    if (!other) return joined;
    const [keep, gone]: [KeptVoice, KeptVoice] =
      voiceNumber(other.id) < voiceNumber(joined.id) ? [other, joined] : [joined, other];
    keep.turns = [...keep.turns, ...gone.turns].sort((a, b) => a.at.localeCompare(b.at));
    if (gone.createdAt < keep.createdAt) keep.createdAt = gone.createdAt;
    voices.splice(voices.indexOf(gone), 1);
    voice = keep;
  }
}
