import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeVolume } from "../../src/audio/volume.js";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { createEncoder } from "../../src/embedding/factory.js";
import { VoiceprintExtractor } from "../../src/embedding/voiceprint.js";
import { cosine } from "../../src/registry/matcher.js";
import { SileroVad, sileroModelPath } from "../../src/vad/silero.js";
import { librispeechSpeakers, librispeechWav, modelsDir, repoRoot } from "../helpers/paths.js";

interface Reference {
  versions: Record<string, string>;
  files: Record<string, { notrim: number[]; trim: number[]; trimSamples: number; samples: number }>;
}

// Produced by scripts/reference/resemblyzer_voiceprints.py with the original Python Resemblyzer.
const reference = JSON.parse(
  readFileSync(path.join(repoRoot, "test/fixtures/resemblyzer-reference.json"), "utf8"),
) as Reference;

describe("Resemblyzer voiceprints against the original Python package", () => {
  const encoder = createEncoder("resemblyzer-0.1.4", { modelsDir });
  const vad = new SileroVad({ modelPath: sileroModelPath(modelsDir) });
  const extractor = new VoiceprintExtractor(encoder, vad);
  const speakers = librispeechSpeakers();

  beforeAll(async () => {
    await encoder.start();
    await vad.start();
  });
  afterAll(async () => {
    await vad.stop();
    await encoder.stop();
  });

  it("covers all 120 LibriSpeech files", () => {
    expect(speakers).toHaveLength(120);
    for (const s of speakers) expect(reference.files[s.file], s.file).toBeDefined();
  });

  it("gives cosine >= 0.999 with silence trimming off on both sides, for every file", async () => {
    const cosines: number[] = [];
    for (const s of speakers) {
      const wav = readWavAs16kMono(readFileSync(librispeechWav(s.file)));
      expect(wav.length).toBe(reference.files[s.file].samples);
      const embedding = await encoder.embedUtterance(normalizeVolume(wav, -30, { increaseOnly: true }));
      cosines.push(cosine(embedding, reference.files[s.file].notrim));
    }
    const worst = Math.min(...cosines);
    console.log(`parity without trimming: min cosine ${worst.toFixed(6)} over ${cosines.length} files`);
    for (const [i, c] of cosines.entries()) expect(c, speakers[i].file).toBeGreaterThanOrEqual(0.999);
  });

  it("stays close to the original with trimming on (Silero here, webrtcvad there)", async () => {
    const cosines: number[] = [];
    for (const s of speakers) {
      const vp = await extractor.fromWav(readFileSync(librispeechWav(s.file)), { trim: true });
      cosines.push(cosine(vp.embedding, reference.files[s.file].trim));
    }
    const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    console.log(`parity with trimming: min ${Math.min(...cosines).toFixed(4)}, mean ${mean.toFixed(4)}`);
    // Different VADs keep different pauses, so voiceprints differ a little; they must still agree.
    expect(mean).toBeGreaterThan(0.99);
    expect(Math.min(...cosines)).toBeGreaterThan(0.97);
  });
});
