/**
 * Turn-taking streams built from the shared audio, and their scoring on a 10 ms grid: what bench:stream
 * measures. Pure apart from reading WAV files; no model.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { SAMPLE_RATE } from "../../src/embedding/voiceprint.js";
import { DEFAULT_TRACKER_OPTIONS } from "../../src/identify/speaker-tracker.js";
import { sharedAudio } from "../../test/helpers/paths.js";
import { drawDistinct, mulberry32 } from "./prng.js";
import type { BenchFile } from "./setup.js";
import { speechLevel, spokenSpans } from "./spoken.js";

export { SAMPLE_RATE };
/** Which recordings a stream plays and the household enrolled from. */
export type Audio = "dry" | "room";
export const AUDIO_DIRS: Record<Audio, string> = {
  dry: "librispeech-train-clean-100",
  room: "librispeech-room",
};
const PAUSES_S = [0.05, 0.2, 0.5, 1, 2];

export interface StreamProtocol {
  householdSize: number;
  turns: number;
  memberShare: number;
  minTurnS: number;
  maxTurnS: number;
}

export const DEFAULT_PROTOCOL: StreamProtocol = {
  householdSize: 10,
  turns: 60,
  memberShare: 0.8,
  minTurnS: 2,
  maxTurnS: 8,
};

export interface TrueTurn {
  /** Enrolled speaker id (the LibriSpeech speaker id), or null for a visitor. */
  member: string | null;
  /** The voice (LibriSpeech speaker id), visitors included. */
  voice: string;
  startS: number;
  endS: number;
}

/** A true turn and what was actually spoken in it (scripts/bench/spoken.ts): what bench:stream scores. */
export interface SpokenTurn extends TrueTurn {
  /** [from, to] s, in order, inside [startS, endS). */
  spoken: [number, number][];
}

export interface Household {
  members: string[];
  visitors: string[];
}

export interface TurnStream<T extends TrueTurn = TrueTurn> {
  samples: Float32Array;
  turns: T[];
}

export function loadAudio(files: BenchFile[], audio: Audio): Map<string, Float32Array> {
  const dir = path.join(sharedAudio, AUDIO_DIRS[audio]);
  return new Map(files.map((f) => [f.id, readWavAs16kMono(readFileSync(path.join(dir, f.file)))]));
}

/** The protocol of issue 7: `householdSize` speakers drawn from `seed` are the household, the others visitors. */
export function drawHousehold(
  ids: readonly string[],
  seed: number,
  size = DEFAULT_PROTOCOL.householdSize,
): Household {
  const picked = drawDistinct(ids.length, ids.length, mulberry32(seed));
  return {
    members: picked.slice(0, size).map((i) => ids[i]),
    visitors: picked.slice(size).map((i) => ids[i]),
  };
}

/** Enrolment audio per member: the first half of their file. */
export function enrolmentOf(
  audio: Map<string, Float32Array>,
  household: Household,
): Map<string, Float32Array> {
  return new Map(household.members.map((id) => [id, audio.get(id)!.subarray(0, audio.get(id)!.length >> 1)]));
}

/**
 * Turns of 2-8 s of speech, 80 % members and 20 % visitors (any part of their file), pauses drawn from
 * {0.05, 0.2, 0.5, 1, 2} s. Members speak from the second half of their file (never heard at
 * enrolment), or with `memberPart: "first"` from the first (the listening before a test). What was
 * spoken in each turn is read from the same stretch of `clean` (the dry files, which `audio` may be a
 * room's version of).
 */
