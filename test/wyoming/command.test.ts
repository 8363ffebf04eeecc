import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/identify/decision.js";
import { commandVerdict } from "../../src/wyoming/command.js";
import { frameRanges } from "../../src/wyoming/session.js";

const stopped = (over: Partial<Decision>): Decision => ({
  type: "stopped",
  turnId: 1,
  voice: null,
  speakerId: null,
  speaker: null,
  reason: "unknown",
  score: 0.5,
  margin: null,
  threshold: 0.82,
  nearestSpeakerId: null,
  nearestSpeaker: null,
  scores: {},
  startS: 0,
  durationS: 1,
  decidedAtS: 1,
  ...over,
});

describe("commandVerdict", () => {
  it("names the person named on most of the command, with their turns as the stretches", () => {
    const verdict = commandVerdict([
      stopped({ turnId: 1, startS: 0, durationS: 1.5, reason: "unknown" }),
      stopped({
        turnId: 2,
        startS: 1.6,
        durationS: 2,
        speakerId: "alice",
        speaker: "Alice",
        reason: null,
        score: 0.9,
      }),
      stopped({
        turnId: 3,
        startS: 3.8,
        durationS: 0.5,
        speakerId: "bob",
        speaker: "Bob",
        reason: null,
        score: 0.85,
      }),
    ]);
    expect(verdict).toEqual({
      speakerId: "alice",
      speaker: "Alice",
      reason: null,
      score: 0.9,
      stretches: [{ startS: 1.6, endS: 3.6 }],
    });
  });

  it("names nobody with the longest turn's reason, and too_short without any speech", () => {
    expect(
      commandVerdict([
        stopped({ durationS: 0.4, reason: "too_short" }),
        stopped({ durationS: 2, reason: "uncertain", score: 0.8 }),
      ]),
    ).toMatchObject({ speakerId: null, reason: "uncertain", score: 0.8, stretches: [] });
    expect(commandVerdict([])).toMatchObject({ speakerId: null, reason: "too_short", score: null });
  });
});

describe("frameRanges", () => {
  it("turns stretches into sorted, merged byte ranges on frame boundaries, within the audio", () => {
    const stereo22k = { rate: 22_050, width: 2, channels: 2 };
    expect(
      frameRanges(
        [
          { startS: 1, endS: 2 },
          { startS: 0, endS: 0.5 },
          { startS: 0.4, endS: 0.6 },
          { startS: 2.9, endS: 4 },
        ],
        stereo22k,
        3 * 22_050 * 4,
      ),
    ).toEqual([
      [0, Math.ceil(0.6 * 22_050) * 4],
      [22_050 * 4, 2 * 22_050 * 4],
      [Math.floor(2.9 * 22_050) * 4, 3 * 22_050 * 4],
    ]);
  });
});
