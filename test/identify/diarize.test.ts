import { describe, expect, it } from "vitest";
import { DEFAULT_VOICE_SEPARATION, type DiarizedTurn, diarizeUnknown } from "../../src/identify/diarize.js";
import type { TrackedWindow } from "../../src/identify/speaker-tracker.js";
import { mulberry32 } from "../../src/util/random.js";

const RATE = 16_000;
const WINDOW = 1.6 * RATE;
const HOP = 0.2 * RATE;
const DIM = 64;

/** A unit voice direction: `like` of the first voice (cosine), the rest along axis `axis`. */
function voice(like: number, axis: number): Float32Array {
  const v = new Float32Array(DIM);
  v[0] = like;
  v[axis] += Math.sqrt(1 - like * like);
  return v;
}

/**
 * The windows over `script` (who speaks from when, seconds): each window's voiceprint mixes the voices in
 * it by their share of its speech, plus noise that puts a clean window about 0.9 from its voice.
 */
function windowsOf(
  script: { voice: Float32Array; from: number; to: number }[],
  seed: number,
): TrackedWindow[] {
  const random = mulberry32(seed);
  const end = script.at(-1)!.to * RATE;
  const out: TrackedWindow[] = [];
  for (let start = 0; start + WINDOW <= end; start += HOP) {
    const e = new Float32Array(DIM);
    for (const part of script) {
      const share =
        Math.max(0, Math.min(start + WINDOW, part.to * RATE) - Math.max(start, part.from * RATE)) / WINDOW;
      for (let i = 0; i < DIM; i++) e[i] += share * part.voice[i];
    }
    for (let i = 0; i < DIM; i++) e[i] += 0.2 * (random() - 0.5);
    const norm = Math.hypot(...e);
    out.push({ start, end: start + WINDOW, embedding: e.map((x) => x / norm) });
  }
  return out;
}

const oneTurn = (to: number): DiarizedTurn[] => [
  { start: 0, end: to, label: "", speaker: null, speakerId: null, reason: "unknown", score: null },
];