export function buildTurnStream(
  audio: Map<string, Float32Array>,
  clean: Map<string, Float32Array>,
  household: Household,
  seed: number,
  options: { memberPart?: "first" | "second"; protocol?: Partial<StreamProtocol> } = {},
): TurnStream<SpokenTurn> {
  const protocol = { ...DEFAULT_PROTOCOL, ...options.protocol };
  const random = mulberry32(seed);
  // The draw that used to pick the household, kept so that streams of a seed stay the same.
  drawDistinct(audio.size, audio.size, random);
  const { members, visitors } = household;
  const pieces: { turn: Omit<TrueTurn, "startS" | "endS">; samples: Float32Array; spoken: Float32Array }[] =
    [];
  const pauses: number[] = [];
  for (let t = 0; t < protocol.turns; t++) {
    const isMember = random() < protocol.memberShare;
    const voice = isMember
      ? members[Math.floor(random() * members.length)]
      : visitors[Math.floor(random() * visitors.length)];
    const file = audio.get(voice)!;
    const half = file.length >> 1;
    const [from, to] = !isMember
      ? [0, file.length]
      : options.memberPart === "first"
        ? [0, half]
        : [half, file.length];
    const available = to - from;
    const want = Math.round(
      (protocol.minTurnS + random() * (protocol.maxTurnS - protocol.minTurnS)) * SAMPLE_RATE,
    );
    const length = Math.min(want, available);
    const start = from + Math.floor(random() * (available - length + 1));
    pieces.push({
      turn: { member: isMember ? voice : null, voice },
      samples: file.subarray(start, start + length),
      spoken: clean.get(voice)!.subarray(start, start + length),
    });
    pauses.push(PAUSES_S[Math.floor(random() * PAUSES_S.length)]);
  }
  const lead = SAMPLE_RATE;
  const total =
    lead + pieces.reduce((n, p, i) => n + p.samples.length + Math.round(pauses[i] * SAMPLE_RATE), 0) + lead;
  const samples = new Float32Array(total);
  const turns: SpokenTurn[] = [];
  const levels = new Map<string, number>();
  let at = lead;
  pieces.forEach((p, i) => {
    samples.set(p.samples, at);
    const { voice } = p.turn;
    if (!levels.has(voice)) levels.set(voice, speechLevel(clean.get(voice)!));
    turns.push({
      ...p.turn,
      startS: at / SAMPLE_RATE,
      endS: (at + p.samples.length) / SAMPLE_RATE,
      spoken: spokenSpans(p.spoken, levels.get(voice)!, at / SAMPLE_RATE),
    });
    at += p.samples.length + Math.round(pauses[i] * SAMPLE_RATE);
  });
  return { samples, turns };
}

/** A claim the daemon made about who is talking, at the stream position it was decided. */
export interface Announcement {
  atS: number;
  /** Enrolled speaker id, or "unknown". */
  label: string;
  /** Where the announced turn began, as announced. */
  turnStartS: number;
}

/** A turn as finally reported: its extent and its final label (speaker id, "unknown", or null: no label). */
export interface ReportedTurn {
  startS: number;
  endS: number;
  label: string | null;
}

export interface StreamScore {
  speechSeconds: number;
  correct: number;
  wrongPerson: number;
  missed: number;
  /** First naming latency of member turns that were named, seconds. */
  latencies: number[];
  /**
   * The same, timed from the first speech of the turn the VAD heard (none when the run's `heard` is not
   * known): what the naming took once there was speech to name.
   */
  heardLatencies: number[];
  /** Of the member turns named, those whose first UNHEARD_ONSET_S or more the VAD did not hear. */
  unheardOnsets: number;
  memberTurns: number;
  neverNamed: number;
  /** "unknown" announcements made on a member's voice (judged as wrong claims are). */
  falseUnknowns: number;
  /**
   * Visitor turns with STRANGER_TURN_S or more of speech, and those announced "unknown" (Home Assistant's
   * `unrecognized`): the other side of false unknowns, which a tracker never announcing one would meet.
   */
  strangerTurns: number;
  strangersAnnounced: number;
  /** Of those announced: from the turn's first sound to the announcement, seconds. */
  strangerLatencies: number[];
  /** Announcements naming a person, and those naming someone other than the voice heard before them. */
  claims: number;
  wrongClaims: number;
  /** Wrong-person speech more than FAR_FROM_CHANGE_S from every true change of voice, seconds. */
  wrongFarSeconds: number;
  /** Per true change of voice: distance to the nearest reported turn boundary, seconds (0 inside its pause). */
  boundaryErrors: number[];
}

/** A member turn whose first speech the VAD heard this late (seconds) or later began unheard. */
export const UNHEARD_ONSET_S = 0.5;

/** A visitor's turn this long (seconds of speech) can be announced "unknown". */
export const STRANGER_TURN_S = DEFAULT_TRACKER_OPTIONS.unknownAfterSeconds;

