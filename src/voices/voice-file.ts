/** unknown-voices.json: the kept voices on disk (voiceprints as base64 float32, validated on read). */
import { readFile, rename } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "../registry/storage.js";
import type { KeptTurn, KeptVoice } from "./voice-groups.js";
import { VOICE_ID_PATTERN } from "./voice-groups.js";

export const VOICES_FILE_NAME = "unknown-voices.json";
export const VOICE_CLIPS_DIR_NAME = "unknown-voices";
const VERSION = 1;
const CLIP_NAME = /^[a-z0-9-]{1,64}\.wav$/;

const turnSchema = z.strictObject({
  key: z.string().regex(/^[a-z0-9-]{1,60}$/),
  at: z.iso.datetime(),
  room: z.string().max(200),
  speechSeconds: z.number().min(0),
  durationSeconds: z.number().min(0),
  voiceprint: z.base64().max(65_536),
  clip: z.string().regex(CLIP_NAME).nullable(),
});

const fileSchema = z.strictObject({
  version: z.literal(VERSION),
  /** Voiceprints of another encoder cannot be compared: a change of encoder starts afresh. */
  modelId: z.string(),
  nextVoice: z.int().min(1),
  voices: z.array(
    z.strictObject({
      id: z.string().regex(VOICE_ID_PATTERN),
      createdAt: z.iso.datetime(),
      ignored: z.boolean(),
      label: z.string().max(64).nullable(),
      turns: z.array(turnSchema),
    }),
  ),
});

export interface VoicesFileData {
  modelId: string;
  nextVoice: number;
  voices: KeptVoice[];
}

function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}

function decodeVector(text: string): Float32Array {
  const bytes = Buffer.from(text, "base64");
  const out = new Float32Array(Math.floor(bytes.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

export function serializeVoices(data: VoicesFileData): string {
  return JSON.stringify({
    version: VERSION,
    modelId: data.modelId,
    nextVoice: data.nextVoice,
    voices: data.voices.map((v) => ({
      ...v,
      turns: v.turns.map((t) => ({ ...t, voiceprint: encodeVector(t.voiceprint) })),
    })),
  });
}

/** The kept voices, or null when there is no file. Throws with the reason on a file it cannot trust. */
export async function readVoicesFile(file: string): Promise<VoicesFileData | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? "invalid");
  const voices = parsed.data.voices.map(
    (v): KeptVoice => ({
      ...v,
      turns: v.turns.map((t): KeptTurn => ({ ...t, voiceprint: decodeVector(t.voiceprint) })),
    }),
  );
  return { modelId: parsed.data.modelId, nextVoice: parsed.data.nextVoice, voices };
}

export function writeVoicesFile(file: string, data: VoicesFileData): Promise<void> {
  return writeFileAtomic(file, serializeVoices(data));
}

/** A file that cannot be trusted is kept aside for a look, never overwritten. */
export async function setAside(file: string): Promise<string> {
  const aside = `${file}.corrupt-${Date.now()}`;
  await rename(file, aside);
  return aside;
}

export function isClipName(name: string): boolean {
  return CLIP_NAME.test(name);
}
