import { createHash } from "node:crypto";
import type { Decision, DecisionReason, DecisionType } from "../identify/decision.js";
import type { VoiceCommand, WyomingMode } from "../wyoming/command.js";

/**
 * The one place that knows voiceid's MQTT topics and payload shapes. Everything lives under
 * `<base>/<room>/`, so several rooms (one daemon each) can share a broker. `<room>` is the room name's slug
 * ("Living Room" -> living_room); the name as typed is shown in Home Assistant and in payloads.
 *
 *   <base>/<room>/status                         retained  "online" | "offline" (also the last will)
 *   <base>/<room>/event                          not retained, SpeechEventPayload JSON, every decision
 *   <base>/<room>/identified                     not retained, IdentifiedEventPayload JSON (the HA event entity)
 *   <base>/<room>/last_speaker                   retained  LastSpeakerPayload JSON
 *   <base>/<room>/listening                      retained  "ON" | "OFF": the mute switch's state
 *   <base>/<room>/listening/set                  command   "ON" | "OFF" from Home Assistant
 *   <base>/<room>/diagnostics                    retained  DiagnosticsPayload JSON
 *   <base>/<room>/speaker/<speakerId>/talking    retained  "ON" | "OFF"
 *   <base>/<room>/speaker/<speakerId>/last_heard retained  ISO 8601 time the person was last named
 *   <base>/<room>/command                        not retained, CommandEventPayload JSON: who gave a voice
 *                                                command (the Wyoming proxy; HA event entity)
 *   <base>/<room>/last_command_speaker           retained  LastCommandSpeakerPayload JSON
 * A removed speaker's retained topics are cleared with an empty payload.
 */

export const DEFAULT_BASE_TOPIC = "voiceid";
export const DEFAULT_ROOM = "default";
export const DEFAULT_DISCOVERY_PREFIX = "homeassistant";
export const DEFAULT_HA_STATUS_TOPIC = "homeassistant/status";

export const AVAILABILITY_ONLINE = "online";
export const AVAILABILITY_OFFLINE = "offline";
export const TALKING_ON = "ON";
export const TALKING_OFF = "OFF";
export const LISTENING_ON = "ON";
export const LISTENING_OFF = "OFF";
/**
 * HA event type and last-speaker state for a voice confidently nobody enrolled. Not "unknown": that is
 * Home Assistant's own word for "no data", which would make the two indistinguishable.
 */
export const UNRECOGNIZED_VOICE = "unrecognized";

export class InvalidTopicError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidTopicError";
  }
}

export interface VoiceidTopics {
  readonly base: string;
  readonly room: string;
  readonly availability: string;
  readonly event: string;
  readonly identified: string;
  readonly lastSpeaker: string;
  readonly listening: string;
  readonly listeningCommand: string;
  readonly diagnostics: string;
  readonly command: string;
  readonly lastCommandSpeaker: string;
  talking(speakerId: string): string;
  lastHeard(speakerId: string): string;
}

