import { describe, expect, it } from "vitest";
import { heardSpeech, withPenalties } from "../../scripts/bench/stream-runs.js";
import { candidateScore, type MatchCandidate } from "../../src/registry/matcher.js";

const unit = (...v: number[]) => Float32Array.from(v);

describe("candidates matched with other penalties (bench:stream's replays and --before)", () => {
  const heard = unit(1, 0, 0);
  const alice: MatchCandidate = {
    id: "alice",
    name: "Alice",
    centroid: unit(0, 1, 0),
    alternates: [
      { kind: "simulated", centroid: unit(1, 0, 0), penalty: 0.09 },
      { kind: "learned", centroid: unit(0.6, 0.8, 0), penalty: 0.04 },
    ],
  };
  const bob: MatchCandidate = { id: "bob", name: "Bob", centroid: unit(0, 0, 1) };

  it("score each alternate less the penalty of its kind, leaving the recorded candidates as they were", () => {
    const [a, b] = withPenalties([alice, bob], { simulated: 0.06, learned: 0.01 });

    expect(a.alternates?.map((x) => [x.kind, x.penalty])).toEqual([
      ["simulated", 0.06],
      ["learned", 0.01],
    ]);
    // The simulated room is the best match of the voice heard: 1 less its penalty.
    expect(candidateScore(heard, a)).toBeCloseTo(0.94, 6);
    expect(candidateScore(heard, alice)).toBeCloseTo(0.91, 6);
    expect(b).toEqual(bob);
    expect(alice.alternates?.[0].penalty).toBe(0.09);
  });
});

describe("the speech the VAD heard, read from what the tracker was told", () => {
  it("pairs each start with its end, and closes speech still going at the finish", () => {
    expect(
      heardSpeech([
        { type: "speechStarted", at: 16_000 },
        { type: "advance", position: 24_000 },
        { type: "speechEnded", at: 40_000, speech: 24_000, decidedAt: 45_000 },
        { type: "speechStarted", at: 48_000 },
        { type: "finish", position: 56_000 },
      ]),
    ).toEqual([
      [1, 2.5],
      [3, 3.5],
    ]);
  });
});
