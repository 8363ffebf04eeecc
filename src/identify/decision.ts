/**
 * What voiceid says about who is talking: one type from the tracker to the MQTT payload, the event
 * stream of the API and the command line.
 */
import { MATCH_REASONS } from "../registry/matcher.js";

export const DECISION_TYPES = ["started", "updated", "stopped"] as const;
export type DecisionType = (typeof DECISION_TYPES)[number];

/**
 * Why a decision names nobody:
 * - pending: not clear yet (the turn just began, or the evidence is still weak); never on "stopped";
 * - unknown: the voice is confidently nobody enrolled;
 * - uncertain: the turn ended close to someone enrolled, or to two people (`identification.minMargin`),
 *   but not close enough to name (a turn named as it went included);
 * - too_short: too little speech to tell;
 * - ignored: a voice the household chose to ignore (the TV): reported in the log and the event stream only.
 */
export const DECISION_REASONS = ["pending", ...MATCH_REASONS, "too_short", "ignored"] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];

/** One speaker turn's state, as announced. */
export interface Decision {
  type: DecisionType;
  /** Same id for started/updated/stopped of one turn; increments over the daemon's life. */
  turnId: number;
  /** The named person (id and display name), or null with a reason. */
  speakerId: string | null;
  speaker: string | null;
  reason: DecisionReason | null;
  /** Cosine of the turn's voiceprint to the nearest enrolled person; null before any window. */
  score: number | null;
  /** Nearest minus runner-up; null with fewer than two enrolled people or no window yet. */
  margin: number | null;
  /** The threshold the nearest person is held to. */
  threshold: number;
  /** Nearest enrolled person even when not named, for tuning. */
  nearestSpeakerId: string | null;
  nearestSpeaker: string | null;
  /** Cosine of the turn's voiceprint to every enrolled person, by id. */
  scores: Record<string, number>;
  /**
   * The voice nobody enrolled this is (`voice-3`), for "unknown" and "ignored" decisions, and an
   * "uncertain" turn kept as a voice: the same stranger keeps their id across turns. Null otherwise, and
   * on an "unknown" announced before the voice was heard before (its "stopped" carries the new id).
   */
  voice: string | null;
  /** Stream position of the turn's start, seconds since the audio input started. */
  startS: number;
  /** Length of the turn so far (pauses inside it included); final on "stopped". */
  durationS: number;
  /** Stream position at which this decision was made: latency is `decidedAtS - startS`, even from files. */
  decidedAtS: number;
}

/**
 * Whether a decision announces who is talking (a person, or a voice confidently nobody enrolled): a turn's
 * "started" and "updated" do. Its "stopped" gives the final label of what was announced and announces
 * nothing new: a stranger's turn that another voice ended is reported "unknown" there only, since saying so
 * now would greet whoever is talking as a stranger.
 */
export function isAnnouncement(decision: Pick<Decision, "type" | "speakerId" | "reason">): boolean {
  return decision.type !== "stopped" && (decision.speakerId !== null || decision.reason === "unknown");
}
