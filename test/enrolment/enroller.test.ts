import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SAMPLE_RATE } from "../../src/embedding/voiceprint.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { ClipError, NoClipsError } from "../../src/enrolment/errors.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { SpeakerNotFoundError } from "../../src/registry/errors.js";
import {
  durationOf,
  PNG_BYTES,
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
  testVoices,
  truncated,
} from "./helpers.js";

// Two clearly different voices (female 103, male 1040), each ~14 s of read speech, and an outsider (male 1235).
let pipeline: RealPipeline;
let female: Uint8Array;
let male: Uint8Array;
let outsider: Uint8Array;

beforeAll(async () => {
  pipeline = await realPipeline();
  [female, male, outsider] = await testVoices();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let enroller: Enroller;
beforeEach(async () => {
  temp = await tempRegistry();
  enroller = new Enroller(temp.registry, pipeline.extractor);
});
afterEach(() => temp.dispose());

describe("Enroller.enrol", () => {
  it("adds one sample per clip, keeps the WAVs, and reports consistency against earlier samples", async () => {
    await temp.registry.create("Alice");
    const result = await enroller.enrol("Alice", [
      { bytes: slice(female, 0, 7), source: "cli", name: "a.wav" },
      { bytes: slice(female, 7), source: "cli", name: "b.wav" },
    ]);
    expect(result.created).toBe(false);
    expect(result.speaker.samples.map((s) => s.id)).toEqual(result.clips.map((c) => c.sampleId));
    const [first, second] = result.clips;
    expect(first.name).toBe("a.wav");
    expect(first.consistency).toBeNull(); // nothing to compare with yet
    expect(first.durationSeconds).toBeCloseTo(7, 2);
    // Silence trimming: less speech than audio, but plenty of it in LibriSpeech read speech.
    expect(first.speechSeconds).toBeGreaterThan(3);
    expect(first.speechSeconds).toBeLessThan(7);
    expect(second.consistency).not.toBeNull();
    expect(second.consistency!.mean).toBeGreaterThan(0.75);
    expect(first.warnings).toEqual([]);
    expect(second.warnings).toEqual([]);
    const sampleIds = result.speaker.samples.map((s) => s.id);
    expect(await temp.clipFiles()).toEqual(sampleIds.map((id) => `alice/${id}.wav`).sort());
    const stored = temp.registry.get("alice")!;
    expect(Object.keys(stored.samples[0].voiceprints)).toEqual([pipeline.extractor.modelId]);
    expect(stored.samples[0].voiceprints[pipeline.extractor.modelId]).toHaveLength(256);
  });

  it("writes nothing when one clip of the batch is bad, and names that clip", async () => {
    await temp.registry.create("Bob");
    const before = temp.registry.get("bob");
    const err = await enroller
      .enrol("Bob", [
        { bytes: slice(male, 0, 4), source: "http", name: "good.wav" },
        { bytes: truncated(slice(male, 4, 8)), source: "http", name: "cut.wav" },
        { bytes: slice(male, 8, 12), source: "http", name: "also-good.wav" },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClipError);
    const clipError = err as ClipError;
    expect(clipError.clipIndex).toBe(1);
    expect(clipError.code).toBe("invalid_wav");
    expect(clipError.message).toMatch(/^clip 2 of 3 \("cut\.wav"\): truncated WAV/);
    expect(temp.registry.get("bob")).toEqual(before);
    expect(await temp.clipFiles()).toEqual([]);
  });

  it("reports silence as no speech, not-audio as unreadable, and does not create the speaker", async () => {
    const silence = encodePcm16Wav(new Float32Array(2 * SAMPLE_RATE), SAMPLE_RATE);
    const noSpeech = await enroller
      .enrol(
        "Carol",
        [
          { bytes: slice(female, 0, 4), source: "cli" },
          { bytes: silence, source: "cli", name: "quiet.wav" },
        ],
        {
          create: true,
        },
      )
      .catch((e: unknown) => e);
    expect(noSpeech).toBeInstanceOf(ClipError);
    expect((noSpeech as ClipError).code).toBe("no_speech");
    expect((noSpeech as ClipError).message).toMatch(/clip 2 of 2 \("quiet\.wav"\): no speech/);

    const png = await enroller
      .enrol("Carol", [{ bytes: PNG_BYTES, source: "cli" }], { create: true })
      .catch((e: unknown) => e);
    expect((png as ClipError).message).toMatch(/^clip 1 of 1: not a WAV file/);
    expect(temp.registry.list()).toEqual([]);
    expect(await temp.clipFiles()).toEqual([]);
  });

  it("creates the speaker on demand only when asked", async () => {
    await expect(
      enroller.enrol("Dave", [{ bytes: slice(male, 0, 4), source: "cli" }]),
    ).rejects.toBeInstanceOf(SpeakerNotFoundError);
    const result = await enroller.enrol("Dave", [{ bytes: slice(male, 0, 4), source: "cli" }], {
      create: true,
    });
    expect(result.created).toBe(true);
    expect(result.speaker).toMatchObject({ id: "dave", name: "Dave" });
    expect(result.speaker.samples).toHaveLength(1);
    await expect(enroller.enrol("Dave", [])).rejects.toBeInstanceOf(NoClipsError);
  });

  it("warns about a short clip and about a clip of a different voice, but enrols them", async () => {
    await temp.registry.create("Alice");
    await enroller.enrol("Alice", [{ bytes: slice(female, 0, 6), source: "cli" }]);
    const result = await enroller.enrol("Alice", [
      { bytes: slice(female, 6, 7.5), source: "cli", name: "short.wav" },
      { bytes: male, source: "cli", name: "bob.wav" },
    ]);
    const [short, other] = result.clips;
    expect(short.speechSeconds).toBeLessThan(3);
    expect(short.warnings).toEqual([
      `too little speech: ${short.speechSeconds.toFixed(1)} s, aim for at least 3 s`,
    ]);
    expect(other.consistency!.mean).toBeLessThan(0.75);
    expect(other.warnings).toEqual([
      `this clip sounds like a different voice than the other samples (similarity ${other.consistency!.mean.toFixed(2)})`,
    ]);
    expect(temp.registry.get("alice")!.samples).toHaveLength(3);
  });

  it("refuses clips longer than maxClipSeconds", async () => {
    await temp.registry.create("Alice");
    const err = await enroller
      .enrol("Alice", [{ bytes: female, source: "http" }], { maxClipSeconds: 10 })
      .catch((e: unknown) => e);
    expect((err as ClipError).code).toBe("clip_too_long");
    expect((err as ClipError).message).toMatch(/at most 10 s/);
    expect(temp.registry.get("alice")!.samples).toEqual([]);
  });

  it("keeps no clip files when keepClips is false", async () => {
    const noClips = new Enroller(temp.registry, pipeline.extractor, { keepClips: false });
    const result = await noClips.enrol("Eve", [{ bytes: slice(female, 0, 4), source: "cli" }], {
      create: true,
    });
    expect(result.speaker.samples[0].clip).toBeUndefined();
    expect(await temp.clipFiles()).toEqual([]);
  });
});

describe("Enroller.identifyWav", () => {
  it("identifies the held-out half of an enrolled speaker and rejects an unenrolled one", async () => {
    const half = durationOf(male) / 2;
    await enroller.enrol("Alice", [{ bytes: slice(female, 0, 7), source: "cli" }], { create: true });
    await enroller.enrol("Bob", [{ bytes: slice(male, 0, half), source: "cli" }], { create: true });

    const bob = await enroller.identifyWav(slice(male, half));
    expect(bob.speaker).toBe("Bob");
    expect(bob.speakerId).toBe("bob");
    expect(bob.reason).toBeNull();
    expect(bob.threshold).toBe(0.82);
    expect(bob.score).toBe(bob.scores.Bob);
    expect(bob.scores.Bob).toBeGreaterThan(bob.scores.Alice);
    expect(bob.margin).toBeCloseTo(bob.scores.Bob - bob.scores.Alice, 6);
    expect(bob.speechSeconds).toBeGreaterThan(3);

    const stranger = await enroller.identifyWav(outsider);
    expect(stranger.speaker).toBeNull();
    expect(stranger.reason).toBe("unknown");
    expect(stranger.score!).toBeLessThan(0.82);
    expect(stranger.nearestSpeaker).not.toBeNull();
  });

  it("says unknown, with no score, when nobody is enrolled", async () => {
    const result = await enroller.identifyWav(slice(male, 0, 4));
    expect(result).toMatchObject({ speaker: null, score: null, reason: "unknown", scores: {} });
  });
});
