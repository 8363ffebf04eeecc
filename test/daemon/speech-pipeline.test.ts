import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpeechPipeline } from "../../src/daemon/speech-pipeline.js";
import type { Detection } from "../../src/identify/live-identifier.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { silentLogger } from "../../src/util/log.js";
import {
  concat,
  enrol,
  IDENTIFICATION,
  loadModels,
  type Models,
  matcher,
  SAMPLE_RATE,
  seconds,
  utterance,
} from "../identify/helpers.js";

// Two enrolled readers and a stranger, with silences between them (real speech, real models).
const A = "198-126831-0000";
const B = "3374-298025-0000";
const STRANGER = "441-128982-0000";

let models: Models;
let candidates: MatchCandidate[];
let stream: Float32Array;
const half = (x: Float32Array, which: 0 | 1) =>
  which === 0 ? x.subarray(0, x.length >> 1) : x.subarray(x.length >> 1);

beforeAll(async () => {
  models = await loadModels();
  candidates = await enrol(models, { A: half(utterance(A), 0), B: half(utterance(B), 0) });
  const silence = (s: number) => new Float32Array(seconds(s));
  stream = concat(
    silence(1),
    half(utterance(A), 1),
    silence(2.5),
    utterance(STRANGER).subarray(0, seconds(6)),
    silence(2.5),
    half(utterance(B), 1),
    silence(2),
  );
});

afterAll(async () => {
  await models?.stop();
});

async function run(chunkSamples: number, idleBatchSamples?: number): Promise<Detection[]> {
  models.streamVad.reset();
  const detections: Detection[] = [];
  const pipeline = new SpeechPipeline({
    vad: models.streamVad,
    encoder: models.encoder,
    match: matcher(candidates),
    segmenter: {},
    identification: IDENTIFICATION,
    idleBatchSamples,
    onDetection: (d) => {
      detections.push(d);
    },
    logger: silentLogger,
  });
  await pipeline.start();
  for (let i = 0; i < stream.length; i += chunkSamples) {
    await pipeline.accept(stream.subarray(i, i + chunkSamples));
  }
  await pipeline.stop();
  expect(pipeline.status().processedSamples).toBe(Math.floor(stream.length / 512) * 512);
  return detections;
}

/** What must not depend on chunking: who, where, and the final extent ("started" carries the speech so far). */
const summary = (ds: Detection[]) =>
  ds.map(
    (d) =>
      `${d.type} ${d.speakerId ?? d.reason} ${d.startS.toFixed(3)}` +
      (d.type === "stopped" ? ` ${d.durationS.toFixed(3)}` : ""),
  );

describe("SpeechPipeline", () => {
  it("finds and names each speaker's segment: A, the stranger as unknown, B", async () => {
    const ds = await run(512);
    const stopped = ds.filter((d) => d.type === "stopped");
    expect(stopped.map((d) => d.speakerId)).toEqual(["A", null, "B"]);
    expect(stopped[1].reason).toBe("unknown");
    expect(stopped[0].startS).toBeGreaterThan(0.5);
    expect(stopped[0].startS).toBeLessThan(1.1);
  });

  it("reports the same thing whether idle audio is batched or not, and whatever the chunk size", async () => {
    const unbatched = summary(await run(512, 512));
    expect(unbatched.length).toBeGreaterThan(0);
    // Default batching while idle (128 ms), odd chunk sizes, microphone-period chunks.
    expect(summary(await run(512))).toEqual(unbatched);
    expect(summary(await run(333))).toEqual(unbatched);
    expect(summary(await run(2000, 8192))).toEqual(unbatched);
  });

  it("flushes audio held while idle when the input ends", async () => {
    const ds: Detection[] = [];
    const pipeline = new SpeechPipeline({
      vad: models.streamVad,
      encoder: models.encoder,
      match: matcher(candidates),
      segmenter: {},
      identification: IDENTIFICATION,
      idleBatchSamples: 16_384,
      onDetection: (d) => {
        ds.push(d);
      },
      logger: silentLogger,
    });
    models.streamVad.reset();
    await pipeline.start();
    // 0.5 s of speech right before the end: it sits in the idle batch until finish().
    const tail = concat(new Float32Array(seconds(0.2)), half(utterance(A), 1).subarray(0, seconds(0.5)));
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
