import { concat, type RttmTurn } from "../helpers/audio.js";

export { concat, type RttmTurn, readRttm } from "../helpers/audio.js";

import { readFileSync } from "node:fs";
import path from "node:path";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { configSchema } from "../../src/config/schema.js";
import { SpeechPipeline } from "../../src/daemon/speech-pipeline.js";
import { ModelStack } from "../../src/embedding/stack.js";
import type { Decision } from "../../src/identify/decision.js";
import type { LiveIdentifierOptions } from "../../src/identify/live-identifier.js";
import { liveIdentifierOptions } from "../../src/identify/options.js";
import type { UnknownVoices } from "../../src/identify/speaker-tracker.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { silentLogger } from "../../src/util/log.js";
import type { SileroVad } from "../../src/vad/silero.js";
import { librispeechDir, librispeechRoomDir, modelsDir } from "../helpers/paths.js";

export const SAMPLE_RATE = 16_000;
export const THRESHOLD = 0.82;

/** The daemon's live identification with the configuration's defaults. */
export const IDENTIFICATION: LiveIdentifierOptions = liveIdentifierOptions(
  configSchema.parse({}).identification,
  THRESHOLD,
  "resemblyzer-0.1.4",
);

/** A LibriSpeech utterance of the shared audio by its file stem (e.g. "198-126831-0000"), 16 kHz mono. */
export function utterance(stem: string): Float32Array {
  return readWavAs16kMono(readFileSync(path.join(librispeechDir, `${stem}.wav`)));
}

/** The same utterance as the far-field room microphone heard it. */
export function roomUtterance(stem: string): Float32Array {
  return readWavAs16kMono(readFileSync(path.join(librispeechRoomDir, `${stem}.wav`)));
}

export const seconds = (s: number): number => Math.round(s * SAMPLE_RATE);
export const silence = (s: number): Float32Array => new Float32Array(seconds(s));

export interface Models {
  stack: ModelStack;
  /** A VAD for streams (it carries stream state). */
  streamVad: SileroVad;
  stop(): Promise<void>;
}

/** The real models from the models dir, as the daemon builds them. */
export async function loadModels(encoder = "resemblyzer-0.1.4"): Promise<Models> {
  const stack = new ModelStack({ modelsDir, encoder });
  await stack.start();
  const streamVad = stack.streamVad();
  await streamVad.start();
  return { stack, streamVad, stop: () => stack.stop() };
}

/** Enrolled speakers as the matcher sees them: a centroid from one clip each (trimmed like enrolment). */
export async function enrol(models: Models, clips: Record<string, Float32Array>): Promise<MatchCandidate[]> {
  const candidates: MatchCandidate[] = [];
  for (const [name, samples] of Object.entries(clips)) {
    const { embedding } = await models.stack.extractor.fromSamples(samples);
    candidates.push({ id: name, name, centroid: embedding });
  }
  return candidates;
}

/** `stream` through the daemon's speech path (real VAD, real encoder), in chunks; every decision. */
export async function runStream(
  models: Models,
  candidates: readonly MatchCandidate[],
  stream: Float32Array,
  options: {
    chunk?: number;
    idleBatchSamples?: number;
    identification?: LiveIdentifierOptions;
    voices?: UnknownVoices;
  } = {},
): Promise<Decision[]> {
  models.streamVad.reset();
  const decisions: Decision[] = [];
  const pipeline = new SpeechPipeline({
    vad: models.streamVad,
    encoder: models.stack.encoder,
    candidates: () => candidates,
    segmenter: {},
    identification: options.identification ?? IDENTIFICATION,
    idleBatchSamples: options.idleBatchSamples,
    voices: options.voices,
    onDecision: (d) => {
      decisions.push(d);
    },
    logger: silentLogger,
  });
  await pipeline.start();
  const chunk = options.chunk ?? 512;
  for (let i = 0; i < stream.length; i += chunk) await pipeline.accept(stream.subarray(i, i + chunk));
  await pipeline.stop();
  return decisions;
}

export interface ReportedTurn {
  speakerId: string | null;
  start: number;
  end: number;
}

/** Turns from the "stopped" decisions (their final decision and extent). */
export function reportedTurns(decisions: readonly Decision[]): ReportedTurn[] {
  return decisions
    .filter((d) => d.type === "stopped")
    .map((d) => ({ speakerId: d.speakerId, start: d.startS, end: d.startS + d.durationS }));
}

export interface Attribution {
  /** Seconds where exactly one reference speaker talks. */
  speechSeconds: number;
  /** Of those, seconds inside a reported turn named as that speaker. */
  correctSeconds: number;
  /** correctSeconds / speechSeconds. */
  accuracy: number;
}

/**
 * How much single-speaker speech the reported turns attribute to the right person, on a 10 ms grid.
 * Overlapped speech is left out (either name would be right); speech in no reported turn, or in an
 * "unknown" one, counts as wrong.
 */