/** An announcement this long after a turn's last sound is still its own: its pause running out closes it. */
const CLOSE_AFTER_S = DEFAULT_TRACKER_OPTIONS.pauseSeconds;

/** Wrong-person time this far from a true change of voice is a turn wrongly named, not a late boundary. */
export const FAR_FROM_CHANGE_S = 0.5;

/** When a turn's voice is first and last heard: its spoken extent, or the whole piece if nothing was. */
function spokenExtent(turn: SpokenTurn): [number, number] {
  return turn.spoken.length === 0 ? [turn.startS, turn.endS] : [turn.spoken[0][0], turn.spoken.at(-1)![1]];
}

/** The true changes of voice: from one voice's last sound to the next voice's first, [from, to] s. */
function trueChanges<T extends TrueTurn>(
  truth: readonly T[],
  extentOf: (turn: T) => [number, number],
): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < truth.length; i++) {
    if (truth[i].voice !== truth[i - 1].voice) out.push([extentOf(truth[i - 1])[1], extentOf(truth[i])[0]]);
  }
  return out;
}

/** Distance from `t` to the interval [from, to] (0 inside). */
function distanceTo(t: number, [from, to]: [number, number]): number {
  return t < from ? from - t : t > to ? t - to : 0;
}

/** For each true change, the distance to the nearest reported boundary (a reported turn's start or end). */
function boundaryErrors(
  changes: readonly [number, number][],
  reported: readonly { startS: number; endS: number }[],
): number[] {
  const boundaries = reported.flatMap((r) => [r.startS, r.endS]);
  return changes.map((change) =>
    Math.min(Number.POSITIVE_INFINITY, ...boundaries.map((b) => distanceTo(b, change))),
  );
}

/** How a run's turns keep the true voices apart (bench:diarize's live turns). */
export interface VoicesApart {
  /** Per true change of voice: the distance to the nearest reported boundary (0 inside its pause), s. */
  boundaryErrors: number[];
  /** Seconds of the turns' true speech that is not their main voice's, and of all of it. */
  mixedSeconds: number;
  speechSeconds: number;
}

/** `reported` against `truth`'s pieces (whole, in stream order), on the 10 ms grid. */
export function voicesApart(
  truth: readonly TrueTurn[],
  reported: readonly { startS: number; endS: number }[],
): VoicesApart {
  let mixed = 0;
  let speech = 0;
  for (const turn of reported) {
    const frames = new Map<string, number>();
    for (let t = Math.ceil(turn.startS * 100); t < turn.endS * 100; t++) {
      for (const r of truth) {
        if (t >= r.startS * 100 && t < r.endS * 100) frames.set(r.voice, (frames.get(r.voice) ?? 0) + 1);
      }
    }
    const all = [...frames.values()].reduce((a, b) => a + b, 0);
    mixed += all - Math.max(0, ...frames.values());
    speech += all;
  }
  return {
    boundaryErrors: boundaryErrors(
      trueChanges(truth, (t) => [t.startS, t.endS]),
      reported,
    ),
    mixedSeconds: mixed / 100,
    speechSeconds: speech / 100,
  };
}

/** Where the VAD first heard speech in [startS, endS), or null. */
function firstHeard(heard: readonly [number, number][], startS: number, endS: number): number | null {
  const first = heard.find(([from, to]) => to > startS && from < endS);
  return first ? Math.max(first[0], startS) : null;
}

export const UNKNOWN = "unknown";

/** A claim is judged on at most this much of its turn before it (one window). */
export const CLAIM_LOOKBACK_S = 1.6;

/**
 * The voice an announcement was made on: the one that held most of the announced turn so far (its last
 * CLAIM_LOOKBACK_S), or in a pause the one that spoke last.
 */
function voiceAnnounced(truth: readonly TrueTurn[], a: Announcement): TrueTurn | null {
  const from = Math.min(Math.max(a.turnStartS, a.atS - CLAIM_LOOKBACK_S), a.atS - 0.01);
  let voice: TrueTurn | null = null;
  let most = 0;
  for (const turn of truth) {
    const held = Math.min(turn.endS, a.atS) - Math.max(turn.startS, from);
    if (held > most) {
      most = held;
      voice = turn;
    }
  }
  return voice ?? truth.filter((t) => t.startS < a.atS).at(-1) ?? null;
}

