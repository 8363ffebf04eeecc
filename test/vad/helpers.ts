import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const sharedAudio = path.resolve(repoRoot, "../shared/audio");
export const conversationWav = path.join(sharedAudio, "conversation/sample.wav");
export const conversationRttm = path.join(sharedAudio, "conversation/sample.rttm");
export const librispeechWav = (name: string): string =>
  path.join(sharedAudio, "librispeech-train-clean-100", name);

/** Until src/models/paths.ts exists: same rule (VOICEID_MODELS_DIR, else <repo>/models). */
export const sileroModelPath = path.join(
  process.env["VOICEID_MODELS_DIR"] ?? path.join(repoRoot, "models"),
  "silero-vad-v5/silero_vad.onnx",
);

/**
 * Minimal reader for the shared audio (16 kHz mono 16-bit PCM WAV) until src/audio/wav.ts exists.
 * Scales by 1/32768 like librosa/torchaudio.
 */
export function readWav16kMono(file: string): Float32Array {
  const buf = readFileSync(file);
  if (buf.toString("ascii", 0, 4) !== "RIFF" || buf.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error(`${file}: not a RIFF/WAVE file`);
  }
  let offset = 12;
  let format: { channels: number; rate: number; bits: number; tag: number } | null = null;
  while (offset + 8 <= buf.length) {
    const id = buf.toString("ascii", offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      format = {
        tag: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === "data") {
      if (format?.tag !== 1 || format.channels !== 1 || format.rate !== 16000 || format.bits !== 16) {
        throw new Error(`${file}: expected 16 kHz mono 16-bit PCM, got ${JSON.stringify(format)}`);
      }
      const n = Math.floor(Math.min(size, buf.length - body) / 2);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(body + 2 * i) / 32768;
      return out;
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

export interface RttmTurn {
  start: number;
  end: number;
  speaker: string;
}

/** Turns of an RTTM file, in seconds. */
export function readRttm(file: string): RttmTurn[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("SPEAKER"))
    .map((line) => {
      const f = line.trim().split(/\s+/);
      const start = Number(f[3]);
      return { start, end: start + Number(f[4]), speaker: f[7] };
    });
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

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
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
