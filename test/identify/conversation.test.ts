import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { SpeechPipeline } from "../../src/daemon/speech-pipeline.js";
import type { Detection } from "../../src/identify/live-identifier.js";
import { silentLogger } from "../../src/util/log.js";
import { conversationWav } from "../helpers/paths.js";
import {
  attribution,
  enrol,
  IDENTIFICATION,
  loadModels,
  type Models,
  matcher,
  readRttm,
  reportedTurns,
  SAMPLE_RATE,
  seconds,
} from "./helpers.js";

/**
 * The shared two-person conversation (speaker90, speaker91; short turns and an overlap) through the
 * daemon's speech pipeline with the real VAD and encoder. Its pauses are shorter than the VAD
 * hangover, so it is one speech segment: the speaker turns come from the live identifier alone.
 *
 * The bar: at least 75 % of the single-speaker speech attributed to the right person. Before turn
 * splitting used the enrolled speakers it was 52 % (one turn named speaker91 for the whole segment:
 * Resemblyzer puts these two voices at 0.83 cosine, above the similarity rule's reach); now 80 %.
 * 100 % is out of reach by design: a turn needs two 1.6 s windows (~2.4 s) to be confirmed, and the
 * RTTM has 0.4-1.1 s turns (three of the ten) which are absorbed by their neighbours.
 */
const audio = readWavAs16kMono(readFileSync(conversationWav));
const reference = readRttm();
const cut = (from: number, to: number) => audio.slice(seconds(from), seconds(to));

let models: Models;
let detections: Detection[] = [];

beforeAll(async () => {
  models = await loadModels();
  // Enrolment from one long turn of each (as a person would record them), the whole file streamed.
  const candidates = await enrol(models, {
    speaker90: cut(10.57, 14.7),
    speaker91: cut(21.78, 28.5),
  });
  const pipeline = new SpeechPipeline({
    vad: models.streamVad,
    encoder: models.encoder,
    match: matcher(candidates),
    segmenter: {},
    identification: IDENTIFICATION,
    onDetection: (d) => {
      detections.push(d);
    },
    logger: silentLogger,
  });
  await pipeline.start();
  detections = [];
  for (let i = 0; i < audio.length; i += 512) await pipeline.accept(audio.subarray(i, i + 512));
  await pipeline.stop();
});

afterAll(async () => {
  await models?.stop();
});

describe("live identification of a two-person conversation", () => {
  it("attributes at least 75 % of the single-speaker speech to the right person", () => {
    const result = attribution(reference, reportedTurns(detections));
    expect(result.speechSeconds).toBeGreaterThan(20);
    expect(result.accuracy, JSON.stringify(result)).toBeGreaterThanOrEqual(0.75);
  });

  it("finds the turn changes inside one VAD segment, alternating between the two people", () => {
    const named = detections.filter((d) => d.type === "stopped" && d.speakerId !== null);
    expect(new Set(named.map((d) => d.segmentId)).size).toBe(1);
    expect(named.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < named.length; i++) expect(named[i].speakerId).not.toBe(named[i - 1].speakerId);
    expect(new Set(named.map((d) => d.speakerId))).toEqual(new Set(["speaker90", "speaker91"]));
  });

  it("reports each turn once (started, then stopped) with contiguous, ordered extents", () => {
    const stopped = detections.filter((d) => d.type === "stopped");
    for (const turn of stopped) {
      const own = detections.filter((d) => d.turnId === turn.turnId);
      expect(own[0].type).toBe("started");
      expect(own.filter((d) => d.type === "started")).toHaveLength(1);
      expect(own.at(-1)).toBe(turn);
    }
    for (let i = 1; i < stopped.length; i++) {
      const previous = stopped[i - 1];
      expect(stopped[i].startS).toBeGreaterThanOrEqual(previous.startS + previous.durationS - 1e-6);
    }
    const last = stopped.at(-1)!;
    expect(last.startS + last.durationS).toBeLessThanOrEqual(audio.length / SAMPLE_RATE + 1e-6);
  });

  it("matches the reference turns: each long RTTM turn is mostly inside a turn named for its speaker", () => {
    const turns = reportedTurns(detections);
    for (const ref of reference.filter((r) => r.end - r.start >= 3)) {
      const single = attribution([ref], turns);
      expect(single.accuracy, `${ref.speaker} ${ref.start}-${ref.end}`).toBeGreaterThanOrEqual(0.6);
    }
  });
});