/**
 * The announcements naming a person other than the voice announced: what Home Assistant was told
 * wrongly, even when the turn's final label took it back.
 */
export function wrongClaims(
  truth: readonly TrueTurn[],
  announcements: readonly Announcement[],
): Announcement[] {
  return announcements.filter((a) => a.label !== UNKNOWN && voiceAnnounced(truth, a)?.member !== a.label);
}

/** The "unknown" announcements made on a member's voice, judged as wrong claims are. */
export function falseUnknowns(
  truth: readonly TrueTurn[],
  announcements: readonly Announcement[],
): Announcement[] {
  return announcements.filter(
    (a) => a.label === UNKNOWN && (voiceAnnounced(truth, a)?.member ?? null) !== null,
  );
}

/**
 * Scores a run on the 10 ms grid: shares are of spoken time (`spoken`), and first namings, changes and
 * boundaries are timed from a turn's first and last sound; with `wholePieces`, of and from each turn's
 * whole piece, pauses included (how bench:stream scored before).
 */
export function scoreStream(
  truth: readonly SpokenTurn[],
  reported: readonly ReportedTurn[],
  announcements: readonly Announcement[],
  { wholePieces = false, heard }: { wholePieces?: boolean; heard?: readonly [number, number][] } = {},
): StreamScore {
  let speech = 0;
  let correct = 0;
  let wrong = 0;
  let missed = 0;
  let wrongFar = 0;
  const extentOf = wholePieces ? (t: SpokenTurn): [number, number] => [t.startS, t.endS] : spokenExtent;
  const changes = trueChanges(truth, extentOf);
  const sorted = [...reported].sort((a, b) => a.startS - b.startS);
  for (const turn of truth) {
    const scored: [number, number][] = wholePieces ? [[turn.startS, turn.endS]] : turn.spoken;
    for (const [from, to] of scored) {
      for (let t = from + 0.005; t < to; t += 0.01) {
        speech++;
        const hit = sorted.find((r) => t >= r.startS && t < r.endS);
        if (!hit || hit.label === null) {
          missed++;
          continue;
        }
        const right = turn.member ?? UNKNOWN;
        if (hit.label === right) correct++;
        else if (hit.label !== UNKNOWN) {
          wrong++;
          if (changes.every((c) => distanceTo(t, c) > FAR_FROM_CHANGE_S)) wrongFar++;
        }
      }
    }
  }
  const latencies: number[] = [];
  const heardLatencies: number[] = [];
  let unheardOnsets = 0;
  let neverNamed = 0;
  const members = truth.filter((t) => t.member !== null);
  for (const turn of members) {
    const [startS, endS] = extentOf(turn);
    // Already named by a reported turn that runs into this one (the same person after a short pause).
    const ongoing = claimedBefore(
      sorted,
      announcements.filter((a) => a.label === turn.member),
      startS,
    );
    const first = announcements.find((a) => a.label === turn.member && a.atS >= startS && a.atS <= endS + 1);
    if (!ongoing && !first) {
      neverNamed++;
      continue;
    }
    const latency = first && !ongoing ? first.atS - startS : 0;
    latencies.push(latency);
    if (!heard) continue;
    // Named before the VAD heard it (windows reaching back across a pause): timed from its start.
    const heardFrom = Math.min(firstHeard(heard, startS, endS) ?? startS, startS + latency);
    heardLatencies.push(latency - (heardFrom - startS));
    if (heardFrom - startS >= UNHEARD_ONSET_S) unheardOnsets++;
  }
  const strangers = strangerAnnouncements(truth, sorted, announcements, extentOf);
  return {
    speechSeconds: speech / 100,
    correct: correct / speech,
    wrongPerson: wrong / speech,
    missed: missed / speech,
    latencies,
    heardLatencies,
    unheardOnsets,
    memberTurns: members.length,
    neverNamed,
    falseUnknowns: falseUnknowns(truth, announcements).length,
    strangerTurns: strangers.turns,
    strangersAnnounced: strangers.latencies.length,
    strangerLatencies: strangers.latencies,
    claims: announcements.filter((a) => a.label !== UNKNOWN).length,
    wrongClaims: wrongClaims(truth, announcements).length,
    wrongFarSeconds: wrongFar / 100,
    boundaryErrors: boundaryErrors(changes, sorted),
  };
}

