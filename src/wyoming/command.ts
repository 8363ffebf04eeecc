import type { Decision, DecisionReason } from "../identify/decision.js";

/** How the proxy treats a command's audio (wyoming.mode). */
export const WYOMING_MODES = ["pass", "gate", "extract"] as const;
export type WyomingMode = (typeof WYOMING_MODES)[number];

/** A stretch of the command, in seconds from its first sample. */
export interface Stretch {
  startS: number;
  endS: number;
}

/** Who gave a command, from the final ("stopped") decisions of its turns. */
export interface CommandVerdict {
  speakerId: string | null;
  speaker: string | null;
  /** Why nobody is named (the decision's reason enum); null when named. */
  reason: DecisionReason | null;
  score: number | null;
  /** The named person's turns (empty when nobody is named): what extract mode forwards. */
  stretches: Stretch[];
}

/**
 * One voice command as voiceid reports it (MQTT `command` event, the API and the web page): one type
 * from the proxy to every place that shows it.
 */
export interface VoiceCommand {
  /** Increments over the daemon's life. */
  id: number;
  /** ISO 8601 time of its audio-stop. */
  at: string;
  speakerId: string | null;
  speaker: string | null;
  reason: DecisionReason | null;
  score: number | null;
  /** Seconds of command audio received. */
  durationS: number;
  mode: WyomingMode;
  /** The audio went to the speech-to-text service (and its transcript came back). */
  forwarded: boolean;
  /** Seconds of audio forwarded (extract mode forwards part of it). */
  forwardedS: number;
  /** The transcript returned, when there was one; shown only with wyoming.showTranscripts. */
  transcript: string | null;
}

/**
 * The speaker of a command is the enrolled person named on most of its speech (a TV or a visitor
 * before or after them does not change it); with nobody named, the reason of its longest turn.
 */
export function commandVerdict(stopped: readonly Decision[]): CommandVerdict {
  const byPerson = new Map<
    string,
    { speaker: string; seconds: number; score: number | null; turns: Stretch[] }
  >();
  let longest: Decision | null = null;
  for (const d of stopped) {
    if (longest === null || d.durationS > longest.durationS) longest = d;
    if (d.speakerId === null || d.speaker === null) continue;
    const entry = byPerson.get(d.speakerId) ?? { speaker: d.speaker, seconds: 0, score: null, turns: [] };
    entry.seconds += d.durationS;
    entry.turns.push({ startS: d.startS, endS: d.startS + d.durationS });
    if (d.score !== null && (entry.score === null || d.score > entry.score)) entry.score = d.score;
    byPerson.set(d.speakerId, entry);
  }
  let best: [string, { speaker: string; seconds: number; score: number | null; turns: Stretch[] }] | null =
    null;
  for (const entry of byPerson) if (best === null || entry[1].seconds > best[1].seconds) best = entry;
  if (best) {
    const [speakerId, { speaker, score, turns }] = best;
    return { speakerId, speaker, reason: null, score, stretches: turns };
  }
  return {
    speakerId: null,
    speaker: null,
    reason: longest?.reason ?? "too_short",
    score: longest?.score ?? null,
    stretches: [],
  };
}
