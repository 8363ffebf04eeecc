import { describe, expect, it } from "vitest";
import {
  DEFAULT_WYOMING_LIMITS,
  encodeEvent,
  WyomingDecoder,
  type WyomingEvent,
  WyomingProtocolError,
} from "../../src/wyoming/codec.js";

const line = (header: Record<string, unknown>) => Buffer.from(`${JSON.stringify(header)}\n`);

describe("Wyoming codec", () => {
  it("reads what the reference writes: header line, data_length JSON merged into data, payload", () => {
    // Bytes as wyoming 1.10's async_write_event lays out an audio-chunk.
    const data = Buffer.from(JSON.stringify({ rate: 16000, width: 2, channels: 1, timestamp: null }));
    const payload = Buffer.from([1, 2, 3, 4, 5, 6]);
    const bytes = Buffer.concat([
      line({ type: "audio-chunk", version: "1.10.2", data_length: data.length, payload_length: 6 }),
      data,
      payload,
    ]);
    const events = new WyomingDecoder().push(bytes);
    expect(events).toEqual([
      {
        type: "audio-chunk",
        data: { rate: 16000, width: 2, channels: 1, timestamp: null },
        payload: new Uint8Array(payload),
      },
    ]);
  });

  it("decodes events split at every byte, and inline data merged with data_length data", () => {
    const extra = Buffer.from(JSON.stringify({ language: "en" }));
    const bytes = Buffer.concat([
      line({ type: "transcribe", data: { name: "whisper" }, data_length: extra.length }),
      extra,
      encodeEvent({ type: "audio-stop", data: {}, payload: null }),
    ]);
    const decoder = new WyomingDecoder();
    const events: WyomingEvent[] = [];
    for (const b of bytes) events.push(...decoder.push(Uint8Array.of(b)));
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["transcribe", { name: "whisper", language: "en" }],
      ["audio-stop", {}],
    ]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("round-trips encodeEvent with payloads", () => {
    const event: WyomingEvent = {
      type: "audio-chunk",
      data: { rate: 22050, width: 2, channels: 2 },
      payload: Uint8Array.from({ length: 1000 }, (_, i) => i % 256),
    };
    const [back] = new WyomingDecoder().push(encodeEvent(event));
    expect(back).toEqual(event);
    const header = JSON.parse(encodeEvent(event).toString("latin1").split("\n")[0]);
    expect(header).toMatchObject({
      type: "audio-chunk",
      data_length: expect.any(Number),
      payload_length: 1000,
    });
  });

  const bad: Array<[string, Buffer, RegExp]> = [
    ["a header that is not JSON", Buffer.from("not json\n"), /header is not valid JSON/],
    ["a header that is a JSON array", Buffer.from("[1,2]\n"), /must be a JSON object/],
    ["no type", line({ data: {} }), /no valid event type/],
    ["a type that is not a name", line({ type: "a b\u0000" }), /no valid event type/],
    [
      "a negative payload_length",
      line({ type: "audio-chunk", payload_length: -1 }),
      /payload_length must be/,
    ],
    ["a fractional data_length", line({ type: "x", data_length: 1.5 }), /data_length must be/],
    ["a huge payload_length", line({ type: "audio-chunk", payload_length: 2 ** 40 }), /over the limit/],
    ["a huge data_length", line({ type: "audio-chunk", data_length: 10_000_000 }), /over the limit/],
    [
      "data that is not an object",
      Buffer.concat([line({ type: "x", data_length: 2 }), Buffer.from("[]")]),
      /data must be a JSON object/,
    ],
    ["inline data that is a string", line({ type: "x", data: "hi" }), /header data must be a JSON object/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects ${what}`, () => {
      const decoder = new WyomingDecoder();
      expect(() => decoder.push(bytes)).toThrow(message);
      // The decoder stays failed: nothing after a malformed event is trusted.
      expect(() => decoder.push(encodeEvent({ type: "ping", data: {}, payload: null }))).toThrow(
        WyomingProtocolError,
      );
    });
  }

  it("rejects a header line longer than the limit without buffering more of it", () => {
    const decoder = new WyomingDecoder();
    const block = Buffer.alloc(4096, 0x61);
    let error: unknown = null;
    let pushed = 0;
    try {
      for (; pushed < 100; pushed++) decoder.push(block);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(WyomingProtocolError);
    expect(String(error)).toMatch(/header line longer than 16384 bytes/);
    // Failed at the first block past the limit, not after the peer's whole flood.
    expect(pushed).toBe(Math.floor(DEFAULT_WYOMING_LIMITS.maxHeaderBytes / block.length));
  });
});