describe("diarizeUnknown", () => {
  it("keeps two close voices taking turns inside one turn apart, changes within 0.3 s", () => {
    // The two voices are 0.8 alike, as the shared conversation's two people are.
    const [a, b] = [voice(1, 0), voice(0.8, 1)];
    const script = [
      { voice: a, from: 0, to: 6 },
      { voice: b, from: 6, to: 12 },
      { voice: a, from: 12, to: 18 },
      { voice: b, from: 18, to: 24 },
    ];
    const turns = diarizeUnknown(oneTurn(24), windowsOf(script, 1), DEFAULT_VOICE_SEPARATION);
    expect(turns.map((t) => t.label)).toEqual(["unknown-1", "unknown-2", "unknown-1", "unknown-2"]);
    turns.slice(1).forEach((t, i) => {
      expect(Math.abs(t.start - script[i + 1].from)).toBeLessThan(0.3);
    });
    expect(turns.at(-1)!.end).toBe(24);
  });

  it("keeps one voice one voice, even when it wanders (two manners 0.9 alike)", () => {
    const [calm, lively] = [voice(1, 0), voice(0.9, 2)];
    const script = [
      { voice: calm, from: 0, to: 8 },
      { voice: lively, from: 8, to: 16 },
      { voice: calm, from: 16, to: 24 },
    ];
    const turns = diarizeUnknown(oneTurn(24), windowsOf(script, 2), DEFAULT_VOICE_SEPARATION);
    expect(new Set(turns.map((t) => t.label))).toEqual(new Set(["unknown-1"]));
  });

  it("merges voices at least mergeSimilarity alike", () => {
    const [a, b] = [voice(1, 0), voice(0.8, 1)];
    const script = [
      { voice: a, from: 0, to: 8 },
      { voice: b, from: 8, to: 16 },
    ];
    const windows = windowsOf(script, 3);
    const apart = diarizeUnknown(oneTurn(16), windows, {
      ...DEFAULT_VOICE_SEPARATION,
      mergeSimilarity: 0.85,
    });
    expect(apart.map((t) => t.label)).toEqual(["unknown-1", "unknown-2"]);
    const merged = diarizeUnknown(oneTurn(16), windows, {
      ...DEFAULT_VOICE_SEPARATION,
      mergeSimilarity: 0.7,
    });
    expect(merged.map((t) => t.label)).toEqual(["unknown-1"]);
  });

  // Clean as CAM++ judges it too: 9 windows no change falls inside, of the 18 it asks.
  it.each([
    DEFAULT_VOICE_SEPARATION,
    { ...DEFAULT_VOICE_SEPARATION, clean: "no-change" as const, minCleanWindows: 18 },
  ])(
    "gives a voice of short turns to its nearest when it is alike (0.75), keeps it its own when unlike (0.3), clean by $clean",
    (separation) => {
      // 3.2 s of a second voice inside a long turn: too few of its windows are clean, so its likeness alone
      // tells a stray piece of the first voice from someone else.
      const labels = (like: number) => {
        const [a, other] = [voice(1, 0), voice(like, 3)];
        const script = [
          { voice: a, from: 0, to: 8 },
          { voice: other, from: 8, to: 11.2 },
          { voice: a, from: 11.2, to: 19.2 },
        ];
        return diarizeUnknown(oneTurn(19.2), windowsOf(script, 4), separation).map((t) => t.label);
      };
      expect(labels(0.75)).toEqual(["unknown-1"]);
      expect(labels(0.3)).toEqual(["unknown-1", "unknown-2", "unknown-1"]);
    },
  );

  it("gives a voice of fewer than minWindows windows in all (a 1 s cough) to its nearest, however unlike", () => {
    const [a, cough] = [voice(1, 0), voice(0, 3)];
    const script = [
      { voice: a, from: 0, to: 8 },
      { voice: cough, from: 8, to: 9 },
      { voice: a, from: 9, to: 17 },
    ];
    const turns = diarizeUnknown(oneTurn(17), windowsOf(script, 5), DEFAULT_VOICE_SEPARATION);
    expect(turns.map((t) => t.label)).toEqual(["unknown-1"]);
  });

  it("merges the two closest voices below mergeSimilarity when they stand out from the other pairs", () => {
    // One reader split in two (0.75 alike, under the merge similarity) among two others (0.3 and less):
    // the split pair is 0.45 closer than any other pair. Two voices alone have nothing to stand out from
    // (the shared conversation's two people are as alike as a split reader in a room).
    const [half, otherHalf, b, c] = [voice(1, 0), voice(0.75, 1), voice(0.3, 2), voice(0.3, 3)];
    const script = [
      { voice: half, from: 0, to: 8 },
      { voice: b, from: 8, to: 16 },
      { voice: otherHalf, from: 16, to: 24 },
      { voice: c, from: 24, to: 32 },
    ];
    const windows = windowsOf(script, 6);
    const labels = (closestPair: { similarity: number; margin: number } | null) =>
      diarizeUnknown(oneTurn(32), windows, { ...DEFAULT_VOICE_SEPARATION, closestPair }).map((t) => t.label);
    expect(labels(null)).toEqual(["unknown-1", "unknown-2", "unknown-3", "unknown-4"]);
    expect(labels({ similarity: 0.7, margin: 0.2 })).toEqual([
      "unknown-1",
      "unknown-2",
      "unknown-1",
      "unknown-3",
    ]);
    // Not alike enough, or not standing out by enough: apart.
    expect(labels({ similarity: 0.8, margin: 0.2 })).toHaveLength(4);
    expect(labels({ similarity: 0.7, margin: 0.6 })).toHaveLength(4);
    const [first, second] = [voice(1, 0), voice(0.75, 1)];
    const pair = windowsOf(
      [
        { voice: first, from: 0, to: 8 },
        { voice: second, from: 8, to: 16 },
      ],
      7,
    );
    const two = diarizeUnknown(oneTurn(16), pair, {
      ...DEFAULT_VOICE_SEPARATION,
      closestPair: { similarity: 0.7, margin: 0.2 },
    });
    expect(two.map((t) => t.label)).toEqual(["unknown-1", "unknown-2"]);
  });

  it("labels turns without windows as the first voice", () => {
    expect(diarizeUnknown(oneTurn(0.5), [], DEFAULT_VOICE_SEPARATION).map((t) => t.label)).toEqual([
      "unknown-1",
    ]);
  });
});
