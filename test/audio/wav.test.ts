import { describe, expect, it } from "vitest";
import {
  decodeWav,
  downmixToMono,
  parseWavHeader,
  readWavAs16kMono,
  WavFormatError,
  WavStreamDecoder,
} from "../../src/audio/wav.js";
import { readSharedAudio } from "../fixtures/frontend/load.js";
import { asRf64, int16Data, makeWav, wav16 } from "./make-wav.js";

const SPEECH = "librispeech-train-clean-100/103-1240-0000.wav";

function expectWavError(bytes: Uint8Array, message: RegExp): void {
  let caught: unknown;
  try {
    decodeWav(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(WavFormatError);
  expect((caught as Error).message).toMatch(message);
}

function tone(n: number, freq: number, rate: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

describe("decodeWav formats", () => {
  it("decodes 16-bit PCM stereo into planar channels scaled by 1/32768", () => {
    const bytes = makeWav({
      channels: 2,
      sampleRate: 22050,
      bitsPerSample: 16,
      data: int16Data([
        [0, 16384, -32768, 32767],
        [1, -1, 100, -100],
      ]),
    });
    const a = decodeWav(bytes);
    expect(a.sampleRate).toBe(22050);
    expect(a.channels).toBe(2);
    expect(a.frames).toBe(4);
    expect(a.format.sampleFormat).toBe("pcm");
    expect(Array.from(a.channelData[0])).toEqual([0, 0.5, -1, 32767 / 32768]);
    expect(Array.from(a.channelData[1])).toEqual(
      [1 / 32768, -1 / 32768, 100 / 32768, -100 / 32768].map(Math.fround),
    );
  });

  it("decodes 8-bit unsigned PCM around 128", () => {
    const a = decodeWav(
      makeWav({ channels: 1, sampleRate: 8000, bitsPerSample: 8, data: Uint8Array.of(0, 128, 255, 64) }),
    );
    expect(Array.from(a.channelData[0])).toEqual([-1, 0, 127 / 128, -0.5]);
  });

  it("decodes 24-bit signed PCM with sign extension", () => {
    const data = Uint8Array.of(0x00, 0x00, 0x80, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x40, 0xff, 0xff, 0xff);
    const a = decodeWav(makeWav({ channels: 1, sampleRate: 48000, bitsPerSample: 24, data }));
    expect(Array.from(a.channelData[0])).toEqual([-1, 8388607 / 8388608, 0.5, -1 / 8388608].map(Math.fround));
  });

  it("decodes 32-bit signed PCM", () => {
    const data = new Uint8Array(12);
    const v = new DataView(data.buffer);
    v.setInt32(0, -2147483648, true);
    v.setInt32(4, 1073741824, true);
    v.setInt32(8, -536870912, true);
    const a = decodeWav(makeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 32, data }));
    expect(Array.from(a.channelData[0])).toEqual([-1, 0.5, -0.25]);
  });

  it("decodes IEEE float32 and float64", () => {
    const f32 = new Uint8Array(new Float32Array([0.25, -0.75, 1.5]).buffer);
    const a = decodeWav(
      makeWav({ formatTag: 3, channels: 1, sampleRate: 44100, bitsPerSample: 32, data: f32 }),
    );
    expect(a.format.sampleFormat).toBe("float");
    expect(Array.from(a.channelData[0])).toEqual([0.25, -0.75, 1.5]);
    const f64 = new Uint8Array(new Float64Array([0.1, -0.2]).buffer);
    const b = decodeWav(
      makeWav({ formatTag: 3, channels: 1, sampleRate: 44100, bitsPerSample: 64, data: f64 }),
    );
    expect(Array.from(b.channelData[0])).toEqual([Math.fround(0.1), Math.fround(-0.2)]);
  });

  it("decodes WAVE_FORMAT_EXTENSIBLE with PCM (24 valid bits in 32) and float subformats", () => {
    const data = new Uint8Array(16);
    const v = new DataView(data.buffer);
    v.setInt32(0, 0x40000000, true); // ch0
    v.setInt32(4, -0x80000000, true); // ch1
    v.setInt32(8, 0x20000000, true);
    v.setInt32(12, 0, true);
    const a = decodeWav(
      makeWav({
        extensibleSubformat: 1,
        validBits: 24,
        channels: 2,
        sampleRate: 96000,
        bitsPerSample: 32,
        data,
      }),
    );
    expect(a.format.formatTag).toBe(0xfffe);
    expect(a.format.bitsPerSample).toBe(24);
    expect(Array.from(a.channelData[0])).toEqual([0.5, 0.25]);
    expect(Array.from(a.channelData[1])).toEqual([-1, 0]);
    const fl = new Uint8Array(new Float32Array([0.5, -0.5, 0.125]).buffer);
    const b = decodeWav(
      makeWav({ extensibleSubformat: 3, channels: 3, sampleRate: 32000, bitsPerSample: 32, data: fl }),
    );
    expect(b.format.sampleFormat).toBe("float");
    expect(b.channelData.map((c) => c[0])).toEqual([0.5, -0.5, 0.125]);
  });

  it("skips unknown chunks, honours odd-size padding, ignores trailing chunks", () => {
    const bytes = makeWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: int16Data([[1000, -1000, 5]]),
      before: [
        ["LIST", new TextEncoder().encode("INFOISFT odd")], // 12 bytes
        ["JUNK", new Uint8Array(7)], // odd size: a pad byte follows
        ["fact", Uint8Array.of(3, 0, 0, 0)],
      ],
      after: [["id3 ", new Uint8Array(33)]],
    });
    const a = decodeWav(bytes);
    expect(Array.from(a.channelData[0])).toEqual([1000 / 32768, -1000 / 32768, 5 / 32768].map(Math.fround));
  });

  it("reads an unknown data size (0xFFFFFFFF, or 0 with an unfinished RIFF size) until the end", () => {
    const data = int16Data([[1, 2, 3, 4]]);
    const a = decodeWav(
      makeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data, dataSize: 0xffffffff }),
    );
    expect(a.frames).toBe(4);
    const b = decodeWav(
      makeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data, dataSize: 0, riffSize: 0xffffffff }),
    );
    expect(b.frames).toBe(4);
    // A finished file that declares an empty data chunk is empty.
    const c = decodeWav(makeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data, dataSize: 0 }));
    expect(c.frames).toBe(0);
  });

  it("reads RF64 through its ds64 chunk, and refuses RF64 without one in words a user can act on", () => {
    const riff = makeWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: int16Data([[1, -2, 3]]),
    });
    expect(decodeWav(asRf64(riff, { ds64: true })).channelData).toEqual(decodeWav(riff).channelData);
    const noDs64 = asRf64(riff, { ds64: false });
    expect(() => decodeWav(noDs64)).toThrow(
      new WavFormatError(
        'an RF64 file must carry its sizes in a "ds64" chunk and this one has none; save it as a standard WAV file',
      ),
    );
    expect(() => parseWavHeader(noDs64)).toThrow(WavFormatError);
  });

  it("drops a trailing partial frame", () => {
    const data = Uint8Array.of(0, 0x40, 0, 0xc0, 0x12);
    const a = decodeWav(makeWav({ channels: 2, sampleRate: 16000, bitsPerSample: 16, data }));
    expect(a.frames).toBe(1);
    expect([a.channelData[0][0], a.channelData[1][0]]).toEqual([0.5, -0.5]);
  });

  it("decodes a real LibriSpeech file exactly as int16 / 32768", () => {
    const bytes = readSharedAudio(SPEECH);
    const a = decodeWav(bytes);
    expect(a.sampleRate).toBe(16000);
    expect(a.channels).toBe(1);
    expect(a.frames).toBe(Math.round(14.085 * 16000));
    const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const dataAt = raw.indexOf("data") + 8;
    for (const i of [0, 1, 777, 100_000, a.frames - 1]) {
      expect(a.channelData[0][i]).toBe(raw.readInt16LE(dataAt + 2 * i) / 32768);
    }
    const mono = readWavAs16kMono(bytes);
    expect(mono.length).toBe(a.frames);
    let same = 0;
    for (let i = 0; i < mono.length; i++) if (mono[i] === a.channelData[0][i]) same++;
    expect(same).toBe(a.frames);
  });
});

