import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Detection, LiveIdentifier } from "../../src/identify/live-identifier.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import {
  concat,
  enrol,
  IDENTIFICATION,
  loadModels,
  type Models,
  matcher,
  SAMPLE_RATE,
  seconds,
  utterance,
} from "./helpers.js";

// Utterances of at least 15 s (speakers.tsv), two female and two male readers.
const LONG = ["198-126831-0000", "229-130880-0000", "441-128982-0000", "911-128684-0000"];
const A = "198-126831-0000";
const B = "229-130880-0000";

let models: Models;
let candidates: MatchCandidate[];
const firstHalf = (x: Float32Array) => x.subarray(0, x.length >> 1);
const secondHalf = (x: Float32Array) => x.subarray(x.length >> 1);

beforeAll(async () => {
  models = await loadModels();
  candidates = await enrol(models, { A: firstHalf(utterance(A)), B: firstHalf(utterance(B)) });
});

afterAll(async () => {
  await models?.stop();
});

/** Feeds `samples` as ONE VAD segment starting at stream position `start`, in 32 ms chunks. */
async function runSegment(
  samples: Float32Array,
  enrolled: readonly MatchCandidate[] = candidates,
  start = seconds(2),
): Promise<Detection[]> {
  const detections: Detection[] = [];
  const live = new LiveIdentifier(models.encoder, matcher(enrolled), IDENTIFICATION, (d) => {
    detections.push(d);
  });
  await live.segmentStarted(start, samples.subarray(0, 512));
  for (let i = 512; i < samples.length; i += 512) await live.segmentAudio(samples.subarray(i, i + 512));
  await live.segmentEnded(start + samples.length);
  expect(live.inSegment).toBe(false);
  return detections;
}

const stopped = (ds: Detection[]) => ds.filter((d) => d.type === "stopped");

/**
 * A new turn starts at the first 1.6 s window that sounds like the new voice, so that window holds
 * some of it: the reported start is before the true change, by less than one window.
 */
function expectBoundary(reportedS: number, trueS: number): void {
  expect(reportedS).toBeLessThanOrEqual(trueS + 0.01);
  expect(reportedS).toBeGreaterThan(trueS - 1.6);
}

describe("LiveIdentifier on single-speaker speech", () => {
  it.each(LONG)("reports a 15 s utterance of %s as ONE turn", async (stem) => {
    const samples = utterance(stem);
    expect(samples.length).toBeGreaterThanOrEqual(seconds(15));
    const ds = await runSegment(samples);
    expect(ds.filter((d) => d.type === "started")).toHaveLength(1);
    expect(stopped(ds)).toHaveLength(1);
    const [final] = stopped(ds);
    expect(final.startS).toBe(2);
    expect(final.durationS).toBeCloseTo(samples.length / SAMPLE_RATE, 3);
    // A and B are enrolled (on the first halves of these very files); the others are strangers.
    if (stem === A) expect(final.speakerId).toBe("A");
    else if (stem === B) expect(final.speakerId).toBe("B");
    else {
      expect(final.speakerId).toBeNull();
      expect(final.reason).toBe("unknown");
    }
  });

  it("announces after the first 1.6 s window and keeps turn ids and order", async () => {
    const ds = await runSegment(secondHalf(utterance(A)));
    expect(ds[0].type).toBe("started");
    expect(ds[0].speakerId).toBe("A");
    // The first decision rests on one window: at 1.6 s of speech, not at the end.
    expect(ds[0].durationS).toBeCloseTo(1.6, 1);
    expect(ds[0].windows).toBe(1);
    expect(ds.at(-1)?.type).toBe("stopped");
    expect(new Set(ds.map((d) => d.turnId)).size).toBe(1);
  });

  it("says unknown (never the nearest enrolled speaker) for a stranger", async () => {
    const ds = await runSegment(utterance("911-128684-0000"));
    for (const d of ds) {
      expect(d.speakerId).toBeNull();
      expect(d.speaker).toBeNull();
      expect(d.reason).toBe("unknown");
      expect(d.nearestSpeaker).not.toBeNull();
    }
  });

  it("reports speech shorter than minSpeechSeconds as too_short", async () => {
    const ds = await runSegment(secondHalf(utterance(A)).subarray(0, seconds(0.7)));
    expect(ds.map((d) => d.type)).toEqual(["started", "stopped"]);
    expect(ds[1].reason).toBe("too_short");
    expect(ds[1].speakerId).toBeNull();
  });

  it("with nobody enrolled, reports unknown", async () => {
    const ds = await runSegment(secondHalf(utterance(A)), []);
    expect(stopped(ds)).toHaveLength(1);
    expect(stopped(ds)[0].reason).toBe("unknown");
  });
});

describe("LiveIdentifier on two speakers in one segment", () => {
  const a = () => secondHalf(utterance(A));
  const b = () => secondHalf(utterance(B));

  it("splits enrolled A then B into two named turns at the change", async () => {
    const start = seconds(2);
    const ds = await runSegment(concat(a(), b()), candidates, start);
    const turns = stopped(ds);
    expect(turns.map((d) => d.speakerId)).toEqual(["A", "B"]);
    const change = (start + a().length) / SAMPLE_RATE;
    expectBoundary(turns[1].startS, change);
    expect(turns[0].startS + turns[0].durationS).toBeCloseTo(turns[1].startS, 5);
    // Every turn is announced once and stopped once.
    for (const turn of turns) {
      expect(ds.filter((d) => d.turnId === turn.turnId && d.type === "started")).toHaveLength(1);
    }
  });

  it("splits two different strangers by voice similarity when nobody is enrolled", async () => {
    const ds = await runSegment(concat(a(), b()), []);
    const turns = stopped(ds);
    expect(turns).toHaveLength(2);
    expect(turns.every((d) => d.reason === "unknown")).toBe(true);
    expectBoundary(turns[1].startS, (seconds(2) + a().length) / SAMPLE_RATE);
  });

  it("names a late second speaker even when the split comes from the last (tail) window", async () => {
    // B speaks for ~2.4 s at the end: the split can only be confirmed by the segment-end window.
    const ds = await runSegment(concat(a(), b().subarray(0, seconds(2.4))));
    const turns = stopped(ds);
    expect(turns.map((d) => d.speakerId)).toEqual(["A", "B"]);
  });
});
