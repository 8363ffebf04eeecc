import { z } from "zod";
import { DECISION_REASONS, type DecisionReason } from "../identify/decision.js";
import type { SpeechEventPayload } from "../mqtt/topics.js";

/**
 * One speaker turn as the timeline keeps it: who (or why nobody), when, how long and how sure. Only the
 * decision, never audio.
 */
export interface TimelineTurn {
  room: string;
  /** The tracker's turn id: unique within one run of a room's pipeline, so with `startedAt` it names a turn. */
  turnId: number;
  /** ISO 8601, wall clock. */
  startedAt: string;
  durationS: number;
  speakerId: string | null;
  speaker: string | null;
  reason: DecisionReason | null;
  score: number | null;
  /** The threshold the nearest person was held to: the score's measure. */
  threshold: number;
  /** A voice nobody enrolled, as grouped by the unknown-voices store ("voice-3"), when the decision has one. */
  voice: string | null;
  /** Still going: its duration is what was heard so far. */
  open: boolean;
}

/**
 * Reasons whose turns the timeline leaves out: an ignored voice (the TV) makes no events and has no
 * place on a page about who talked. A string set, so it holds reasons other parts add later.
 */
const LEFT_OUT_REASONS: ReadonlySet<string> = new Set(["ignored"]);

/** Bounds of a persisted turn: what the daemon writes fits easily; a line past them is not ours. */
const MAX_TEXT = 128;
const text = z.string().max(MAX_TEXT);

/** A persisted (ended) turn, as read back from the journal. */
export const persistedTurnSchema = z.strictObject({
  room: text,
  turnId: z.number().int().min(0),
  startedAt: z.iso.datetime(),
  durationS: z.number().min(0).max(86_400),
  speakerId: text.nullable(),
  speaker: text.nullable(),
  reason: z.enum(DECISION_REASONS).nullable(),
  score: z.number().min(-1).max(1).nullable(),
  threshold: z.number().min(-1).max(1),
  voice: text.nullable(),
  open: z.literal(false),
});

/**
 * The turn a live decision describes, or null when the timeline leaves it out: voice commands (their
 * audio is Home Assistant's, not the room's) and ignored voices.
 */
export function turnOf(event: SpeechEventPayload): TimelineTurn | null {
  if (event.commandId !== undefined) return null;
  if (event.reason !== null && LEFT_OUT_REASONS.has(event.reason)) return null;
  return {
    room: event.room,
    turnId: event.turnId,
    startedAt: event.startedAt,
    durationS: event.durationS,
    speakerId: event.speakerId,
    speaker: event.speaker,
    reason: event.reason,
    score: event.score,
    threshold: event.threshold,
    voice: event.voice,
    open: event.type !== "stopped",
  };
}

/** When the turn ended (or was last heard, while open), ms since the epoch. */
export function endOf(turn: TimelineTurn): number {
  return Date.parse(turn.startedAt) + turn.durationS * 1000;
}