describe("decodeWav rejects malformed input with WavFormatError", () => {
  const good = { channels: 1, sampleRate: 16000, bitsPerSample: 16, data: int16Data([[1, 2, 3]]) };

  it("says what is wrong", () => {
    expectWavError(new TextEncoder().encode("ID3\u0003 this is an mp3"), /not a WAV file/);
    expectWavError(Uint8Array.of(0x52, 0x49), /not a WAV file/);
    const riffAvi = makeWav(good);
    riffAvi.set([0x41, 0x56, 0x49, 0x20], 8);
    expectWavError(riffAvi, /not a WAV file.*RIFF/);
    // RIFF/WAVE header with nothing after it.
    expectWavError(makeWav(good).subarray(0, 12), /no fmt chunk and no data chunk/);
    // fmt present, data missing.
    expectWavError(makeWav(good).subarray(0, 12 + 24), /no data chunk/);
    expectWavError(makeWav({ ...good, formatTag: 6 }), /unsupported WAV encoding 0x0006 \(A-law\)/);
    expectWavError(makeWav({ ...good, formatTag: 0x55 }), /MPEG Layer 3/);
    expectWavError(makeWav({ ...good, extensibleSubformat: 2 }), /unsupported .* in WAVE_FORMAT_EXTENSIBLE/);
    expectWavError(makeWav({ ...good, formatTag: 3, bitsPerSample: 16 }), /float bit depth 16/);
    expectWavError(makeWav({ ...good, bitsPerSample: 40 }), /PCM bit depth 40/);
    expectWavError(makeWav({ ...good, channels: 0, blockAlign: 2 }), /0 channels/);
    expectWavError(makeWav({ ...good, sampleRate: 0 }), /sample rate of 0/);
    expectWavError(makeWav({ ...good, blockAlign: 3 }), /block align mismatch/);
    expectWavError(
      makeWav({ ...good, dataSize: 1000 }),
      /truncated WAV: data chunk declares 1000 bytes but only 6/,
    );
  });

  it("fails fast on a 1 GB declared data chunk in a tiny file", () => {
    expectWavError(
      makeWav({ ...good, dataSize: 1 << 30 }),
      /truncated WAV: data chunk declares 1073741824 bytes/,
    );
    const hugeList = makeWav({ ...good, before: [["LIST", new Uint8Array(4)]] });
    new DataView(hugeList.buffer).setUint32(12 + 24 + 4, 0x7fffffff, true); // the LIST chunk's size
    expectWavError(hugeList, /chunk "LIST" declares 2147483647 bytes/);
  });

  it("never throws anything but WavFormatError on random or corrupted bytes", () => {
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const valid = makeWav({
      channels: 2,
      sampleRate: 44100,
      bitsPerSample: 24,
      data: new Uint8Array(600).map(() => Math.floor(rand() * 256)),
      before: [["LIST", new Uint8Array(9)]],
    });
    for (let trial = 0; trial < 3000; trial++) {
      let bytes: Uint8Array;
      if (trial % 3 === 0) {
        bytes = new Uint8Array(Math.floor(rand() * 100)).map(() => Math.floor(rand() * 256));
        bytes.set(valid.subarray(0, Math.min(12, bytes.length)));
      } else {
        bytes = valid.slice(0, Math.floor(rand() * valid.length) + 1);
        const flips = 1 + Math.floor(rand() * 4);
        for (let f = 0; f < flips; f++)
          bytes[Math.floor(rand() * Math.min(bytes.length, 80))] = Math.floor(rand() * 256);
      }
      try {
        const a = decodeWav(bytes);
        expect(a.channelData.length).toBe(a.channels);
        for (const ch of a.channelData) expect(ch.length).toBe(a.frames);
        expect(a.frames * a.format.blockAlign).toBeLessThanOrEqual(bytes.length);
      } catch (e) {
        if (!(e instanceof WavFormatError)) throw e;
      }
    }
  });
});