const hasWildcardOrNul = (value: string): boolean => /[+#]/.test(value) || value.includes("\0");

/** Checks a topic prefix such as "voiceid" or "home/voiceid" (levels allowed, wildcards and empty levels not). */
export function validateTopicPrefix(value: string, what: string): string {
  if (value.length === 0) throw new InvalidTopicError(`${what} must not be empty`);
  if (hasWildcardOrNul(value))
    throw new InvalidTopicError(`${what} "${value}" must not contain "+", "#" or NUL`);
  if (value.split("/").some((level) => level.length === 0)) {
    throw new InvalidTopicError(`${what} "${value}" must not start or end with "/" or contain "//"`);
  }
  return value;
}

/**
 * Speaker ids go into topics verbatim when they are topic-safe; anything else is percent-encoded,
 * which is lossless, so two ids can never share a topic.
 */
export function speakerTopicLevel(speakerId: string): string {
  if (speakerId.length === 0) throw new InvalidTopicError("speaker id must not be empty");
  return encodeURIComponent(speakerId);
}

export function buildTopics(
  baseTopic: string = DEFAULT_BASE_TOPIC,
  room: string = DEFAULT_ROOM,
): VoiceidTopics {
  validateTopicPrefix(baseTopic, "MQTT base topic");
  // The slug keeps spaces, "+", "#" and "/" out of topics whatever the room is called.
  const root = `${baseTopic}/${slugify(room)}`;
  return {
    base: baseTopic,
    room,
    availability: `${root}/status`,
    event: `${root}/event`,
    identified: `${root}/identified`,
    lastSpeaker: `${root}/last_speaker`,
    listening: `${root}/listening`,
    listeningCommand: `${root}/listening/set`,
    diagnostics: `${root}/diagnostics`,
    command: `${root}/command`,
    lastCommandSpeaker: `${root}/last_command_speaker`,
    talking: (speakerId) => `${root}/speaker/${speakerTopicLevel(speakerId)}/talking`,
    lastHeard: (speakerId) => `${root}/speaker/${speakerTopicLevel(speakerId)}/last_heard`,
  };
}

/** Lowercase [a-z0-9_] form for HA ids; lossy, so only for display-ish ids where HA tolerates clashes. */
export function slugify(value: string): string {
  const slug = value
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return slug.length > 0 ? slug : "x";
}

/**
 * Stable key for a speaker in HA discovery (component key, unique_id): the id itself when it is already
 * [A-Za-z0-9_-], otherwise its slug plus a short hash of the exact id so distinct ids never collide.
 */
export function speakerKey(speakerId: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(speakerId)) return speakerId;
  const hash = createHash("sha256").update(speakerId).digest("hex").slice(0, 8);
  return `${slugify(speakerId)}_${hash}`;
}

// ---------------------------------------------------------------------------------------------------------
// Payloads

/** A decision of the tracker with the wall-clock time its turn started (recordings have none of their own). */
export interface TimedDecision extends Decision {
  startedAt: Date;
  /** Set when the decision is on a voice command's audio (the Wyoming proxy), not the room microphone. */
  commandId?: number;
}

/** JSON on `<base>/<room>/event` and on GET /api/events: every decision, as it is made. */
export interface SpeechEventPayload {
  type: DecisionType;
  turnId: number;
  room: string;
  speaker: string | null;
  speakerId: string | null;
  reason: DecisionReason | null;
  score: number | null;
  nearestSpeaker: string | null;
  nearestSpeakerId: string | null;
  margin: number | null;
  threshold: number;
  /** Cosine to every enrolled person, by id (rounded). */
  scores: Record<string, number>;
  /** The voice nobody enrolled ("voice-3") of an unknown or ignored turn, else null. */
  voice: string | null;
  /** ISO 8601 */
  startedAt: string;
  /** Stream position of the turn's start, and where this decision was made (seconds since input start). */
  offsetS: number;
  decidedAtS: number;
  durationS: number;
  /** Present when the decision is on a voice command's audio: the command's id. */
  commandId?: number;
}

/**
 * JSON on `<base>/<room>/identified`: one message when a turn is named, or confidently nobody enrolled.
 * HA's MQTT event entity reads `event_type`; the other keys become event attributes.
 */
export interface IdentifiedEventPayload {
  event_type: string;
  speaker: string | null;
  speakerId: string | null;
  reason: DecisionReason | null;
  score: number | null;
  /** For "unrecognized": the kept voice heard before ("voice-3"), or null for a voice not heard before. */
  voice: string | null;
  turnId: number;
  room: string;
  at: string;
}

/**
 * Retained JSON on `<base>/<room>/last_speaker`; the HA sensor shows `speaker`, or "unrecognized" for a
 * voice nobody enrolled, or nothing (unknown) when `at` is null: voiceid has no last speaker.
 */
export interface LastSpeakerPayload {
  speaker: string | null;
  speakerId: string | null;
  score: number | null;
  turnId: number | null;
  at: string | null;
}

/** The last speaker while voiceid has none (since it started): replaces whatever the broker retained. */
export const NO_LAST_SPEAKER: LastSpeakerPayload = {
  speaker: null,
  speakerId: null,
  score: null,
  turnId: null,
  at: null,
};

const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 10_000) / 10_000);

