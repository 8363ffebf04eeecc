import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VadUsageError } from "../../src/vad/errors.js";
import type { SegmenterConfig } from "../../src/vad/segmenter.js";
import { SileroVad } from "../../src/vad/silero.js";
import { StreamingVad, type StreamingVadEvent } from "../../src/vad/streaming.js";
import {
  concat,
  conversationRttm,
  conversationWav,
  mergeIntervals,
  overlapLength,
  readRttm,
  readWav16kMono,
  sameSamples,
  sileroModelPath,
  totalLength,
} from "./helpers.js";

const SECOND = 16_000;

describe("StreamingVad with Silero", () => {
  const vad = new SileroVad({ modelPath: sileroModelPath });
  const conversation = readWav16kMono(conversationWav);
  beforeAll(() => vad.start());
  afterAll(() => vad.stop());

  async function stream(
    samples: Float32Array,
    chunkSize: number,
    segmenter: Partial<SegmenterConfig> = {},
  ): Promise<{ probs: number[]; events: StreamingVadEvent[]; driver: StreamingVad }> {
    const probs: number[] = [];
    const driver = new StreamingVad({ detector: vad, segmenter, onWindow: (p) => probs.push(p) });
    driver.reset();
    const events: StreamingVadEvent[] = [];
    for (let i = 0; i < samples.length; i += chunkSize) {
      events.push(...(await driver.push(samples.subarray(i, i + chunkSize))));
    }
    events.push(...(await driver.flush()));
    return { probs, events, driver };
  }

  const kept = (events: StreamingVadEvent[]) =>
    events.filter((e) => e.type === "speech-end" && !e.discarded) as Extract<
      StreamingVadEvent,
      { type: "speech-end" }
    >[];

  /** Each kept segment's audio, put together from its events, by segment id. */
  function segmentAudio(events: StreamingVadEvent[]): Map<number, { start: number; audio: Float32Array }> {
    const parts = new Map<number, { start: number; pieces: Float32Array[] }>();
    const out = new Map<number, { start: number; audio: Float32Array }>();
    for (const e of events) {
      if (e.type === "speech-start") parts.set(e.segment, { start: e.startSample, pieces: [e.samples] });
      else if (e.type === "speech-audio") parts.get(e.segment)!.pieces.push(e.samples);
      else if (e.type === "speech-end" && e.samples) {
        const p = parts.get(e.segment)!;
        out.set(e.segment, { start: p.start, audio: concat(...p.pieces, e.samples) });
      }
    }
    return out;
  }

  it("gives the same probabilities, events and audio whatever the chunk size", async () => {
    const reference = await vad.speechProbabilities(conversation);
    const wholeWindows = Math.floor(conversation.length / 512);
    const runs: Awaited<ReturnType<typeof stream>>[] = [];
    for (const size of [100, 512, 4000, 777]) runs.push(await stream(conversation, size));
    const framing = (list: StreamingVadEvent[]) =>
      list
        .filter((e) => e.type !== "speech-audio")
        .map((e) => ("samples" in e ? { ...e, samples: null } : e));
    for (const { probs, events } of runs) {
      expect(probs).toEqual(Array.from(reference.subarray(0, wholeWindows)));
      expect(framing(events)).toEqual(framing(runs[0].events));
      const mine = segmentAudio(events);
      for (const [id, theirs] of segmentAudio(runs[0].events)) {
        expect(sameSamples(mine.get(id)!.audio, theirs.audio)).toBe(true);
      }
    }
  });

  it("finds the speech of the conversation annotated in sample.rttm", async () => {
    const { events } = await stream(conversation, 1600);
    const segments = kept(events).map(
      (e) => [e.startSample / SECOND, e.endSample / SECOND] as [number, number],
    );
    const detected = mergeIntervals(segments);
    const turns = readRttm(conversationRttm);
    for (const turn of turns.filter((t) => t.end - t.start > 1)) {
      const covered = overlapLength([[turn.start, turn.end]], detected);
      expect(covered / (turn.end - turn.start), `${turn.speaker} ${turn.start}`).toBeGreaterThan(0.9);
    }
    const annotated = mergeIntervals(turns.map((t) => [t.start, t.end]));
    const total = totalLength(annotated);
    expect(Math.abs(totalLength(detected) - total) / total).toBeLessThan(0.15);
    // Most detected time is annotated speech (pre/post-roll and bridged short pauses are the rest).
    expect(overlapLength(annotated, detected) / totalLength(detected)).toBeGreaterThan(0.9);
    // Leading 6.5 s of the file are not speech.
    expect(detected[0][0]).toBeGreaterThan(6);
  });

  it("hands out each kept segment's audio with its events, pre-roll included, straight from the stream", async () => {
    const driver = new StreamingVad({ detector: vad });
    driver.reset();
    const events: StreamingVadEvent[] = [];
    let heldBack = 0;
    for (let i = 0; i < conversation.length; i += 2048) {
      const now = await driver.push(conversation.subarray(i, i + 2048));
      events.push(...now);
      // While speech goes on, its audio arrives with it, never long after it was judged.
      for (const e of now) {
        if (e.type === "speech-audio") {
          heldBack = Math.max(heldBack, driver.processedSamples - (e.start + e.samples.length));
        }
      }
    }
    const ends = kept(events);
    expect(ends.length).toBeGreaterThan(0);
    const audio = segmentAudio(events);
    for (const end of ends) {
      const segment = audio.get(end.segment)!;
      expect(segment.start).toBe(end.startSample);
      expect(sameSamples(segment.audio, conversation.subarray(end.startSample, end.endSample))).toBe(true);
      const start = events.find((e) => e.type === "speech-start" && e.segment === end.segment);
      if (start?.type === "speech-start" && !start.continued) {
        expect(start.onsetSample - start.startSample).toBeLessThanOrEqual(3200);
      }
    }
    // The short pauses inside segments come with the audio that holds them, in order.
    const pauses = events.flatMap((e) => (e.type === "speech-audio" ? e.pauses : []));
    expect(pauses.length).toBeGreaterThan(0);
    for (const e of events) {
      if (e.type !== "speech-audio") continue;
      for (const p of e.pauses) {
        expect(p.start).toBeGreaterThanOrEqual(e.start);
        expect(p.end).toBeLessThanOrEqual(e.start + e.samples.length);
        expect(p.end).toBeGreaterThan(p.start);
      }
    }
    // A pause is held back no longer than the hangover (400 ms) plus one chunk.
    expect(heldBack).toBeLessThanOrEqual(0.4 * SECOND + 2048);
    expect(events.some((e) => e.type === "speech-audio")).toBe(true);
    // Not received yet.
    const now = driver.receivedSamples;
    expect(() => driver.audio(now - 10, now + 100)).toThrow(VadUsageError);
  });

  it("splits continuous speech longer than maxSegmentMs into contiguous segments (ring buffer wraps)", async () => {
    // The conversation twice without a gap is about 52 s of continuous speech.
    const long = concat(conversation, conversation);
    const { events, driver } = await stream(long, 4000, { maxSegmentMs: 10_000 });
    // Memory is bounded: the start of the stream has left the ring buffer.
    expect(() => driver.audio(0, 100)).toThrow(/not buffered/);
    const ends = kept(events);
    const splits = ends.filter((e) => e.reason === "max-length");
    expect(splits.length).toBeGreaterThanOrEqual(3);
    for (const end of ends) {
      expect(end.endSample - end.startSample).toBeLessThanOrEqual(10 * SECOND);
      const segment = segmentAudio(events).get(end.segment)!;
      expect(sameSamples(segment.audio, long.subarray(end.startSample, end.endSample))).toBe(true);
    }
    for (const split of splits) {
      const next = events.find((e) => e.type === "speech-start" && e.startSample === split.endSample);
      expect(next).toMatchObject({ continued: true });
    }
  });

  it("rejects overlapping pushes and non-Float32Array input", async () => {
    const driver = new StreamingVad({ detector: vad });
    driver.reset();
    const first = driver.push(conversation.subarray(0, 4096));
    await expect(driver.push(conversation.subarray(4096, 8192))).rejects.toThrow(/await each call/);
    await first;
    await expect(driver.push([0, 0] as unknown as Float32Array)).rejects.toThrow(VadUsageError);
    driver.reset();
  });
});
