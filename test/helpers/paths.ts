import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resolveModelsDir } from "../../src/models/paths.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Real speech shared beside the checkout (never copied into the repo). */
export const sharedAudio = path.resolve(repoRoot, "../shared/audio");
export const librispeechDir = path.join(sharedAudio, "librispeech-train-clean-100");
export const librispeechWav = (name: string): string => path.join(librispeechDir, name);
/** The same files as a far-field room microphone hears them. */
export const librispeechRoomDir = path.join(sharedAudio, "librispeech-room");
export const conversationWav = path.join(sharedAudio, "conversation/sample.wav");
export const conversationRttm = path.join(sharedAudio, "conversation/sample.rttm");
export const modelsDir = resolveModelsDir();

export interface LibriSpeaker {
  id: string;
  sex: string;
  file: string;
  seconds: number;
}

/** The 120 utterances listed in speakers.tsv, one per speaker. */
export function librispeechSpeakers(): LibriSpeaker[] {
  const lines = readFileSync(path.join(librispeechDir, "speakers.tsv"), "utf8").trim().split("\n");
  const rows = lines.map((l) => l.split("\t"));
  const start = /^\d/.test(rows[0][0]) ? 0 : 1;
  // The file column is relative to the audio folder (e.g. "librispeech-train-clean-100/103-1240-0000.wav").
  return rows
    .slice(start)
    .map(([id, sex, file, seconds]) => ({ id, sex, file: path.basename(file), seconds: Number(seconds) }));
}
