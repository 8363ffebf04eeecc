import { describe, expect, it } from "vitest";
import { DEFAULT_TRACKER_OPTIONS } from "../../src/identify/speaker-tracker.js";
import {
  cosineSpread,
  type PlacedWindow,
  placeChange,
  voiceChangeEvidence,
  voiceChangeModel,
} from "../../src/identify/voice-change.js";
import { cosine } from "../../src/registry/matcher.js";

const RATE = 16_000;
const WINDOW = 1.6 * RATE;
const HOP = 0.2 * RATE;

/** Windows over speech whose voice changes from `a` to `b` at `change` (samples): each a mix by its share. */
function windowsAcross(
  change: number,
  from: number,
  to: number,
  a: Float32Array,
  b: Float32Array,
): PlacedWindow[] {
  const out: PlacedWindow[] = [];
  for (let end = from + WINDOW; end <= to; end += HOP) {
    const start = end - WINDOW;
    const after = Math.min(1, Math.max(0, (end - change) / WINDOW));
    out.push({ start, end, embedding: a.map((x, i) => (1 - after) * x + after * b[i]) });
  }
  return out;
}

const unit = (i: number) => {
  const v = new Float32Array(8);
  v[i] = 1;
  return v;
};
const [A, B] = [unit(0), unit(1)];
const likeness = (w: PlacedWindow) => cosine(w.embedding, B) - cosine(w.embedding, A);

describe("placeChange", () => {
  it("finds the point where the windows turn from one voice to the other", () => {
    const change = 5 * RATE;
    const windows = windowsAcross(change, 2 * RATE, 7 * RATE, A, B);
    const placed = placeChange(
      windows,
      likeness,
      { gaps: [], pauses: [] },
      { from: 2 * RATE, to: 7 * RATE },
      { reach: 0, lengthWeight: 0 },
    );
    expect(Math.abs(placed.start - change) / RATE).toBeLessThan(0.05);
    expect(placed.snapped).toBe(false);
  });

  it("places the change on a pause the VAD saw nearby, the old voice ending where the pause begins", () => {
    const change = 5 * RATE;
    const windows = windowsAcross(change, 2 * RATE, 7 * RATE, A, B);
    const pause = { start: 4.7 * RATE, end: 4.9 * RATE };
    const far = { start: 3 * RATE, end: 3.4 * RATE };
    const placed = placeChange(
      windows,
      likeness,
      { gaps: [], pauses: [far, pause] },
      { from: 2 * RATE, to: 7 * RATE },
      { reach: 0.3 * RATE, lengthWeight: 0 },
    );
    expect(placed).toEqual({ end: pause.start, start: pause.end, snapped: true });
  });

  it("snaps only to pauses that reach into the range the change may lie in", () => {
    const change = 5 * RATE;
    const windows = windowsAcross(change, 2 * RATE, 7 * RATE, A, B);
    const before = { start: 4.6 * RATE, end: 4.8 * RATE };
    const placedFrom = (fromS: number) =>
      placeChange(
        windows,
        likeness,
        { gaps: [], pauses: [before] },
        { from: fromS * RATE, to: 7 * RATE },
        { reach: 0.5 * RATE, lengthWeight: 0 },
      );
    expect(placedFrom(2)).toEqual({ end: before.start, start: before.end, snapped: true });
    expect(placedFrom(4.9).snapped).toBe(false);
    expect(placedFrom(4.9).start).toBeGreaterThanOrEqual(4.9 * RATE);
  });

  it("prefers a longer pause to a stop inside a word, unless the windows say the change is elsewhere", () => {
    // Two voices 0.6 alike (as CAM++'s windows of two people are, about), the windows turning at 4.8 s,
    // where there is a 30 ms stop; a 200 ms pause begins a little later.
    const C = new Float32Array(8);
    C[0] = 0.6;
    C[1] = 0.8;
    const windows = windowsAcross(4.8 * RATE, 2 * RATE, 7 * RATE, A, C);
    const stop = { start: 4.785 * RATE, end: 4.815 * RATE };
    const placedWith = (pauseStartS: number, lengthWeight: number) =>
      placeChange(
        windows,
        (w) => cosine(w.embedding, C) - cosine(w.embedding, A),
        { gaps: [], pauses: [stop, { start: pauseStartS * RATE, end: (pauseStartS + 0.2) * RATE }] },
        { from: 2 * RATE, to: 7 * RATE },
        { reach: 0.8 * RATE, lengthWeight },
      ).start / RATE;
    // The weight CAM++ runs with (the tracker's, on its scale).
    const weight = DEFAULT_TRACKER_OPTIONS.pauseLengthWeight * cosineSpread("campplus-zh-en") ** 2;
    expect(placedWith(5, 0)).toBeCloseTo(4.815, 3);
    expect(placedWith(5, weight)).toBeCloseTo(5.2, 3);
    expect(placedWith(5.1, weight)).toBeCloseTo(4.815, 3);
  });
});

describe("voiceChangeEvidence", () => {
  it("is for another voice when a window is unlike its turn, against it when alike, and bounded", () => {
    const model = voiceChangeModel("resemblyzer-0.1.4");
    expect(voiceChangeEvidence(0.5, model)).toBeGreaterThan(0);
    expect(voiceChangeEvidence(0.9, model)).toBeLessThan(0);
    expect(Math.abs(voiceChangeEvidence(-1, model))).toBeLessThanOrEqual(4);
    // The two are equally likely between the calibrated means.
    const crossing = [0.6, 0.65, 0.7, 0.75].find((s) => voiceChangeEvidence(s, model) < 0);
    expect(crossing).toBeDefined();
  });
});
