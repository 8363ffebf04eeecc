/**
 * Turn-taking streams built from the shared audio, and their scoring on a 10 ms grid: what bench:stream
 * measures. Pure apart from reading WAV files; no model.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { sharedAudio } from "../../test/helpers/paths.js";
import { drawDistinct, mulberry32 } from "./prng.js";
import type { BenchFile } from "./setup.js";

export const SAMPLE_RATE = 16_000;
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

export interface Household {
  members: string[];
  visitors: string[];
}

export interface TurnStream {
  samples: Float32Array;
  turns: TrueTurn[];
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
 * enrolment), or with `memberPart: "first"` from the first (the listening before a test).
 */
export function buildTurnStream(
  audio: Map<string, Float32Array>,
  household: Household,
  seed: number,
  options: { memberPart?: "first" | "second"; protocol?: Partial<StreamProtocol> } = {},
): TurnStream {
  const protocol = { ...DEFAULT_PROTOCOL, ...options.protocol };
  const random = mulberry32(seed);
  // The draw that used to pick the household, kept so that streams of a seed stay the same.
  drawDistinct(audio.size, audio.size, random);
  const { members, visitors } = household;
  const pieces: { turn: Omit<TrueTurn, "startS" | "endS">; samples: Float32Array }[] = [];
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
    });
    pauses.push(PAUSES_S[Math.floor(random() * PAUSES_S.length)]);
  }
  const lead = SAMPLE_RATE;
  const total =
    lead + pieces.reduce((n, p, i) => n + p.samples.length + Math.round(pauses[i] * SAMPLE_RATE), 0) + lead;
  const samples = new Float32Array(total);
  const turns: TrueTurn[] = [];
  let at = lead;
  pieces.forEach((p, i) => {
    samples.set(p.samples, at);
    turns.push({ ...p.turn, startS: at / SAMPLE_RATE, endS: (at + p.samples.length) / SAMPLE_RATE });
    at += p.samples.length + Math.round(pauses[i] * SAMPLE_RATE);
  });
  return { samples, turns };
}

/** A claim the daemon made about who is talking, at the stream position it was decided. */
export interface Announcement {
  atS: number;
  /** Enrolled speaker id, or "unknown". */
  label: string;
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
  memberTurns: number;
  neverNamed: number;
  falseUnknowns: number;
  /** Wrong-person speech more than FAR_FROM_CHANGE_S from every true change of voice, seconds. */
  wrongFarSeconds: number;
  /** Per true change of voice: distance to the nearest reported turn boundary, seconds (0 inside its pause). */
  boundaryErrors: number[];
}

/** Wrong-person time this far from a true change of voice is a turn wrongly named, not a late boundary. */
export const FAR_FROM_CHANGE_S = 0.5;

/** The true changes of voice: the pause between two consecutive turns of different voices, [from, to] s. */
export function trueChanges(truth: readonly TrueTurn[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < truth.length; i++) {
    if (truth[i].voice !== truth[i - 1].voice) out.push([truth[i - 1].endS, truth[i].startS]);
  }
  return out;
}

/** Distance from `t` to the interval [from, to] (0 inside). */
function distanceTo(t: number, [from, to]: [number, number]): number {
  return t < from ? from - t : t > to ? t - to : 0;
}

/** For each true change, the distance to the nearest reported boundary (a reported turn's start or end). */
export function boundaryErrors(
  truth: readonly TrueTurn[],
  reported: readonly { startS: number; endS: number }[],
): number[] {
  const boundaries = reported.flatMap((r) => [r.startS, r.endS]);
  return trueChanges(truth).map((change) =>
    Math.min(Number.POSITIVE_INFINITY, ...boundaries.map((b) => distanceTo(b, change))),
  );
}

export const UNKNOWN = "unknown";

/** Scores a run on the 10 ms grid; shares are of true speech time. */
export function scoreStream(
  truth: readonly TrueTurn[],
  reported: readonly ReportedTurn[],
  announcements: readonly Announcement[],
): StreamScore {
  let speech = 0;
  let correct = 0;
  let wrong = 0;
  let missed = 0;
  let wrongFar = 0;
  const changes = trueChanges(truth);
  const sorted = [...reported].sort((a, b) => a.startS - b.startS);
  for (const turn of truth) {
    for (let t = turn.startS + 0.005; t < turn.endS; t += 0.01) {
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
  const latencies: number[] = [];
  let neverNamed = 0;
  let falseUnknowns = 0;
  const members = truth.filter((t) => t.member !== null);
  for (const turn of members) {
    // Already named by a reported turn that runs into this one (the same person after a short pause).
    const ongoing = sorted.some(
      (r) =>
        r.label === turn.member &&
        r.startS < turn.startS &&
        r.endS > turn.startS &&
        announcements.some((a) => a.label === turn.member && a.atS >= r.startS && a.atS <= turn.startS),
    );
    const first = announcements.find(
      (a) => a.label === turn.member && a.atS >= turn.startS && a.atS <= turn.endS + 1,
    );
    if (ongoing) latencies.push(0);
    else if (first) latencies.push(first.atS - turn.startS);
    else neverNamed++;
    const namedAt = ongoing ? turn.startS : (first?.atS ?? Number.POSITIVE_INFINITY);
    falseUnknowns += announcements.filter(
      (a) =>
        a.label === UNKNOWN &&
        a.atS >= turn.startS &&
        a.atS < Math.min(namedAt, turn.endS) &&
        namedAt <= turn.endS + 1,
    ).length;
  }
  return {
    speechSeconds: speech / 100,
    correct: correct / speech,
    wrongPerson: wrong / speech,
    missed: missed / speech,
    latencies,
    memberTurns: members.length,
    neverNamed,
    falseUnknowns,
    wrongFarSeconds: wrongFar / 100,
    boundaryErrors: boundaryErrors(truth, sorted),
  };
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