export function speechEventPayload(event: TimedDecision, room: string): SpeechEventPayload {
  const scores: Record<string, number> = {};
  for (const [id, score] of Object.entries(event.scores)) scores[id] = round(score) ?? 0;
  return {
    type: event.type,
    turnId: event.turnId,
    room,
    speaker: event.speaker,
    speakerId: event.speakerId,
    reason: event.reason,
    score: round(event.score),
    nearestSpeaker: event.nearestSpeaker,
    nearestSpeakerId: event.nearestSpeakerId,
    margin: round(event.margin),
    threshold: event.threshold,
    scores,
    voice: event.voice,
    startedAt: event.startedAt.toISOString(),
    offsetS: round(event.startS) ?? 0,
    decidedAtS: round(event.decidedAtS) ?? 0,
    durationS: round(event.durationS) ?? 0,
    ...(event.commandId !== undefined ? { commandId: event.commandId } : {}),
  };
}

/**
 * What a decision claims to Home Assistant: the person's id, "unrecognized" for a voice confidently
 * nobody enrolled, or null: nothing (pending, uncertain, too short).
 */
export function announcementOf(event: Pick<Decision, "speakerId" | "reason">): string | null {
  if (event.speakerId !== null) return event.speakerId;
  return event.reason === "unknown" ? UNRECOGNIZED_VOICE : null;
}

export function identifiedEventPayload(event: TimedDecision, room: string, at: Date): IdentifiedEventPayload {
  return {
    event_type: announcementOf(event) ?? UNRECOGNIZED_VOICE,
    speaker: event.speaker,
    speakerId: event.speakerId,
    reason: event.reason,
    score: round(event.score),
    voice: event.voice,
    turnId: event.turnId,
    room,
    at: at.toISOString(),
  };
}

export function lastSpeakerPayload(event: TimedDecision, at: Date): LastSpeakerPayload {
  return {
    speaker: event.speaker,
    speakerId: event.speakerId,
    score: round(event.score),
    turnId: event.turnId,
    at: at.toISOString(),
  };
}

/** Retained JSON on `<base>/<room>/diagnostics`, read by the diagnostic entities. */
export interface DiagnosticsPayload {
  /** running | retrying | starting | stopped | ended | muted */
  audio: string;
  /** The encoder's model id. */
  encoder: string;
  /** The last warning or error the daemon logged (at most 255 characters: HA's limit for a state). */
  lastError: string | null;
  lastErrorAt: string | null;
}

/**
 * JSON on `<base>/<room>/command`: one message per voice command, sent before its transcript goes back
 * to Home Assistant. `event_type` (the person's id, or "unrecognized") is what HA's event entity shows.
 * Transcripts are private: never on MQTT.
 */
export interface CommandEventPayload {
  event_type: string;
  speaker: string | null;
  speakerId: string | null;
  reason: DecisionReason | null;
  score: number | null;
  durationS: number;
  mode: WyomingMode;
  forwarded: boolean;
  forwardedS: number;
  commandId: number;
  room: string;
  at: string;
}

/** Retained JSON on `<base>/<room>/last_command_speaker` (the HA sensor, like last_speaker). */
export interface LastCommandSpeakerPayload {
  speaker: string | null;
  speakerId: string | null;
  score: number | null;
  forwarded: boolean | null;
  commandId: number | null;
  at: string | null;
}

export const NO_LAST_COMMAND_SPEAKER: LastCommandSpeakerPayload = {
  speaker: null,
  speakerId: null,
  score: null,
  forwarded: null,
  commandId: null,
  at: null,
};

export function commandEventPayload(command: VoiceCommand, room: string): CommandEventPayload {
  return {
    event_type: command.speakerId ?? UNRECOGNIZED_VOICE,
    speaker: command.speaker,
    speakerId: command.speakerId,
    reason: command.reason,
    score: round(command.score),
    durationS: command.durationS,
    mode: command.mode,
    forwarded: command.forwarded,
    forwardedS: command.forwardedS,
    commandId: command.id,
    room,
    at: command.at,
  };
}

export function lastCommandSpeakerPayload(command: VoiceCommand): LastCommandSpeakerPayload {
  return {
    speaker: command.speaker,
    speakerId: command.speakerId,
    score: round(command.score),
    forwarded: command.forwarded,
    commandId: command.id,
    at: command.at,
  };
}
