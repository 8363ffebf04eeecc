import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalise, type Partial, TurnTracker } from "../../src/identify/turn-tracker.js";
import { cosine, type MatchCandidate } from "../../src/registry/matcher.js";
import { enrol, IDENTIFICATION, loadModels, type Models, partialsOf, utterance } from "./helpers.js";

// Real voiceprints: a female (198) and a male (229) reader, and a third speaker (441) nobody enrolled.
const A = "198-126831-0000";
const B = "229-130880-0000";
const C = "441-128982-0000";

let models: Models;
let candidates: MatchCandidate[];
const half = (x: Float32Array, which: 0 | 1) =>
  which === 0 ? x.subarray(0, x.length >> 1) : x.subarray(x.length >> 1);

beforeAll(async () => {
  models = await loadModels();
  // Enrolment on the first halves; the windows below come from the second halves.
  candidates = await enrol(models, { A: half(utterance(A), 0), B: half(utterance(B), 0) });
});

afterAll(async () => {
  await models?.stop();
});

const tracker = () =>
  new TurnTracker({
    changeSimilarity: IDENTIFICATION.changeSimilarity,
    changeWindows: IDENTIFICATION.changeWindows,
  });

function pushAll(t: TurnTracker, partials: Partial[]) {
  return partials.map((p) => t.push(p));
}

describe("TurnTracker with enrolled speakers (window preference)", () => {
  it("keeps a whole single-speaker utterance in one turn", async () => {
    const t = tracker();
    const partials = await partialsOf(models.encoder, half(utterance(A), 1), candidates);
    expect(partials.length).toBeGreaterThan(5);
    expect(pushAll(t, partials).every((c) => c.kind === "continue")).toBe(true);
    expect(t.partialCount).toBe(partials.length);
    expect(t.turnPreference()).toBe("A");
  });

  it("splits where the other enrolled speaker takes over, and the new turn holds their windows", async () => {
    const t = tracker();
    const a = await partialsOf(models.encoder, half(utterance(A), 1), candidates, 0);
    const bStart = a[a.length - 1].end;
    const b = await partialsOf(models.encoder, half(utterance(B), 1), candidates, bStart);
    const changes = pushAll(t, [...a, ...b]);
    const splits = changes.filter((c) => c.kind === "split");
    expect(splits).toHaveLength(1);
    const split = splits[0];
    if (split.kind !== "split") throw new Error("unreachable");
    expect(split.rule).toBe("preference");
    // B's first window starts the new turn; the two windows that confirmed it moved with it.
    expect(split.at).toBe(bStart);
    expect(split.moved.map((p) => p.start)).toEqual([b[0].start, b[1].start]);
    expect(cosine(split.previousMean, candidates[0].centroid)).toBeGreaterThan(0.82);
    expect(t.turnPreference()).toBe("B");
    expect(t.partialCount).toBe(b.length);
  });

  it("lets a single window of someone else rejoin the turn (no split on a one-off)", async () => {
    const t = tracker();
    const a = await partialsOf(models.encoder, half(utterance(A), 1), candidates);
    const b = await partialsOf(models.encoder, half(utterance(B), 1), candidates);
    const stream = [...a.slice(0, 5), b[0], ...a.slice(5)];
    expect(t.windowPreference(b[0])).toBe("B");
    expect(pushAll(t, stream).every((c) => c.kind === "continue")).toBe(true);
    expect(t.partialCount).toBe(stream.length);
  });

  it("does not let an unknown voice's windows vote for an enrolled speaker", async () => {
    const c = await partialsOf(models.encoder, half(utterance(C), 1), candidates);
    const t = tracker();
    expect(c.map((p) => t.windowPreference(p)).filter((x) => x !== null)).toEqual([]);
  });
});

describe("TurnTracker without enrolled speakers (voice similarity)", () => {
  it("splits clearly different voices after changeWindows dissimilar windows", async () => {
    const a = await partialsOf(models.encoder, half(utterance(A), 1));
    const b = await partialsOf(models.encoder, half(utterance(B), 1), [], a[a.length - 1].end);
    // The premise of the rule: every window of B is far from A's voice.
    const meanA = normalise(
      a.reduce((sum, p) => sum.map((v, i) => v + p.embedding[i]), new Float32Array(256)),
    );
    expect(Math.max(...b.map((p) => cosine(meanA, p.embedding)))).toBeLessThan(
      IDENTIFICATION.changeSimilarity,
    );

    const t = tracker();
    const changes = pushAll(t, [...a, ...b]);
    const splitAt = changes.findIndex((c) => c.kind === "split");
    // The third window of B confirms the change; the new turn starts at B's first window.
    expect(splitAt).toBe(a.length + IDENTIFICATION.changeWindows - 1);
    const split = changes[splitAt];
    expect(split.kind === "split" && split.rule).toBe("similarity");
    expect(split.kind === "split" && split.at).toBe(b[0].start);
    expect(changes.filter((c) => c.kind === "split")).toHaveLength(1);
  });

  it("keeps one speaker's utterance in one turn", async () => {
    const t = tracker();
    const partials = await partialsOf(models.encoder, utterance(C));
    expect(pushAll(t, partials).every((c) => c.kind === "continue")).toBe(true);
    expect(t.turnPreference()).toBeNull();
  });

  it("starts afresh after reset()", async () => {
    const t = tracker();
    const a = await partialsOf(models.encoder, half(utterance(A), 1), candidates);
    pushAll(t, a);
    t.reset();
    expect(t.partialCount).toBe(0);
    expect(t.mean()).toBeNull();
    expect(t.turnPreference()).toBeNull();
  });
});
