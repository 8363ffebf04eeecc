import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import type { SpeakerEncoder } from "../../src/embedding/encoder.js";
import { ModelStack } from "../../src/embedding/stack.js";
import { SAMPLE_RATE, type VoiceprintExtractor } from "../../src/embedding/voiceprint.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";
import { librispeechDir, librispeechRoomDir } from "../helpers/paths.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const modelsDir = process.env["VOICEID_MODELS_DIR"] ?? path.join(repoRoot, "models");
export const ENCODER_ID = "resemblyzer-0.1.4";

/**
 * A LibriSpeech utterance of the shared audio, by speaker id (one utterance per speaker): as recorded,
 * or as the far-field room microphone hears it.
 */
export async function librispeech(speaker: string, heard: "dry" | "room" = "dry"): Promise<Uint8Array> {
  const dir = heard === "dry" ? librispeechDir : librispeechRoomDir;
  const files = await readdir(dir);
  const file = files.find((f) => f.startsWith(`${speaker}-`) && f.endsWith(".wav"));
  if (!file) throw new Error(`no LibriSpeech utterance for speaker ${speaker} in ${dir}`);
  return new Uint8Array(await readFile(path.join(dir, file)));
}

/** The part [from, to) of a LibriSpeech utterance, as fractions of its length (0.5, 1: the second half). */
export async function librispeechPart(
  speaker: string,
  heard: "dry" | "room",
  from: number,
  to: number,
): Promise<Uint8Array> {
  const wav = await librispeech(speaker, heard);
  const seconds = durationOf(wav);
  return slice(wav, from * seconds, to * seconds);
}

/** The part [from, to) seconds of a WAV, as a new 16 kHz mono WAV. */
export function slice(wav: Uint8Array, fromSeconds: number, toSeconds?: number): Uint8Array {
  const samples = readWavAs16kMono(wav);
  const end = toSeconds === undefined ? samples.length : Math.round(toSeconds * SAMPLE_RATE);
  return encodePcm16Wav(samples.subarray(Math.round(fromSeconds * SAMPLE_RATE), end), SAMPLE_RATE);
}

export function durationOf(wav: Uint8Array): number {
  return readWavAs16kMono(wav).length / SAMPLE_RATE;
}

export interface RealPipeline {
  extractor: VoiceprintExtractor;
  encoder: SpeakerEncoder;
  stop(): Promise<void>;
}

/** The real extractor: Resemblyzer ONNX encoder + Silero VAD from the models dir, as the daemon builds it. */
export async function realPipeline(): Promise<RealPipeline> {
  const stack = new ModelStack({ modelsDir, encoder: ENCODER_ID });
  await stack.start();
  return { extractor: stack.extractor, encoder: stack.encoder, stop: () => stack.stop() };
}

export interface TempRegistry {
  registry: SpeakerRegistry;
  dataDir: string;
  /** Every file under <dataDir>/clips, relative to it (sorted). */
  clipFiles(): Promise<string[]>;
  dispose(): Promise<void>;
}

/** A real SpeakerRegistry in a fresh temp dir. */
export async function tempRegistry(): Promise<TempRegistry> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-enrol-"));
  const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
  await registry.start();
  return {
    registry,
    dataDir,
    clipFiles: async () => {
      const clips = path.join(dataDir, "clips");
      if (!existsSync(clips)) return [];
      const entries = await readdir(clips, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => path.relative(clips, path.join(e.parentPath, e.name)))
        .sort();
    },
    dispose: async () => {
      await registry.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Bytes that are not audio: the first bytes of a PNG. */
export const PNG_BYTES = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);

/** A WAV whose data chunk declares more bytes than it carries. */
export function truncated(wav: Uint8Array, keepBytes = 8000): Uint8Array {
  return wav.slice(0, Math.min(wav.length - 2, keepBytes));
}

/** The voices the enrolment and HTTP tests use: LibriSpeech 103 (female), 1040 (male), 1235 (never enrolled). */
export function testVoices(): Promise<[Uint8Array, Uint8Array, Uint8Array]> {
  return Promise.all([librispeech("103"), librispeech("1040"), librispeech("1235")]);
}
