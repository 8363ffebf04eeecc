import { ProtoWriter } from "./protobuf.js";

/** ONNX TensorProto.DataType values we write. */
export const OnnxDataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
export type OnnxDataType = (typeof OnnxDataType)[keyof typeof OnnxDataType];

export type AttributeValue =
  | { type: "int"; value: number }
  | { type: "ints"; value: readonly number[] }
  | { type: "float"; value: number }
  | { type: "floats"; value: readonly number[] }
  | { type: "string"; value: string };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  /** "" marks an optional output that is not produced. */
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface OnnxTensor {
  name: string;
  dims: readonly number[];
  dataType: OnnxDataType;
  /** Little-endian element bytes. */
  data: Float32Array | BigInt64Array | Int32Array;
}

/** A dimension: a fixed size or a symbolic name such as "batch". */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  elemType: OnnxDataType;
  shape: readonly OnnxDim[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
  graph: OnnxGraph;
}

// Field numbers from onnx/onnx.proto3.
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

function encodeAttribute(name: string, attr: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (attr.type) {
    case "float":
      w.float(2, attr.value).int(20, AttributeType.FLOAT);
      break;
    case "int":
      w.int(3, attr.value).int(20, AttributeType.INT);
      break;
    case "string":
      w.string(4, attr.value).int(20, AttributeType.STRING);
      break;
    case "floats":
      for (const f of attr.value) w.float(7, f);
      w.int(20, AttributeType.FLOATS);
      break;
    case "ints":
      w.packedInts(8, attr.value).int(20, AttributeType.INTS);
      break;
  }
  return w;
}

function encodeNode(node: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name).string(4, node.opType);
  // Sorted so attribute order never depends on object construction order.
  for (const key of Object.keys(node.attributes ?? {}).sort())
    w.message(5, encodeAttribute(key, node.attributes![key]));
  return w;
}

function encodeTensor(t: OnnxTensor): ProtoWriter {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length)
    throw new RangeError(`tensor ${t.name}: dims [${t.dims}] need ${count} values, got ${t.data.length}`);
  const w = new ProtoWriter();
  if (t.dims.length > 0) w.packedInts(1, t.dims);
  w.int(2, t.dataType).string(8, t.name);
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape)
    shape.message(1, typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Serialise a model to ONNX protobuf bytes (deterministic). Assumes a little-endian host. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const g = model.graph;
  const graph = new ProtoWriter();
  for (const n of g.nodes) graph.message(1, encodeNode(n));
  graph.string(2, g.name);
  for (const t of g.initializers) graph.message(5, encodeTensor(t));
  for (const i of g.inputs) graph.message(11, encodeValueInfo(i));
  for (const o of g.outputs) graph.message(12, encodeValueInfo(o));

  const w = new ProtoWriter()
    .int(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion);
  if (model.docString !== undefined) w.string(6, model.docString);
  w.message(7, graph);
  w.message(8, new ProtoWriter().string(1, "").int(2, model.opsetVersion));
  for (const key of Object.keys(model.metadata ?? {}).sort())
    w.message(14, new ProtoWriter().string(1, key).string(2, model.metadata![key]));
  return w.finish();
}
