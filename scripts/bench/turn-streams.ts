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
export type Condition = "dry" | "room";
export const CONDITION_DIRS: Record<Condition, string> = {
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

export interface TurnStream {
  condition: Condition;
  seed: number;
  samples: Float32Array;
  turns: TrueTurn[];
  /** Enrolment audio per member: the first half of their file, in the same condition. */
  enrolment: Map<string, Float32Array>;
}

export function loadCondition(files: BenchFile[], condition: Condition): Map<string, Float32Array> {
  const dir = path.join(sharedAudio, CONDITION_DIRS[condition]);
  return new Map(files.map((f) => [f.id, readWavAs16kMono(readFileSync(path.join(dir, f.file)))]));
}

/**
 * The protocol of issue 7: a household of `householdSize` speakers (enrolled on the first half of their
 * file), the others visitors; turns of 2-8 s of speech, 80 % members (from the second half of their
 * file) and 20 % visitors (any part), pauses drawn from {0.05, 0.2, 0.5, 1, 2} s.
 */
export function buildTurnStream(
  audio: Map<string, Float32Array>,
  condition: Condition,
  seed: number,
  protocol: StreamProtocol = DEFAULT_PROTOCOL,
): TurnStream {
  const random = mulberry32(seed);
  const ids = [...audio.keys()];
  const picked = drawDistinct(ids.length, ids.length, random);
  const members = picked.slice(0, protocol.householdSize).map((i) => ids[i]);
  const visitors = picked.slice(protocol.householdSize).map((i) => ids[i]);
  const enrolment = new Map(
    members.map((id) => [id, audio.get(id)!.subarray(0, audio.get(id)!.length >> 1)]),
  );
  const pieces: { turn: Omit<TrueTurn, "startS" | "endS">; samples: Float32Array }[] = [];
  const pauses: number[] = [];
  for (let t = 0; t < protocol.turns; t++) {
    const isMember = random() < protocol.memberShare;
    const voice = isMember
      ? members[Math.floor(random() * members.length)]
      : visitors[Math.floor(random() * visitors.length)];
    const file = audio.get(voice)!;
    const from = isMember ? file.length >> 1 : 0;
    const available = file.length - from;
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
  return { condition, seed, samples, turns, enrolment };
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
      else if (hit.label !== UNKNOWN) wrong++;
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
  };
}
