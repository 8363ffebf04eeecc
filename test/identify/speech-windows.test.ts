import { describe, expect, it } from "vitest";
import { SpeechWindows } from "../../src/identify/speech-windows.js";

/** Samples numbered by stream position, so what comes out says where it came from. */
function speech(from: number, to: number): Float32Array {
  return Float32Array.from({ length: to - from }, (_, i) => from + i);
}

describe("the speech kept for a turn heard whole", () => {
  const options = { window: 100, hop: 20, maxGap: 50, minPadded: 40, keep: 300 };
  /** Windows fed these stretches of speech, [start, end) each, the silences between them ended. */
  const heard = (...stretches: [number, number][]) => {
    const windows = new SpeechWindows(options);
    for (const [i, [start, end]] of stretches.entries()) {
      if (i > 0) windows.speechEnded(stretches[i - 1][1]);
      windows.speechStarted(start);
      windows.push(speech(start, end));
    }
    return windows;
  };

  it("joins the speech from a position to the latest, leaving out the silences between segments", () => {
    const windows = heard([1000, 1120], [1150, 1260]);
    const kept = windows.speechFrom(1100);
    expect(kept).not.toBeNull();
    expect([kept!.start, kept!.end]).toEqual([1100, 1260]);
    expect(Array.from(kept!.samples)).toEqual([...speech(1100, 1120), ...speech(1150, 1260)]);
    // From inside the silence: the speech after it.
    expect(Array.from(windows.speechFrom(1130)!.samples)).toEqual(Array.from(speech(1150, 1260)));
  });

  it("has nothing from before the run, nor speech it no longer keeps", () => {
    const windows = heard([1000, 1100]);
    expect(windows.speechFrom(900)).toBeNull();
    // A long conversation: only the last `keep` samples of speech stay (and a window's worth more may).
    for (let at = 1100; at < 3000; at += 100) windows.push(speech(at, at + 100));
    expect(windows.speechFrom(1000)).toBeNull();
    const recent = windows.speechFrom(2750);
    expect([recent!.start, recent!.end, recent!.samples.length]).toEqual([2750, 3000, 250]);
    expect(recent!.samples[0]).toBe(2750);
  });

  it("starts a new run after a silence longer than maxGap: the speech before it is not the turn's", () => {
    const windows = heard([1000, 1100], [1200, 1300]);
    expect(windows.speechFrom(1050)).toBeNull();
    expect(windows.speechFrom(1200)!.samples.length).toBe(100);
  });
});
