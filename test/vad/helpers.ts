export { concat, type RttmTurn, readRttm } from "../helpers/audio.js";

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { modelFilePath, resolveModelsDir } from "../../src/models/paths.js";
import { sileroModelPath as sileroModelPathIn } from "../../src/vad/silero.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const sharedAudio = path.resolve(repoRoot, "../shared/audio");
export const conversationWav = path.join(sharedAudio, "conversation/sample.wav");
export const conversationRttm = path.join(sharedAudio, "conversation/sample.rttm");
export const librispeechWav = (name: string): string =>
  path.join(sharedAudio, "librispeech-train-clean-100", name);

/** The Silero VAD voiceid runs (converted at fetch) and the pinned original it is converted from. */
export const sileroModelPath = sileroModelPathIn(resolveModelsDir());
export const sileroOriginalPath = modelFilePath(resolveModelsDir(), "silero-vad-v5", "silero_vad.onnx");

/** The shared audio is 16 kHz mono s16; decoded by the project's own WAV reader. */
export function readWav16kMono(file: string): Float32Array {
  return readWavAs16kMono(readFileSync(file));
}

/** Union of [start, end) intervals, sorted and merged. */
export function mergeIntervals(intervals: [number, number][]): [number, number][] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

export function totalLength(intervals: [number, number][]): number {
  return intervals.reduce((sum, [s, e]) => sum + (e - s), 0);
}

/** Length of the intersection of two interval unions. */
export function overlapLength(a: [number, number][], b: [number, number][]): number {
  let sum = 0;
  for (const [s1, e1] of a) for (const [s2, e2] of b) sum += Math.max(0, Math.min(e1, e2) - Math.max(s1, s2));
  return sum;
}

/** Bit-exact equality of two sample arrays (much faster than a deep toEqual on long arrays). */
export function sameSamples(a: Float32Array | null | undefined, b: Float32Array): boolean {
  if (!a || a.length !== b.length) return false;
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}
