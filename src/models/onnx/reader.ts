/**
 * Minimal ONNX reader: just enough of the protobuf wire format to take float constants out of a pinned
 * model (field numbers from onnx/onnx.proto3), so a graph built in memory can reuse its weights.
 */

/** One protobuf field: a varint, or the bytes of a length-delimited value. */
type Field = { wire: 0; value: number } | { wire: 2; bytes: Uint8Array } | { wire: 1 | 5; bytes: Uint8Array };

/**
 * A varint as a number: exact up to 2^53 (tags, lengths, dims, enums); larger ones (negative int64
 * values, never needed here) come out approximate.
 */
function readVarint(buf: Uint8Array, at: { p: number }): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at.p >= buf.length) throw new Error("truncated protobuf varint");
    const b = buf[at.p++];
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result;
    scale *= 128;
  }
  throw new Error("protobuf varint longer than 10 bytes");
}

/** The fields of one message, by field number, in wire order. */
function decodeMessage(buf: Uint8Array): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  const at = { p: 0 };
  while (at.p < buf.length) {
    const key = readVarint(buf, at);
    const number = Math.floor(key / 8);
    const wire = key % 8;
    let field: Field;
    if (wire === 0) field = { wire, value: readVarint(buf, at) };
    else if (wire === 2) {
      const length = readVarint(buf, at);
      if (at.p + length > buf.length) throw new Error("truncated protobuf field");
      field = { wire, bytes: buf.subarray(at.p, at.p + length) };
      at.p += length;
    } else if (wire === 1 || wire === 5) {
      const length = wire === 1 ? 8 : 4;
      field = { wire, bytes: buf.subarray(at.p, at.p + length) };
      at.p += length;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    const list = fields.get(number);
    if (list) list.push(field);
    else fields.set(number, [field]);
  }
  return fields;
}

function messages(fields: Map<number, Field[]>, number: number): Map<number, Field[]>[] {
  return (fields.get(number) ?? []).flatMap((f) => (f.wire === 2 ? [decodeMessage(f.bytes)] : []));
}

function text(fields: Map<number, Field[]>, number: number): string {
  const f = fields.get(number)?.[0];
  return f?.wire === 2 ? new TextDecoder().decode(f.bytes) : "";
}

function ints(fields: Map<number, Field[]>, number: number): number[] {
  return (fields.get(number) ?? []).flatMap((f) => {
    if (f.wire === 0) return [f.value];
    if (f.wire !== 2) return [];
    const out: number[] = [];
    const at = { p: 0 };
    while (at.p < f.bytes.length) out.push(readVarint(f.bytes, at));
    return out;
  });
}

export interface FloatConstant {
  dims: number[];
  data: Float32Array;
}

const FLOAT = 1;

/** A float TensorProto's values (raw_data or float_data). */
function floatTensor(tensor: Map<number, Field[]>): FloatConstant | null {
  if ((ints(tensor, 2)[0] ?? 0) !== FLOAT) return null;
  const dims = ints(tensor, 1);
  const raw = tensor.get(9)?.[0];
  let data: Float32Array;
  if (raw?.wire === 2) {
    // Copied (new Uint8Array(view)), since the model's bytes need not be 4-byte aligned.
    data = new Float32Array(new Uint8Array(raw.bytes).buffer);
  } else {
    // float_data: packed, or one fixed32 field per value.
    const parts = (tensor.get(4) ?? []).flatMap((f) => (f.wire === 0 ? [] : [f.bytes]));
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    data = new Float32Array(bytes.buffer);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`tensor of shape [${dims}] holds ${data.length} values`);
  return { dims, data };
}

/**
 * Every float Constant node and initializer of the model (those whose name `wanted` accepts), by output
 * name, from the main graph and the graphs inside its nodes' attributes (If branches, loops), at any depth.
 */
export function readFloatConstants(
  model: Uint8Array,
  wanted: (name: string) => boolean = () => true,
): Map<string, FloatConstant> {
  const out = new Map<string, FloatConstant>();
  const visit = (graph: Map<number, Field[]>) => {
    for (const init of messages(graph, 5)) {
      const name = text(init, 8);
      const t = wanted(name) ? floatTensor(init) : null;
      if (t) out.set(name, t);
    }
    for (const node of messages(graph, 1)) {
      for (const attr of messages(node, 5)) {
        if (text(node, 4) === "Constant" && text(attr, 1) === "value" && wanted(text(node, 2))) {
          for (const tensor of messages(attr, 5)) {
            const t = floatTensor(tensor);
            if (t) out.set(text(node, 2), t);
          }
        }
        for (const sub of [...messages(attr, 6), ...messages(attr, 11)]) visit(sub);
      }
    }
  };
  for (const graph of messages(decodeMessage(model), 7)) visit(graph);
  return out;
}
