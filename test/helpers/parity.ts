import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { decodeWav } from "../../src/audio/wav.js";
import type { SpeakerEncoder } from "../../src/embedding/encoder.js";
import { cosine } from "../../src/registry/matcher.js";
import { sharedAudio } from "./paths.js";

/** Voiceprints a reference script computed with the original code, by file under ../shared/audio. */
export type ReferenceVoiceprints = Record<string, { samples: number; embedding: number[] }>;

/**
 * Each file's voiceprint from `encoder` (started) against the reference's: cosine >= 0.9999 and unit
 * length. Returns "<file> <cosine>" per file, for the log.
 */
export async function expectReferenceParity(
  encoder: SpeakerEncoder,
  files: ReferenceVoiceprints,
): Promise<string[]> {
  const entries = Object.entries(files);
  expect(entries.length).toBeGreaterThanOrEqual(6);
  const cosines: string[] = [];
  for (const [file, ref] of entries) {
    const samples = decodeWav(readFileSync(path.join(sharedAudio, file))).channelData[0];
    expect(samples.length).toBe(ref.samples);
    const voiceprint = await encoder.embedUtterance(samples);
    const c = cosine(voiceprint, Float32Array.from(ref.embedding));
    cosines.push(`${file} ${c.toFixed(6)}`);
    expect(c, file).toBeGreaterThanOrEqual(0.9999);
    // Unit length, as every encoder's voiceprint.
    expect(Math.hypot(...voiceprint)).toBeCloseTo(1, 5);
  }
  return cosines;
}
