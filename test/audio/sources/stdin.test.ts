import { PassThrough } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { StdinSource } from "../../../src/audio/sources/stdin.js";
import type { InputFormat } from "../../../src/audio/sources/stream.js";
import { silentLogger } from "../../../src/util/log.js";
import { concat, mismatches, s16ToFloat, synthWav, UTTERANCE, wavPayload } from "./helpers.js";

let payload: Buffer;
let expected: Float32Array;

beforeAll(async () => {
  // Three seconds keep the runs short; odd piece sizes below still split samples and the header.
  payload = (await wavPayload(UTTERANCE)).subarray(0, 3 * 16000 * 2);
  expected = s16ToFloat(payload);
});

/**
 * Writes `bytes` into a PassThrough in pieces of `piece` bytes, respecting its backpressure, and
 * giving up when the reader closes it (as a shell pipe writer gets EPIPE).
 */
async function feed(stream: PassThrough, bytes: Buffer, piece: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += piece) {
    if (stream.destroyed) return;
    if (!stream.write(bytes.subarray(at, at + piece))) {
      await new Promise((r) => {
        stream.once("drain", r);
        stream.once("close", r);
      });
    }
  }
  if (!stream.destroyed) stream.end();
}

async function run(bytes: Buffer, options: { piece?: number; format?: InputFormat; delayMs?: number } = {}) {
  const input = new PassThrough({ highWaterMark: 4096 });
  const source = new StdinSource({ input, format: options.format, logger: silentLogger });
  const chunks: Float32Array[] = [];
  const ended = new Promise<Error | undefined>((resolve) => source.onEnd(resolve));
  source.onAudio(async (c) => {
    chunks.push(c);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
  });
  await source.start();
  await feed(input, bytes, options.piece ?? 1001);
  const error = await ended;
  return { source, samples: concat(chunks), error };
}

describe("StdinSource", () => {
  it("reads raw s16le split at odd byte boundaries, without losing a sample", async () => {
    const { source, samples, error } = await run(payload, { piece: 1001 });
    expect(error).toBeUndefined();
    expect(samples.length).toBe(expected.length);
    expect(mismatches(samples, expected)).toBe(0);
    expect(source.status().state).toBe("ended");
  });

  it("reads a streamed WAV (sizes 0xFFFFFFFF, a LIST chunk before data) fed a few bytes at a time", async () => {
    const wav = synthWav(payload, {
      sampleRate: 16000,
      channels: 1,
      unknownSizes: true,
      extraChunks: [{ id: "LIST", body: Buffer.from("INFOISFT\x05\x00\x00\x00Lavf\x00", "latin1") }],
    });
    const { samples, error } = await run(wav, { piece: 7 });
    expect(error).toBeUndefined();
    expect(mismatches(samples, expected)).toBe(0);
  });

  it("stops at the end of a sized data chunk and ignores chunks after it", async () => {
    const wav = Buffer.concat([
      synthWav(payload, { sampleRate: 16000, channels: 1 }),
      Buffer.from("id3 \x04\x00\x00\x00TAG!", "latin1"),
    ]);
    const { samples, error } = await run(wav, { piece: 4096 });
    expect(error).toBeUndefined();
    expect(mismatches(samples, expected)).toBe(0);
  });

  it("waits for a slow pipeline: everything written is delivered", async () => {
    const { samples } = await run(payload, { piece: 65536, delayMs: 2 });
    expect(mismatches(samples, expected)).toBe(0);
  });

  it("ends with a clear error when input forced to WAV is not WAV, or is empty", async () => {
    const notWav = await run(payload, { format: "wav" });
    expect(notWav.error?.message).toMatch(/not a WAV file/);
    expect(notWav.source.status()).toMatchObject({
      state: "ended",
      lastError: expect.stringMatching(/not a WAV/),
    });

    const empty = await run(Buffer.alloc(0));
    expect(empty.error?.message).toMatch(/stdin input is empty/);

    const truncated = await run(synthWav(payload, { sampleRate: 16000, channels: 1 }).subarray(0, 30));
    expect(truncated.error?.message).toMatch(/ended inside its header/);
  });
});
