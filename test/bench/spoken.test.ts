import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { speechLevel, spokenSpans } from "../../scripts/bench/spoken.js";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { librispeechWav } from "../helpers/paths.js";

describe("what bench:stream counts as spoken", () => {
  // Speaker 1034's file: speech to about 3.1 s, a 3 s pause, then speech again (its 100 ms levels).
  const file = readWavAs16kMono(readFileSync(librispeechWav("1034-121119-0000.wav")));
  const spans = spokenSpans(file, speechLevel(file), 0);

  it("leaves out a long pause of a real recording", () => {
    expect(spans.some(([from, to]) => from < 4.5 && to > 4.5)).toBe(false);
    const before = spans.filter(([, to]) => to < 4.5).at(-1)!;
    const after = spans.find(([from]) => from > 4.5)!;
    expect(before[1]).toBeGreaterThan(2.8);
    expect(before[1]).toBeLessThan(3.4);
    expect(after[0]).toBeGreaterThan(5.8);
    expect(after[0]).toBeLessThan(6.4);
  });

  it("bridges short pauses and places spans at the piece's offset", () => {
    const offset = 100;
    const shifted = spokenSpans(file, speechLevel(file), offset);
    expect(shifted).toHaveLength(spans.length);
    shifted.forEach(([from, to], i) => {
      expect(from).toBeCloseTo(spans[i][0] + offset, 6);
      expect(to).toBeCloseTo(spans[i][1] + offset, 6);
    });
    for (let i = 1; i < spans.length; i++) expect(spans[i][0] - spans[i - 1][1]).toBeGreaterThanOrEqual(0.3);
    for (const [from, to] of spans) expect(to - from).toBeGreaterThanOrEqual(0.1);
  });

  it("finds nothing spoken in the file's own silence", () => {
    const quiet = file.subarray(Math.round(3.5 * 16_000), Math.round(5.5 * 16_000));
    expect(spokenSpans(quiet, speechLevel(file), 0)).toEqual([]);
  });
});
