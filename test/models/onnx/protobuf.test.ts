import { describe, expect, it } from "vitest";
import { encodeVarint, ProtoWriter } from "../../../src/models/onnx/protobuf.js";

describe("protobuf encoder", () => {
  it("encodes varints like protoc (negative int64 as 10 bytes)", () => {
    expect(Array.from(encodeVarint(0n))).toEqual([0]);
    expect(Array.from(encodeVarint(1n))).toEqual([1]);
    expect(Array.from(encodeVarint(300n))).toEqual([0xac, 0x02]);
    expect(Array.from(encodeVarint(-1n))).toEqual([
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ]);
    expect(Array.from(encodeVarint(2n ** 63n))).toEqual([
      0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
    ]);
    expect(() => encodeVarint(2n ** 64n)).toThrow(RangeError);
  });

  it("writes tags, strings, floats, packed ints and nested messages", () => {
    // Field 1 varint 150 -> 08 96 01 (the protobuf docs example); field 2 string "testing" -> 12 07 ...
    const inner = new ProtoWriter().int(1, 150);
    const bytes = new ProtoWriter()
      .string(2, "testing")
      .message(3, inner)
      .float(4, 1)
      .packedInts(5, [3, 270])
      .finish();
    expect(Buffer.from(bytes).toString("hex")).toBe(
      `1207${Buffer.from("testing").toString("hex")}1a03089601250000803f2a03038e02`,
    );
  });
});