describe("streamed WAV", () => {
  const samples = Float32Array.from({ length: 1000 }, (_, i) => Math.round(Math.sin(i / 7) * 20000) / 32768);
  const other = Float32Array.from({ length: 1000 }, (_, i) => Math.round(Math.cos(i / 3) * 9000) / 32768);

  it("parseWavHeader asks for more bytes until the data chunk starts, then describes it", () => {
    const bytes = makeWav({
      channels: 1,
      sampleRate: 48000,
      bitsPerSample: 16,
      data: new Uint8Array(64),
      dataSize: 0xffffffff,
      riffSize: 0xffffffff,
      before: [["LIST", new Uint8Array(30)]],
    });
    const dataOffset = 12 + 24 + 38 + 8;
    for (let n = 0; n < dataOffset; n++) expect(parseWavHeader(bytes.subarray(0, n))).toBeNull();
    const h = parseWavHeader(bytes.subarray(0, dataOffset));
    expect(h).toEqual({
      format: expect.objectContaining({ sampleRate: 48000, channels: 1 }),
      dataOffset,
      dataLength: null,
    });
    const zero = makeWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: new Uint8Array(4),
      dataSize: 0,
    });
    expect(parseWavHeader(zero)?.dataLength).toBeNull();
    const known = makeWav({ channels: 1, sampleRate: 16000, bitsPerSample: 16, data: new Uint8Array(4) });
    expect(parseWavHeader(known)?.dataLength).toBe(4);
  });

  it("parseWavHeader rejects non-WAV streams and streams with no data chunk in the first MiB", () => {
    expect(() => parseWavHeader(new TextEncoder().encode("hello world, not a wav"))).toThrow(WavFormatError);
    const noData = makeWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: new Uint8Array(0),
      before: [["JUNK", new Uint8Array(1 << 20)]],
    });
    expect(() => parseWavHeader(noData.subarray(0, noData.length - 8))).toThrow(/no data chunk within/);
  });

  it("WavStreamDecoder fed in random pieces yields exactly what decodeWav gives", () => {
    const bytes = wav16([samples, other], 44100);
    const whole = decodeWav(bytes);
    const dec = new WavStreamDecoder();
    const got: number[][] = [[], []];
    let at = 0;
    let step = 1;
    while (at < bytes.length) {
      const piece = bytes.subarray(at, at + step);
      at += step;
      step = (step * 7 + 3) % 97;
      const out = dec.push(piece);
      out.forEach((ch, c) => {
        got[c].push(...ch);
      });
    }
    expect(dec.header?.format.channels).toBe(2);
    expect(got[0]).toEqual(Array.from(whole.channelData[0]));
    expect(got[1]).toEqual(Array.from(whole.channelData[1]));
  });

  it("WavStreamDecoder stops at a declared data length and ignores what follows", () => {
    const bytes = makeWav({
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 16,
      data: int16Data([[100, 200, 300]]),
      after: [["LIST", new Uint8Array(10).fill(0x55)]],
    });
    const dec = new WavStreamDecoder();
    const out = dec.push(bytes);
    expect(Array.from(out[0])).toEqual([100, 200, 300].map((v) => Math.fround(v / 32768)));
    expect(dec.done).toBe(true);
    expect(dec.push(Uint8Array.of(1, 2, 3, 4))[0].length).toBe(0);
  });
});

