import { describe, expect, it } from "vitest";
import {
  DEFAULT_SEGMENTER_CONFIG,
  resolveSegmenterConfig,
  type SegmenterConfig,
  SegmenterConfigError,
  type SegmenterEvent,
  SegmenterInputError,
  SpeechSegmenter,
} from "../../src/vad/segmenter.js";

const W = 512;

/** Builds a probability sequence from [probability, windows] runs. */
function seq(...runs: [number, number][]): number[] {
  return runs.flatMap(([p, n]) => Array<number>(n).fill(p));
}

function run(probs: number[], config: Partial<SegmenterConfig> = {}, flush = false): SegmenterEvent[] {
  const seg = new SpeechSegmenter(config);
  const events = probs.flatMap((p) => seg.push(p));
  return flush ? [...events, ...seg.flush()] : events;
}

describe("SpeechSegmenter", () => {
  it("has the documented defaults", () => {
    expect(DEFAULT_SEGMENTER_CONFIG).toEqual({
      startThreshold: 0.5,
      stopThreshold: 0.35,
      minSpeechMs: 250,
      hangoverMs: 400,
      preRollMs: 200,
      postRollMs: 100,
      maxSegmentMs: 30_000,
    });
  });

  it("emits start at onset, confirmed after minSpeech, end after the hangover, with sample positions", () => {
    const events = run(seq([0, 20], [0.9, 20], [0, 20]));
    expect(events).toEqual([
      // Onset window 20 (sample 10240) minus 200 ms pre-roll (3200 samples).
      {
        type: "speech-start",
        segment: 0,
        startSample: 7040,
        onsetSample: 10240,
        continued: false,
        atSample: 21 * W,
      },
      // 8 windows = 4096 samples >= 250 ms (4000).
      { type: "speech-confirmed", segment: 0, startSample: 7040, atSample: 28 * W },
      // Last speech window ends at 40 * 512; 13 silent windows >= 400 ms; +100 ms post-roll.
      {
        type: "speech-end",
        segment: 0,
        startSample: 7040,
        endSample: 40 * W + 1600,
        reason: "silence",
        discarded: false,
        speechSamples: 20 * W,
        atSample: 53 * W,
      },
    ]);
  });

  it("uses hysteresis: start needs startThreshold, speech holds above stopThreshold", () => {
    // Between the thresholds: never starts a segment.
    expect(run(seq([0.4, 50]))).toEqual([]);
    // Once started, 0.4 keeps the segment alive indefinitely (no end during 60 windows).
    const held = run(seq([0.6, 10], [0.4, 60]));
    expect(held.map((e) => e.type)).toEqual(["speech-start", "speech-confirmed"]);
    // After a dip below stopThreshold, 0.4 counts as silence: the end comes 13 windows after the dip.
    const ended = run(seq([0.6, 10], [0.4, 5], [0.2, 1], [0.4, 12], [0.4, 5]));
    const end = ended.find((e) => e.type === "speech-end");
    expect(end).toMatchObject({ endSample: 15 * W + 1600, atSample: 28 * W, reason: "silence" });
  });

  it("resumes the same segment when speech returns within the hangover", () => {
    const events = run(seq([0.9, 10], [0.1, 12], [0.9, 10], [0.1, 13]));
    expect(events.filter((e) => e.type === "speech-start")).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({
      type: "speech-end",
      endSample: 32 * W + 1600,
      speechSamples: 32 * W,
    });
  });

  it("reports a pause inside a segment, from the end of speech to where it resumed, once", () => {
    const seg = new SpeechSegmenter();
    for (const p of seq([0.9, 10], [0.1, 6], [0.9, 10])) seg.push(p);
    expect(seg.takePauses()).toEqual([{ start: 10 * W, end: 16 * W }]);
    expect(seg.takePauses()).toEqual([]);
    // A silence that ends the segment is no pause inside it.
    for (const p of seq([0.1, 20], [0.9, 10])) seg.push(p);
    expect(seg.takePauses()).toEqual([]);
  });

  it("marks bursts shorter than minSpeechMs as discarded and never confirms them", () => {
    const events = run(seq([0, 10], [0.9, 5], [0, 20]));
    expect(events.map((e) => e.type)).toEqual(["speech-start", "speech-end"]);
    expect(events[1]).toMatchObject({ discarded: true, speechSamples: 5 * W, reason: "silence" });
    // With a shorter minimum the same burst is kept.
    const kept = run(seq([0, 10], [0.9, 5], [0, 20]), { minSpeechMs: 100 });
    expect(kept.map((e) => e.type)).toEqual(["speech-start", "speech-confirmed", "speech-end"]);
    expect(kept[2]).toMatchObject({ discarded: false });
  });

  it("clips the pre-roll at stream start", () => {
    const [start] = run(seq([0, 2], [0.9, 10]));
    expect(start).toMatchObject({ type: "speech-start", startSample: 0, onsetSample: 2 * W });
  });

  it("clips the pre-roll at the end of the previous kept segment, but not of a discarded one", () => {
    const config = { preRollMs: 400 }; // 6400 samples
    const events = run(seq([0.9, 10], [0, 14], [0.9, 10]), config);
    const firstEnd = events.find((e) => e.type === "speech-end");
    expect(firstEnd).toMatchObject({ endSample: 10 * W + 1600, discarded: false });
    const starts = events.filter((e) => e.type === "speech-start");
    expect(starts[1]).toMatchObject({ onsetSample: 24 * W, startSample: 10 * W + 1600 });

    const afterDiscarded = run(seq([0.9, 3], [0, 14], [0.9, 10]), config);
    const second = afterDiscarded.filter((e) => e.type === "speech-start")[1];
    expect(second).toMatchObject({ onsetSample: 17 * W, startSample: 17 * W - 6400 });
  });

  it("splits at maxSegmentMs exactly and continues at once while speech goes on", () => {
    const events = run(seq([0, 10], [0.9, 100], [0, 20]), { maxSegmentMs: 1000 });
    const ends = events.filter((e) => e.type === "speech-end");
    const starts = events.filter((e) => e.type === "speech-start");
    // First segment: start 5120 - 3200 = 1920, cut at 1920 + 16000.
    expect(ends[0]).toMatchObject({
      startSample: 1920,
      endSample: 17920,
      reason: "max-length",
      discarded: false,
    });
    expect(starts[1]).toMatchObject({ startSample: 17920, onsetSample: 17920, continued: true });
    expect(ends[1]).toMatchObject({ startSample: 17920, endSample: 33920, reason: "max-length" });
    // Continuations are confirmed immediately.
    const afterSplit = events.indexOf(starts[1]);
    expect(events[afterSplit + 1]).toMatchObject({ type: "speech-confirmed", segment: starts[1].segment });
    // Contiguous, each at most 1 s, the last one ends by silence.
    for (let i = 1; i < ends.length; i++) expect(ends[i].startSample).toBe(ends[i - 1].endSample);
    for (const e of ends) expect(e.endSample - e.startSample).toBeLessThanOrEqual(16000);
    expect(ends.at(-1)).toMatchObject({ reason: "silence", endSample: 110 * W + 1600 });
  });

  it("ends without a continuation when the limit falls inside the hangover silence", () => {
    // Segment starts at 0 (pre-roll clipped); 28 speech windows = 14336 samples; the 1 s limit
    // (16000) is reached during the silence that follows.
    const events = run(seq([0.9, 28], [0, 20]), { maxSegmentMs: 1000 });
    expect(events.map((e) => e.type)).toEqual(["speech-start", "speech-confirmed", "speech-end"]);
    expect(events[2]).toMatchObject({ reason: "max-length", endSample: 28 * W + 1600, atSample: 32 * W });
  });

  it("flush ends an open segment at the stream position, or drops a short one", () => {
    const speaking = new SpeechSegmenter();
    for (const p of seq([0, 10], [0.9, 30])) speaking.push(p);
    expect(speaking.flush()).toEqual([
      expect.objectContaining({
        type: "speech-end",
        startSample: 10 * W - 3200,
        endSample: 40 * W,
        reason: "flush",
        discarded: false,
      }),
    ]);
    expect(speaking.flush()).toEqual([]);
    expect(speaking.position).toBe(40 * W);

    const inHangover = run(seq([0.9, 30], [0, 2]), {}, true);
    expect(inHangover.at(-1)).toMatchObject({ reason: "flush", endSample: 30 * W + 1024 });

    const short = run(seq([0.9, 3]), {}, true);
    expect(short.at(-1)).toMatchObject({ reason: "flush", discarded: true });
  });

  it("reset() starts a new stream with the same results", () => {
    const probs = seq([0, 7], [0.8, 15], [0.3, 20], [0.7, 3], [0, 15]);
    const seg = new SpeechSegmenter();
    const first = probs.flatMap((p) => seg.push(p));
    seg.reset();
    expect(seg.position).toBe(0);
    const second = probs.flatMap((p) => seg.push(p));
    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(0);
  });

  it("rejects bad probabilities and bad configuration with clear errors", () => {
    const seg = new SpeechSegmenter();
    expect(() => seg.push(Number.NaN)).toThrow(SegmenterInputError);
    expect(() => seg.push(1.5)).toThrow(/within \[0, 1\]/);
    expect(() => resolveSegmenterConfig({ stopThreshold: 0.6 })).toThrow(SegmenterConfigError);
    expect(() => resolveSegmenterConfig({ hangoverMs: -1 })).toThrow(/hangoverMs/);
    expect(() => resolveSegmenterConfig({ maxSegmentMs: 400 })).toThrow(/maxSegmentMs/);
    expect(() => new SpeechSegmenter({ startThreshold: 2 })).toThrow(SegmenterConfigError);
    expect(resolveSegmenterConfig({ hangoverMs: undefined, minSpeechMs: 300 })).toEqual({
      ...DEFAULT_SEGMENTER_CONFIG,
      minSpeechMs: 300,
    });
  });
});