/**
 * Whether a reported turn running into `startS` (begun before it, ending after) was announced with its
 * label before `startS` by one of `claims`: the speech beginning there was claimed already.
 */
function claimedBefore(
  reported: readonly ReportedTurn[],
  claims: readonly Announcement[],
  startS: number,
): boolean {
  return reported.some(
    (r) =>
      r.startS < startS &&
      r.endS > startS &&
      claims.some((a) => a.label === r.label && a.atS >= r.startS && a.atS <= startS),
  );
}

/**
 * Visitor turns with STRANGER_TURN_S of speech or more, and for those announced "unknown" on their own voice
 * (judged as false unknowns are), or already announced by a reported turn running into them, the latency.
 */
function strangerAnnouncements(
  truth: readonly SpokenTurn[],
  reported: readonly ReportedTurn[],
  announcements: readonly Announcement[],
  extentOf: (turn: SpokenTurn) => [number, number],
): { turns: number; latencies: number[] } {
  const unknowns = announcements.filter((a) => a.label === UNKNOWN);
  const latencies: number[] = [];
  let turns = 0;
  for (const turn of truth) {
    const spoken = turn.spoken.reduce((n, [from, to]) => n + to - from, 0);
    if (turn.member !== null || spoken < STRANGER_TURN_S) continue;
    turns++;
    const [startS, endS] = extentOf(turn);
    const ongoing = claimedBefore(
      reported,
      unknowns.filter((a) => voiceAnnounced(truth, a)?.voice === turn.voice),
      startS,
    );
    const first = unknowns.find(
      (a) => a.atS >= startS && a.atS <= endS + CLOSE_AFTER_S && voiceAnnounced(truth, a) === turn,
    );
    if (ongoing) latencies.push(0);
    else if (first) latencies.push(first.atS - startS);
  }
  return { turns, latencies };
}

export interface ConversationProtocol {
  turns: number;
  minTurnS: number;
  maxTurnS: number;
  /** Pauses between turns, drawn from these (seconds). */
  pauses: readonly number[];
}

/** bench:diarize's streams: 24 turns of 2-8 s with pauses from {0, 0.2, 0.5, 1} s. */
export const CONVERSATION_PROTOCOL: ConversationProtocol = {
  turns: 24,
  minTurnS: 2,
  maxTurnS: 8,
  pauses: [0, 0.2, 0.5, 1],
};

/**
 * `speakers` taking turns (never one after themselves), each turn a random stretch of their file: a
 * conversation among people nobody enrolled (every turn's `member` is null).
 */
export function buildConversation(
  audio: Map<string, Float32Array>,
  speakers: readonly string[],
  seed: number,
  protocol: ConversationProtocol = CONVERSATION_PROTOCOL,
): TurnStream {
  const random = mulberry32(seed);
  const lead = SAMPLE_RATE;
  const pieces: Float32Array[] = [];
  const turns: TrueTurn[] = [];
  let at = lead;
  let previous = -1;
  for (let t = 0; t < protocol.turns; t++) {
    let who = Math.floor(random() * speakers.length);
    if (speakers.length > 1 && who === previous) who = (who + 1) % speakers.length;
    previous = who;
    const file = audio.get(speakers[who])!;
    const want = Math.round(
      (protocol.minTurnS + random() * (protocol.maxTurnS - protocol.minTurnS)) * SAMPLE_RATE,
    );
    const length = Math.min(want, file.length);
    const start = Math.floor(random() * (file.length - length + 1));
    pieces.push(file.subarray(start, start + length));
    turns.push({
      member: null,
      voice: speakers[who],
      startS: at / SAMPLE_RATE,
      endS: (at + length) / SAMPLE_RATE,
    });
    at += length + Math.round(protocol.pauses[Math.floor(random() * protocol.pauses.length)] * SAMPLE_RATE);
  }
  const samples = new Float32Array(at + lead);
  let offset = lead;
  pieces.forEach((p, i) => {
    offset = Math.round(turns[i].startS * SAMPLE_RATE);
    samples.set(p, offset);
  });
  return { samples, turns };
}
