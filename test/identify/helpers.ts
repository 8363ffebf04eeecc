import type { RttmTurn } from "../helpers/audio.js";

export { concat, type RttmTurn, readRttm } from "../helpers/audio.js";

import { readFileSync } from "node:fs";
import path from "node:path";
import { normalizeVolume } from "../../src/audio/volume.js";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import type { SpeakerEncoder } from "../../src/embedding/encoder.js";
import { createEncoder } from "../../src/embedding/factory.js";
import { VoiceprintExtractor } from "../../src/embedding/voiceprint.js";
import { type Detection, type MatchFn, outcomeOf } from "../../src/identify/live-identifier.js";
import type { Partial } from "../../src/identify/turn-tracker.js";
import { modelFilePath } from "../../src/models/paths.js";
import { type MatchCandidate, matchVoiceprint } from "../../src/registry/matcher.js";
import { SileroVad } from "../../src/vad/silero.js";
import { librispeechDir, modelsDir } from "../helpers/paths.js";

export const SAMPLE_RATE = 16_000;
export const THRESHOLD = 0.82;

/** The daemon's identification defaults (src/config/schema.ts). */
export const IDENTIFICATION = {
  firstDecisionSeconds: 1.6,
  minSpeechSeconds: 1.0,
  consistentWindows: 1,
  changeSimilarity: 0.6,
  changeWindows: 3,
};

/** A LibriSpeech utterance of the shared audio by its file stem (e.g. "198-126831-0000"), 16 kHz mono. */
export function utterance(stem: string): Float32Array {
  return readWavAs16kMono(readFileSync(path.join(librispeechDir, `${stem}.wav`)));
}

export const seconds = (s: number): number => Math.round(s * SAMPLE_RATE);

export interface Models {
  encoder: SpeakerEncoder;
  /** The VAD that trims enrolment audio (as the daemon's Enroller does). */
  clipVad: SileroVad;
  /** A second VAD for streaming (it carries stream state). */
  streamVad: SileroVad;
  extractor: VoiceprintExtractor;
  stop(): Promise<void>;
}

/** The real Resemblyzer encoder and Silero VADs from the models dir. */
export async function loadModels(): Promise<Models> {
  const encoder = createEncoder("resemblyzer-0.1.4", { modelsDir });
  const vadPath = modelFilePath(modelsDir, "silero-vad-v5", "silero_vad.onnx");
  const clipVad = new SileroVad({ modelPath: vadPath });
  const streamVad = new SileroVad({ modelPath: vadPath });
  await encoder.start();
  await clipVad.start();
  await streamVad.start();
  return {
    encoder,
    clipVad,
    streamVad,
    extractor: new VoiceprintExtractor(encoder, clipVad),
    stop: async () => {
      await streamVad.stop();
      await clipVad.stop();
      await encoder.stop();
    },
  };
}

/** Enrolled speakers as the matcher sees them: a centroid from one clip each (trimmed like enrolment). */
export async function enrol(models: Models, clips: Record<string, Float32Array>): Promise<MatchCandidate[]> {
  const candidates: MatchCandidate[] = [];
  for (const [name, samples] of Object.entries(clips)) {
    const { embedding } = await models.extractor.fromSamples(samples);
    candidates.push({ id: name, name, centroid: embedding });
  }
  return candidates;
}

/** The daemon's match function over fixed candidates. */
export function matcher(candidates: readonly MatchCandidate[]): MatchFn {
  return (embedding) => outcomeOf(matchVoiceprint(embedding, candidates, THRESHOLD));
}

/**
 * Partials as the live identifier makes them: 1.6 s windows every hop, volume-normalised, starting at
 * `offset` (stream position of samples[0]), with each window's scores against `candidates`.
 */
export async function partialsOf(
  encoder: SpeakerEncoder,
  samples: Float32Array,
  candidates: readonly MatchCandidate[] = [],
  offset = 0,
): Promise<Partial[]> {
  const windows: Float32Array[] = [];
  const starts: number[] = [];
  for (let s = 0; s + encoder.windowSamples <= samples.length; s += encoder.hopSamples) {
    windows.push(normalizeVolume(samples.slice(s, s + encoder.windowSamples), -30, { increaseOnly: true }));
    starts.push(s);
  }
  const embeddings = await encoder.embedWindows(windows);
  const match = matcher(candidates);
  return embeddings.map((embedding, i) => ({
    start: offset + starts[i],
    end: offset + starts[i] + encoder.windowSamples,
    embedding,
    scores: candidates.length > 0 ? match(embedding).scores : undefined,
  }));
}

export interface ReportedTurn {
  speakerId: string | null;
  start: number;
  end: number;
}

/** Turns from the "stopped" detections (their final decision and extent). */
export function reportedTurns(detections: readonly Detection[]): ReportedTurn[] {
  return detections
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