export function attribution(reference: readonly RttmTurn[], turns: readonly ReportedTurn[]): Attribution {
  const end = Math.max(...reference.map((r) => r.end));
  let speech = 0;
  let correct = 0;
  for (let i = 0; i * 0.01 < end; i++) {
    const t = i * 0.01 + 0.005;
    const talking = new Set(reference.filter((r) => t >= r.start && t < r.end).map((r) => r.speaker));
    if (talking.size !== 1) continue;
    speech++;
    const turn = turns.find((x) => t >= x.start && t < x.end);
    if (turn && turn.speakerId !== null && talking.has(turn.speakerId)) correct++;
  }
  return {
    speechSeconds: speech / 100,
    correctSeconds: correct / 100,
    accuracy: speech === 0 ? 0 : correct / speech,
  };
}

/**
 * The conversations the issue names, from real speech: members A and B (enrolled on the first half of
 * their utterance, heard from the second half) and a visitor enrolled nowhere.
 */
export const MEMBER_A = "198-126831-0000";
export const MEMBER_B = "3374-298025-0000";
export const VISITOR = "911-128684-0000";
export const SECOND_VISITOR = "1723-141149-0000";

const heard = (stem: string, from: number, to: number) => {
  const all = utterance(stem);
  return all.subarray(all.length >> 1).subarray(seconds(from), seconds(to));
};

export async function enrolMembers(models: Models): Promise<MatchCandidate[]> {
  const firstHalf = (stem: string) => {
    const all = utterance(stem);
    return all.subarray(0, all.length >> 1);
  };
  return enrol(models, { A: firstHalf(MEMBER_A), B: firstHalf(MEMBER_B) });
}

/**
 * Two visitors nobody enrolled taking turns four times with 0.2 s pauses, from 1 s: stretches of their
 * utterances that start and end with speech (Silero's segments), so each change of voice is the pause.
 */
export function strangersAlternate(): { samples: Float32Array; changes: [number, number][] } {
  const pieces = [
    utterance(VISITOR).subarray(seconds(3.78), seconds(8.1)),
    utterance(SECOND_VISITOR).subarray(seconds(0.3), seconds(4.2)),
    utterance(VISITOR).subarray(seconds(12.9), seconds(16.16)),
    utterance(SECOND_VISITOR).subarray(seconds(4.4), seconds(8.7)),
  ];
  const changes: [number, number][] = [];
  let at = 1;
  const parts: Float32Array[] = [silence(1)];
  for (const [i, piece] of pieces.entries()) {
    if (i > 0) {
      changes.push([at, at + 0.2]);
      parts.push(silence(0.2));
      at += 0.2;
    }
    parts.push(piece);
    at += piece.length / SAMPLE_RATE;
  }
  parts.push(silence(2));
  return { samples: concat(...parts), changes };
}

export const SCENARIOS = {
  /** A talks 5 s from 1 s; the visitor cuts in 0.05 s after, for 5 s. */
  visitorInterrupts: () =>
    concat(
      silence(1),
      heard(MEMBER_A, 0, 5),
      silence(0.05),
      utterance(VISITOR).subarray(0, seconds(5)),
      silence(2),
    ),
  /** The visitor talks 5 s from 1 s; A follows with no pause at all, for 5 s. */
  memberFollowsVisitorWithoutPause: () =>
    concat(silence(1), utterance(VISITOR).subarray(0, seconds(5)), heard(MEMBER_A, 0, 5), silence(2)),
  /** A talks 5 s from 1 s; the visitor follows with no pause at all, for 5 s. */
  visitorFollowsWithoutPause: () =>
    concat(silence(1), heard(MEMBER_A, 0, 5), utterance(VISITOR).subarray(0, seconds(5)), silence(2)),
  /** A, B, A, 4.5 s each from 1 s, with 0.2 s pauses. */
  membersAlternate: () =>
    concat(
      silence(1),
      heard(MEMBER_A, 0, 4.5),
      silence(0.2),
      heard(MEMBER_B, 0, 4.5),
      silence(0.2),
      heard(MEMBER_A, 4.5, 9),
      silence(2),
    ),
  /** A talks 4 s from 1 s; B answers after 1.6 s of silence, for 4 s. */
  memberAnswersAfterPause: () =>
    concat(silence(1), heard(MEMBER_A, 0, 4), silence(1.6), heard(MEMBER_B, 0, 4), silence(2)),
  /** A talks 4 s from 1 s, pauses 1 s mid-sentence, talks 4 s more. */
  memberPauses: () =>
    concat(silence(1), heard(MEMBER_A, 0, 4), silence(1), heard(MEMBER_A, 4, 8), silence(2)),
  /** A alone, 6 s from 1 s. */
  memberAlone: () => concat(silence(1), heard(MEMBER_A, 0, 6), silence(2)),
  /** A for 0.7 s. */
  memberTooShort: () => concat(silence(1), heard(MEMBER_A, 0, 0.7), silence(2)),
};
