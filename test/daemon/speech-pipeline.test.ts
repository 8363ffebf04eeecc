import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpeechPipeline } from "../../src/daemon/speech-pipeline.js";
import type { Decision } from "../../src/identify/decision.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { silentLogger } from "../../src/util/log.js";
import {
  concat,
  enrol,
  IDENTIFICATION,
  loadModels,
  type Models,
  runStream,
  SAMPLE_RATE,
  seconds,
  silence,
  utterance,
} from "../identify/helpers.js";

// Two enrolled readers, with a short pause between them (real speech, real models).
const A = "198-126831-0000";
const B = "3374-298025-0000";

let models: Models;
let candidates: MatchCandidate[];
const half = (x: Float32Array, which: 0 | 1) =>
  which === 0 ? x.subarray(0, x.length >> 1) : x.subarray(x.length >> 1);

beforeAll(async () => {
  models = await loadModels();
  candidates = await enrol(models, { A: half(utterance(A), 0), B: half(utterance(B), 0) });
});

afterAll(async () => {
  await models?.stop();
});

describe("SpeechPipeline", () => {
  it("decides the same whatever the chunk size and whether idle audio is batched", async () => {
    const stream = concat(
      silence(1),
      half(utterance(A), 1).subarray(0, seconds(4.5)),
      silence(0.2),
      half(utterance(B), 1).subarray(0, seconds(4.5)),
      silence(2),
    );
    const summary = (ds: Decision[]) =>
      ds.map(
        (d) =>
          `${d.type} ${d.speakerId ?? d.reason} ${d.startS.toFixed(3)} ${d.durationS.toFixed(3)} ${d.decidedAtS.toFixed(3)}`,
      );
    const reference = summary(await runStream(models, candidates, stream, { idleBatchSamples: 512 }));
    expect(reference.filter((line) => line.startsWith("stopped"))).toHaveLength(2);
    expect(summary(await runStream(models, candidates, stream))).toEqual(reference);
    expect(summary(await runStream(models, candidates, stream, { chunk: 333 }))).toEqual(reference);
    expect(
      summary(await runStream(models, candidates, stream, { chunk: 2000, idleBatchSamples: 8192 })),
    ).toEqual(reference);
  });

  it("flushes audio held while idle when the input ends", async () => {
    const ds: Decision[] = [];
    const pipeline = new SpeechPipeline({
      vad: models.streamVad,
      encoder: models.stack.encoder,
      candidates: () => candidates,
      segmenter: {},
      identification: IDENTIFICATION,
      idleBatchSamples: 16_384,
      onDecision: (d) => {
        ds.push(d);
      },
      logger: silentLogger,
    });
    models.streamVad.reset();
    await pipeline.start();
    // 0.5 s of speech right before the end: it sits in the idle batch until finish().
    const tail = concat(silence(0.2), half(utterance(A), 1).subarray(0, seconds(0.5)));
    await pipeline.accept(tail);
    expect(pipeline.status().processedSamples).toBe(0);
    await pipeline.finish();
    expect(pipeline.status().processedSamples).toBe(Math.floor(tail.length / 512) * 512);
    expect(ds.map((d) => d.type)).toEqual(["started", "stopped"]);
    expect(ds[1].reason).toBe("too_short");
    expect(ds[1].startS + ds[1].durationS).toBeLessThanOrEqual(tail.length / SAMPLE_RATE);
    await pipeline.stop();
  });
});
