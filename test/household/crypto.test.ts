import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  HouseholdKeyError,
  loadHouseholdKey,
  newHouseholdKey,
  open,
  parseHouseholdKey,
  SealError,
  seal,
} from "../../src/household/crypto.js";
import { decodeMessage, encodeMessage, type HouseholdMessage, WireError } from "../../src/household/wire.js";
import { unitVector } from "../registry/helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "voiceid-household-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = parseHouseholdKey(newHouseholdKey(), "key");
const topic = "voiceid/_household/person/alice";
const voiceprint = Array.from(Float32Array.from(unitVector(1, 256)));
const message: Extract<HouseholdMessage, { kind: "person" }> = {
  kind: "person",
  from: "0123456789ab",
  room: "Kitchen",
  sentAt: "2026-12-05T08:00:00.000Z",
  record: {
    id: "alice",
    inc: "1765000000000-0000-0123456789ab",
    name: { t: "1765000000000-0001-0123456789ab", v: "Alice" },
    samples: {
      s1: {
        c: "1765000000000-0002-0123456789ab",
        info: {
          createdAt: "2026-12-05T08:00:00.000Z",
          speechSeconds: 3,
          durationSeconds: 4,
          source: "http",
        },
        vp: { "resemblyzer-0.1.4": { t: "1765000000000-0002-0123456789ab", v: voiceprint } },
      },
    },
  },
};

describe("household key", () => {
  it("is 64 hex digits, new every time, and its id reveals nothing of it", () => {
    const a = newHouseholdKey();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(newHouseholdKey()).not.toBe(a);
    const parsed = parseHouseholdKey(a, "k");
    expect(parsed.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a.includes(parsed.id)).toBe(false);
  });

  it("refuses anything else with a message saying how to make one", () => {
    expect(() => parseHouseholdKey("abc", "household.key")).toThrow(/64 hex digits.*voiceid household key/);
  });

  it("is read from keyFile (trailing newline and all), and an unreadable file is a clear error", async () => {
    const file = path.join(dir, "household.key");
    const hex = newHouseholdKey();
    writeFileSync(file, `${hex}\n`);
    expect((await loadHouseholdKey({ keyFile: file })).id).toBe(parseHouseholdKey(hex, "k").id);
    await expect(loadHouseholdKey({ keyFile: path.join(dir, "missing") })).rejects.toThrow(HouseholdKeyError);
  });
});

describe("sealed messages", () => {
  it("round-trip, and the voiceprint is neither readable nor plain in the payload", () => {
    const sealed = seal(key, topic, encodeMessage(message));
    expect(sealed.includes(Buffer.from("Alice"))).toBe(false);
    expect(decodeMessage(open(key, topic, sealed))).toEqual(message);
  });

  it("packs float32 voiceprints to a third of their JSON text", () => {
    const packed = encodeMessage(message).length;
    expect(packed).toBeLessThan(JSON.stringify(message).length / 2.5);
  });

  it("refuses another key, another topic, a flipped bit, a cut payload and garbage", () => {
    const sealed = seal(key, topic, encodeMessage(message));
    const other = parseHouseholdKey(newHouseholdKey(), "other");
    expect(() => open(other, topic, sealed)).toThrow(/another key/);
    expect(() => open(key, "voiceid/_household/person/bob", sealed)).toThrow(SealError);
    for (const at of [3, 12, 30, 40, sealed.length - 1]) {
      const flipped = Buffer.from(sealed);
      flipped[at] ^= 1;
      expect(() => open(key, topic, flipped)).toThrow(SealError);
    }
    expect(() => open(key, topic, sealed.subarray(0, 30))).toThrow(SealError);
    expect(() => open(key, topic, Buffer.from("hello"))).toThrow(SealError);
  });

  it("refuses a sealed payload that is not a household message", () => {
    const bad = (value: unknown) =>
      decodeMessage(open(key, topic, seal(key, topic, Buffer.from(JSON.stringify(value)))));
    expect(() => bad({ kind: "person", from: "x" })).toThrow(WireError);
    expect(() => bad({ ...message, record: { ...message.record, name: { t: "1", v: "Alice" } } })).toThrow(
      WireError,
    );
    const nan = encodeMessage(message)
      .toString()
      .replace(/"v":\{"f32":"[^"]+"\}/, '"v":[1,"NaN"]');
    expect(nan).toContain('"v":[1,"NaN"]');
    expect(() => decodeMessage(open(key, topic, seal(key, topic, Buffer.from(nan))))).toThrow(WireError);
    expect(() => decodeMessage(open(key, topic, seal(key, topic, Buffer.from("{not json"))))).toThrow(
      WireError,
    );
  });
});
