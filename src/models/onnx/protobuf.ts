/**
 * Minimal protobuf encoder: just the wire types ONNX needs (varint, 32-bit float, length-delimited).
 * Fields are written in the order they are added, so equal inputs always give identical bytes.
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wireType: 0 | 2 | 5): void {
    this.push(encodeVarint(field * 8 + wireType));
  }

  /** int32/int64/uint64/enum/bool as a varint (negative values as 10-byte two's complement, like protoc). */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.push(encodeVarint(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.push(encodeVarint(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  /** Packed repeated varints (proto3 default for repeated scalars). */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.push(encodeVarint(v));
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

export function encodeVarint(value: number | bigint): Uint8Array {
  // Tags, lengths and small ints (nearly all of them) without BigInt arithmetic.
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 2 ** 31) {
    const out: number[] = [];
    let n = value;
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Uint8Array.from(out);
  }
  const big = BigInt(value);
  let v = big < 0n ? BigInt.asUintN(64, big) : big;
  if (v >= 1n << 64n) throw new RangeError(`varint ${value} does not fit in 64 bits`);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Uint8Array.from(out);
}
