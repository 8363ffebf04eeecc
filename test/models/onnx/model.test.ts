import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { encodeModel, OnnxDataType, type OnnxModel } from "../../../src/models/onnx/model.js";

const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
};

// y = normalise(relu(Squeeze(x[1,batch,3]) @ W^T + b)) with W 2x3: exercises initializers (float + int64),
// int/ints attributes, symbolic dims and optional-free node wiring.
const model: OnnxModel = {
  irVersion: 8,
  opsetVersion: 17,
  producerName: "test",
  producerVersion: "1",
  metadata: { purpose: "writer test" },
  graph: {
    name: "tiny",
    nodes: [
      { opType: "Squeeze", name: "sq", inputs: ["x", "axes"], outputs: ["x2"] },
      {
        opType: "Gemm",
        name: "fc",
        inputs: ["x2", "W", "b"],
        outputs: ["fc"],
        attributes: { transB: { type: "int", value: 1 } },
      },
      { opType: "Relu", name: "relu", inputs: ["fc"], outputs: ["r"] },
      {
        opType: "ReduceL2",
        name: "n",
        inputs: ["r"],
        outputs: ["norm"],
        attributes: { axes: { type: "ints", value: [1] }, keepdims: { type: "int", value: 1 } },
      },
      { opType: "Div", name: "div", inputs: ["r", "norm"], outputs: ["y"] },
    ],
    initializers: [
      { name: "axes", dims: [1], dataType: OnnxDataType.INT64, data: BigInt64Array.from([0n]) },
      {
        name: "W",
        dims: [2, 3],
        dataType: OnnxDataType.FLOAT,
        data: Float32Array.from([1, 0, 2, -1, 3, 0.5]),
      },
      { name: "b", dims: [2], dataType: OnnxDataType.FLOAT, data: Float32Array.from([0.5, 1]) },
    ],
    inputs: [{ name: "x", elemType: OnnxDataType.FLOAT, shape: [1, "batch", 3] }],
    outputs: [{ name: "y", elemType: OnnxDataType.FLOAT, shape: ["batch", 2] }],
  },
};

describe("ONNX model writer", () => {
  it("produces a model onnxruntime loads and runs correctly", async () => {
    const bytes = encodeModel(model);
    const session = await ort.InferenceSession.create(bytes, sessionOptions);
    expect(session.inputNames).toEqual(["x"]);
    expect(session.outputNames).toEqual(["y"]);
    const x = Float32Array.from([1, 2, 3, -4, 0, 1]);
    const out = (await session.run({ x: new ort.Tensor("float32", x, [1, 2, 3]) })).y;
    expect(out.dims).toEqual([2, 2]);
    // Row 1: [1+6+0.5, -1+6+1.5+1] = [7.5, 7.5] -> [0.7071, 0.7071]; row 2: [-4+2+0.5, 4+0.5+1] = [-1.5, 5.5] -> relu [0, 5.5] -> [0, 1].
    const y = Array.from(out.data as Float32Array);
    expect(y[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(y[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(y[2]).toBe(0);
    expect(y[3]).toBeCloseTo(1, 6);
    await session.release();
  });

  it("is byte-for-byte deterministic", () => {
    expect(Buffer.from(encodeModel(model)).equals(Buffer.from(encodeModel(model)))).toBe(true);
  });

  it("refuses a tensor whose data does not match its dims", () => {
    const bad: OnnxModel = {
      ...model,
      graph: {
        ...model.graph,
        initializers: [{ name: "W", dims: [2, 3], dataType: OnnxDataType.FLOAT, data: new Float32Array(5) }],
      },
    };
    expect(() => encodeModel(bad)).toThrow(/tensor W: dims \[2,3\] need 6 values, got 5/);
  });

  it("writes a file onnxruntime can open from disk", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-onnx-"));
    try {
      const file = path.join(dir, "tiny.onnx");
      writeFileSync(file, encodeModel(model));
      const session = await ort.InferenceSession.create(file, sessionOptions);
      expect(session.inputNames).toEqual(["x"]);
      await session.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