describe("readWavAs16kMono", () => {
  it("averages channels and resamples 44.1 kHz stereo to 16 kHz", () => {
    const n = 44100;
    const left = tone(n, 1000, 44100, 0.5);
    const right = tone(n, 1000, 44100, 0.3);
    const out = readWavAs16kMono(wav16([left, right], 44100));
    expect(out.length).toBe(16000);
    let peak = 0;
    for (let i = 2000; i < 14000; i++) peak = Math.max(peak, Math.abs(out[i]));
    expect(peak).toBeCloseTo(0.4, 3);
    // Phase is preserved (zero-delay filter): compare with the ideal 16 kHz tone.
    const ideal = tone(16000, 1000, 16000, 0.4);
    for (let i = 2000; i < 14000; i += 1111) expect(Math.abs(out[i] - ideal[i])).toBeLessThan(2e-3);
  });

  it("refuses absurd sample rates with a WavFormatError instead of building a giant filter", () => {
    const bytes = makeWav({
      channels: 1,
      sampleRate: 4_000_000_000,
      bitsPerSample: 16,
      data: int16Data([[1, 2]]),
    });
    expect(decodeWav(bytes).sampleRate).toBe(4_000_000_000);
    expect(() => readWavAs16kMono(bytes)).toThrow(WavFormatError);
  });

  it("downmixToMono averages", () => {
    expect(
      Array.from(downmixToMono([Float32Array.of(1, 0.5), Float32Array.of(0, -0.5), Float32Array.of(0.5, 0)])),
    ).toEqual([0.5, 0]);
  });
});
