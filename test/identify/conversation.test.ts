import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import type { Decision } from "../../src/identify/decision.js";
import { conversationWav } from "../helpers/paths.js";
import {
  attribution,
  enrol,
  loadModels,
  type Models,
  readRttm,
  reportedTurns,
  runStream,
  SAMPLE_RATE,
  seconds,
} from "./helpers.js";

/**
 * The shared two-person conversation (speaker90, speaker91; short turns and an overlap) through the
 * daemon's speech pipeline with the real VAD and encoder. Its pauses are shorter than the VAD
 * hangover, so it is one speech segment: the speaker turns come from the tracker alone.
 *
 * The bar: at least 85 % of the single-speaker speech attributed to the right person (88 % now; the
 * algorithm before the tracker reached 80 %). 100 % is out of reach: Resemblyzer puts these two voices at
 * 0.83 cosine, a change is found within a fraction of a 1.6 s window, and the RTTM has 0.4-1.1 s turns
 * (three of the ten) that are absorbed by their neighbours.
 */
const audio = readWavAs16kMono(readFileSync(conversationWav));
const reference = readRttm();
const cut = (from: number, to: number) => audio.slice(seconds(from), seconds(to));

let models: Models;
let detections: Decision[] = [];

beforeAll(async () => {
  models = await loadModels();
  // Enrolment from one long turn of each (as a person would record them), the whole file streamed.
  const candidates = await enrol(models, {
    speaker90: cut(10.57, 14.7),
    speaker91: cut(21.78, 28.5),
  });
  detections = await runStream(models, candidates, audio);
});

afterAll(async () => {
  await models?.stop();
});

describe("live identification of a two-person conversation", () => {
  it("attributes at least 75 % of the single-speaker speech to the right person", () => {
    const result = attribution(reference, reportedTurns(detections));
    console.log(`conversation: ${(result.accuracy * 100).toFixed(1)} % of single-speaker speech named right`);
    expect(result.speechSeconds).toBeGreaterThan(20);
    expect(result.accuracy, JSON.stringify(result)).toBeGreaterThanOrEqual(0.85);
  });

  it("finds the turn changes, alternating between the two people", () => {
    const named = detections.filter((d) => d.type === "stopped" && d.speakerId !== null);
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
      // Speaker90 from 18.05 s starts inside an overlap with speaker91 and is found ~1.5 s late (of 3.4 s).
      expect(single.accuracy, `${ref.speaker} ${ref.start}-${ref.end}`).toBeGreaterThanOrEqual(0.54);
    }
  });
});
