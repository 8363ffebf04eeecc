import { describe, expect, it } from "vitest";
import { PcmDecoder, s16leFormat } from "../../../src/audio/sources/pcm.js";
import { concat, correlation, s16ToFloat, sineS16 } from "./helpers.js";

describe("PcmDecoder", () => {
  it("carries partial frames across chunks and averages channels", () => {
    // Stereo s16le frames: (1000, 3000), (-2000, -4000), (32767, -32768).
    const bytes = Buffer.alloc(12);
    for (const [i, v] of [1000, 3000, -2000, -4000, 32767, -32768].entries()) bytes.writeInt16LE(v, i * 2);
    const decoder = new PcmDecoder(s16leFormat({ sampleRate: 16000, channels: 2 }));
    // Split inside a sample and inside a frame.
    const out = concat([
      decoder.push(bytes.subarray(0, 3)),
      decoder.push(bytes.subarray(3, 9)),
      decoder.push(bytes.subarray(9)),
    ]);
    expect(Array.from(out)).toEqual([2000 / 32768, -3000 / 32768, -0.5 / 32768]);
    expect(decoder.flush().length).toBe(0);
  });

  it("does not keep a view of the caller's buffer between pushes", () => {
    const decoder = new PcmDecoder(s16leFormat({ sampleRate: 16000, channels: 1 }));
    const reused = Buffer.alloc(3);
    reused.writeInt16LE(1234, 0);
    reused[2] = 0x10; // low byte of the next sample
    decoder.push(reused);
    reused.fill(0xff); // the stream reuses its buffer
    const next = decoder.push(Buffer.from([0x00]));
    expect(Array.from(next)).toEqual([0x0010 / 32768]);
  });

  it("resamples 44.1 kHz capture to 16 kHz with the streaming resampler", () => {
    const decoder = new PcmDecoder(s16leFormat({ sampleRate: 44100, channels: 1 }));
    const input = sineS16(300, 44100, 1);
    const parts: Float32Array[] = [];
    // 4411-byte pieces: odd, so frames straddle pushes too.
    for (let at = 0; at < input.length; at += 4411) parts.push(decoder.push(input.subarray(at, at + 4411)));
    parts.push(decoder.flush());
    const out = concat(parts);
    expect(out.length).toBe(16000);
    const reference = s16ToFloat(sineS16(300, 16000, 1));
    expect(correlation(out.subarray(200, 15800), reference.subarray(200, 15800))).toBeGreaterThan(0.999);
  });
});
