import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileSource, type FileSourceOptions } from "../../../src/audio/sources/file.js";
import { AudioInputError } from "../../../src/audio/sources/source.js";
import { silentLogger } from "../../../src/util/log.js";
import {
  concat,
  correlation,
  mismatches,
  s16ToFloat,
  sineS16,
  synthWav,
  UTTERANCE,
  wavPayload,
} from "./helpers.js";

let dir: string;
let payload: Buffer;
let expected: Float32Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "voiceid-file-"));
  payload = await wavPayload(UTTERANCE);
  expected = s16ToFloat(payload);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a file source to its end; returns what it delivered and how it ended. */
async function play(options: Omit<FileSourceOptions, "logger">, listenerDelayMs = 0) {
  const source = new FileSource({ ...options, logger: silentLogger });
  const chunks: Float32Array[] = [];
  const ended = new Promise<Error | undefined>((resolve) => source.onEnd(resolve));
  source.onAudio(
    listenerDelayMs > 0
      ? async (c) => {
          chunks.push(c);
          await new Promise((r) => setTimeout(r, listenerDelayMs));
        }
      : (c) => {
          chunks.push(c);
        },
  );
  const t0 = performance.now();
  await source.start();
  const error = await ended;
  const elapsedMs = performance.now() - t0;
  return { source, chunks, samples: concat(chunks), error, elapsedMs };
}

describe("FileSource", () => {
  it("delivers every sample of a WAV exactly, in whole 512-sample chunks of at most 0.5 s, then ends", async () => {
    const { source, chunks, samples, error } = await play({ path: UTTERANCE });
    expect(error).toBeUndefined();
    expect(samples.length).toBe(expected.length);
    expect(mismatches(samples, expected)).toBe(0);
    expect(chunks.slice(0, -1).every((c) => c.length % 512 === 0 && c.length <= 8192)).toBe(true);
    expect(source.status().state).toBe("ended");
    expect(source.status().lastError).toBeUndefined();
  });

  it("waits for a slow listener instead of dropping audio", async () => {
    const short = join(dir, "short.wav");
    await writeFile(short, synthWav(payload.subarray(0, 32000 * 2), { sampleRate: 16000, channels: 1 }));
    const { samples } = await play({ path: short }, 3);
    expect(mismatches(samples, expected.subarray(0, 32000))).toBe(0);
  });

  it("read as fast as it goes, gives the event loop a turn between deliveries", async () => {
    // A minute of audio and a listener that works synchronously (as the pipeline does): other work (HTTP,
    // MQTT, timers) must still get turns. Counted in turns, not milliseconds, so a busy machine cannot fail it.
    const long = join(dir, "long.wav");
    const minute = Buffer.concat(
      Array.from({ length: Math.ceil((60 * 32000) / payload.length) }, () => payload),
    );
    await writeFile(long, synthWav(minute, { sampleRate: 16000, channels: 1 }));
    const source = new FileSource({ path: long, logger: silentLogger });
    const ended = new Promise((resolve) => source.onEnd(resolve));
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    let lastTurns = -1;
    let withoutTurn = 0;
    let mostWithoutTurn = 0;
    source.onAudio((chunk) => {
      withoutTurn = turns === lastTurns ? withoutTurn + 1 : 0;
      mostWithoutTurn = Math.max(mostWithoutTurn, withoutTurn);
      lastTurns = turns;
      // 30 ms of work per second of audio: the daemon's real-time factor as fast as it goes.
      const until = performance.now() + (30 * chunk.length) / 16000;
      while (performance.now() < until);
    });
    await source.start();
    await ended;
    done = true;
    // Never more than one delivery (at most 0.5 s of audio, about 15 ms of work here) in a row without a
    // turn; without yielding, each 64 KiB read (2 s of audio, four deliveries) or more would run in one.
    expect(mostWithoutTurn).toBeLessThanOrEqual(1);
  });

  it("reads a raw s16le file (no RIFF header) as 16 kHz mono", async () => {
    const raw = join(dir, "speech.raw");
    await writeFile(raw, payload);
    const { samples, error } = await play({ path: raw });
    expect(error).toBeUndefined();
    expect(mismatches(samples, expected)).toBe(0);
  });

  it("paces realtime playback like a live microphone", async () => {
    const oneSecond = join(dir, "one-second.wav");
    await writeFile(oneSecond, synthWav(payload.subarray(0, 16000 * 2), { sampleRate: 16000, channels: 1 }));
    const { samples, elapsedMs } = await play({ path: oneSecond, realtime: true });
    expect(mismatches(samples, expected.subarray(0, 16000))).toBe(0);
    // Behaviour, not speed: one second of audio is not handed over at once.
    expect(elapsedMs).toBeGreaterThanOrEqual(800);
  });

  it("converts a 48 kHz stereo WAV to 16 kHz mono", async () => {
    const path = join(dir, "sine48k.wav");
    await writeFile(path, synthWav(sineS16(440, 48000, 1, 2), { sampleRate: 48000, channels: 2 }));
    const { samples } = await play({ path });
    expect(Math.abs(samples.length - 16000)).toBeLessThanOrEqual(1);
    const reference = s16ToFloat(sineS16(440, 16000, 1));
    // Skip the filter's edges; the middle must be the same 440 Hz tone.
    expect(correlation(samples.subarray(500, 15500), reference.subarray(500, 15500))).toBeGreaterThan(0.999);
  });

  it("stop() halts playback without an end event", async () => {
    const source = new FileSource({ path: UTTERANCE, realtime: true, logger: silentLogger });
    let received = 0;
    let ended = false;
    source.onAudio((c) => {
      received += c.length;
    });
    source.onEnd(() => {
      ended = true;
    });
    await source.start();
    await new Promise((r) => setTimeout(r, 150));
    await source.stop();
    await source.stop();
    const atStop = received;
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toBe(atStop);
    expect(received).toBeLessThan(expected.length);
    expect(ended).toBe(false);
    expect(source.status().state).toBe("stopped");
  });

  it("rejects a missing file, a non-WAV forced to WAV and an unsupported encoding with clear errors", async () => {
    const missing = new FileSource({ path: join(dir, "nope.wav"), logger: silentLogger });
    await expect(missing.start()).rejects.toThrow(/cannot open audio file .*nope\.wav: no such file/);
    expect(missing.status()).toMatchObject({
      state: "ended",
      lastError: expect.stringMatching(/no such file/),
    });

    const text = join(dir, "notes.txt");
    await writeFile(text, "these are not samples\n");
    const forced = new FileSource({ path: text, format: "wav", logger: silentLogger });
    await expect(forced.start()).rejects.toThrow(/not a WAV file/);

    const adpcm = join(dir, "adpcm.wav");
    await writeFile(
      adpcm,
      synthWav(Buffer.alloc(400), { sampleRate: 16000, channels: 1, formatTag: 2, bitsPerSample: 4 }),
    );
    const unsupported = new FileSource({ path: adpcm, logger: silentLogger });
    const err = await unsupported.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioInputError);
    expect((err as Error).message).toMatch(/unsupported WAV encoding 0x0002 \(Microsoft ADPCM\)/);

    await expect(new FileSource({ path: dir, logger: silentLogger }).start()).rejects.toThrow(
      /not a regular file/,
    );
  });
});
