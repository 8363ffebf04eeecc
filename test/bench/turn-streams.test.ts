import { describe, expect, it } from "vitest";
import {
  type Announcement,
  falseUnknowns,
  type SpokenTurn,
  scoreStream,
  type TrueTurn,
  voicesApart,
  wrongClaims,
} from "../../scripts/bench/turn-streams.js";

// Two cases of bench:stream's streams (dry stream 5, room stream 10), on their own timings.
const visitor = (startS: number, endS: number): TrueTurn => ({
  member: null,
  voice: "visitor",
  startS,
  endS,
});
const member = (startS: number, endS: number): TrueTurn => ({
  member: "member",
  voice: "member",
  startS,
  endS,
});

describe("how bench:stream judges what Home Assistant was told", () => {
  it("does not count a stranger announced just after a member began, as the turn heard the stranger", () => {
    const truth = [visitor(188.38, 191.6), member(191.65, 196.17)];
    const late: Announcement = { atS: 191.76, label: "unknown", turnStartS: 188.38 };
    expect(falseUnknowns(truth, [late])).toEqual([]);
  });

  it("counts a member's speech announced unknown, named later or never", () => {
    const truth = [visitor(242.76, 245.31), member(245.51, 248.38)];
    const onMember: Announcement = { atS: 247.28, label: "unknown", turnStartS: 244.41 };
    expect(falseUnknowns(truth, [onMember])).toEqual([onMember]);
  });

  it("judges names and unknowns by the same voice", () => {
    const truth = [visitor(188.38, 191.6), member(191.65, 196.17)];
    const named = (atS: number, turnStartS: number): Announcement => ({ atS, label: "member", turnStartS });
    // Named on the stranger's speech: a wrong claim. Named on the member's own: right.
    expect(wrongClaims(truth, [named(190.5, 188.38)])).toHaveLength(1);
    expect(wrongClaims(truth, [named(193.96, 191.84)])).toEqual([]);
    // In the pause between them, the voice that spoke last.
    expect(falseUnknowns(truth, [{ atS: 191.62, label: "unknown", turnStartS: 191.61 }])).toEqual([]);
  });
});

describe("first naming timed from the speech the VAD heard", () => {
  // A member's turn of speech from 10 to 14 s whose first 2 s the VAD did not hear (a far, quiet talker).
  const truth: SpokenTurn[] = [
    { member: "member", voice: "member", startS: 10, endS: 14, spoken: [[10, 14]] },
  ];
  const reported = [{ startS: 12, endS: 14, label: "member" }];
  const named: Announcement[] = [{ atS: 13.6, label: "member", turnStartS: 12 }];

  it("times the naming from the turn's first speech heard, and counts the turn as begun unheard", () => {
    const score = scoreStream(truth, reported, named, {
      heard: [
        [3, 6],
        [12, 14],
      ],
    });
    expect(score.latencies[0]).toBeCloseTo(3.6);
    expect(score.heardLatencies[0]).toBeCloseTo(1.6);
    expect(score.unheardOnsets).toBe(1);
  });

  it("times it from the true start when the VAD heard the turn from its start, or is not known", () => {
    const fromStart = scoreStream(truth, reported, named, { heard: [[9.8, 14]] });
    expect(fromStart.heardLatencies[0]).toBeCloseTo(3.6);
    expect(fromStart.unheardOnsets).toBe(0);
    expect(scoreStream(truth, reported, named).heardLatencies).toEqual([]);
  });
});

describe("strangers announced, the other side of false unknowns", () => {
  // Seed 52 of the held-out mismatch streams: a stranger's 2.1 s, a 0.28 s pause, a member.
  const stranger: SpokenTurn = {
    member: null,
    voice: "stranger",
    startS: 164.91,
    endS: 169.68,
    spoken: [
      [164.91, 166.92],
      [167.5, 169.6],
    ],
  };
  const next: SpokenTurn = {
    member: "member",
    voice: "member",
    startS: 169.88,
    endS: 177.2,
    spoken: [[169.88, 177.2]],
  };
  const truth = [stranger, next];
  const reported = [
    { startS: 164.86, endS: 169.76, label: "unknown" },
    { startS: 169.89, endS: 177.2, label: "member" },
  ];
  const unknown = (atS: number, turnStartS: number): Announcement => ({ atS, label: "unknown", turnStartS });

  it("counts a stranger announced on their own voice, timed from their first sound", () => {
    const score = scoreStream(truth, reported, [unknown(167.9, 164.86)]);
    expect([score.strangersAnnounced, score.strangerTurns]).toEqual([1, 1]);
    expect(score.strangerLatencies[0]).toBeCloseTo(2.99);
  });

  it("does not count an unknown announced on the member's voice, nor a turn reported unknown unannounced", () => {
    const late = unknown(170.76, 167.42);
    const score = scoreStream(truth, reported, [late]);
    expect(score.falseUnknowns).toBe(1);
    expect(score.strangersAnnounced).toBe(0);
    expect(scoreStream(truth, reported, []).strangersAnnounced).toBe(0);
  });

  it("counts only strangers with enough speech to announce", () => {
    const short: SpokenTurn = { ...stranger, spoken: [[167.5, 169.6]] };
    expect(scoreStream([short, next], reported, []).strangerTurns).toBe(0);
  });
});

describe("how bench:diarize judges the live turns", () => {
  const a = (startS: number, endS: number): TrueTurn => ({ member: null, voice: "a", startS, endS });
  const b = (startS: number, endS: number): TrueTurn => ({ member: null, voice: "b", startS, endS });
  const truth = [a(0, 5), b(5.5, 10), a(10, 12)];

  it("finds a change inside its pause exact, and none in a turn holding two voices", () => {
    const apart = voicesApart(truth, [
      { startS: 0, endS: 5.2 },
      { startS: 5.2, endS: 12 },
    ]);
    // The change at 10 s is 2 s from the nearest boundary; b's 4.5 s in the second turn is its main voice.
    expect(apart.boundaryErrors).toEqual([0, 2]);
    expect(apart.mixedSeconds).toBeCloseTo(2, 5);
    expect(apart.speechSeconds).toBeCloseTo(11.5, 5);
  });

  it("counts nothing mixed when every turn is one voice", () => {
    const apart = voicesApart(truth, [
      { startS: 0, endS: 5 },
      { startS: 5.5, endS: 10 },
      { startS: 10, endS: 12 },
    ]);
    expect(apart.boundaryErrors).toEqual([0, 0]);
    expect(apart.mixedSeconds).toBe(0);
  });
});
