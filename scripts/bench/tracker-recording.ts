/**
 * bench:stream's recordings (`--record FILE`, then `--replay FILE`): each stream's tracker input (the
 * VAD's segments and pauses, every window's voiceprint) with what scoring needs, so a change to the
 * speaker tracker is measured in seconds instead of an hour of models. A replay holds only while the
 * VAD, the speech windows and the encoder are those of the recording: it replays the tracker alone.
 * Bench data only (LibriSpeech streams), never a live stream; gzip'd JSON, voiceprints in base64.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import type { TrackerInput } from "../../src/identify/speaker-tracker.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { BenchSetupError } from "./setup.js";
import type { SpokenTurn } from "./turn-streams.js";

const FORMAT = "voiceid-tracker-recording/1";

export interface RecordedStream {
  condition: string;
  seed: number;
  audioSeconds: number;
  truth: SpokenTurn[];
  /** The registry as voiceid matches now, and its enrolled centroids only. */
  candidates: MatchCandidate[];
  enrolledOnly: MatchCandidate[];
  inputs: TrackerInput[];
}

export interface TrackerRecording {
  encoder: string;
  modelId: string;
  defaultThreshold: number;
  streams: RecordedStream[];
}

export function writeRecording(file: string, recording: TrackerRecording): void {
  const json = JSON.stringify({ format: FORMAT, ...recording }, (_key, value: unknown) =>
    value instanceof Float32Array
      ? { f32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") }
      : value,
  );
  writeFileSync(file, gzipSync(json));
}

export function readRecording(file: string): TrackerRecording {
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(readFileSync(file)).toString("utf8"), (_key, value: unknown) =>
      isEncodedVector(value) ? decodeVector(value.f32) : value,
    );
  } catch (err) {
    throw new BenchSetupError(
      `--replay ${file}: not a recording (${err instanceof Error ? err.message : err})`,
    );
  }
  const recording = parsed as Partial<TrackerRecording> & { format?: string };
  if (recording.format !== FORMAT || !Array.isArray(recording.streams)) {
    throw new BenchSetupError(`--replay ${file}: not a ${FORMAT} file (record one with --record)`);
  }
  return recording as TrackerRecording;
}

function isEncodedVector(value: unknown): value is { f32: string } {
  return typeof value === "object" && value !== null && typeof (value as { f32?: unknown }).f32 === "string";
}

function decodeVector(base64: string): Float32Array {
  const bytes = Buffer.from(base64, "base64");
  // A copy: the buffer's offset need not be a multiple of 4.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
