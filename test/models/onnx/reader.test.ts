import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../src/models/onnx/graph-builder.js";
import { readFloatConstants } from "../../../src/models/onnx/reader.js";
import { sileroOriginalPath } from "../../vad/helpers.js";

describe("readFloatConstants", () => {
  it("reads back the float initializers the writer wrote, and skips int64 ones", () => {
    const g = new GraphBuilder();
    const w = g.floats("w", [2, 3], Float32Array.of(1, -2, 3.5, 0, 1e-20, -7));
    const s = g.scalar(0.25);
    g.op("Mul", [g.op("Reshape", ["x", g.int64s([-1, 3])]), w]);
    g.op("Mul", [g.nameLastOutput("y"), s]);
    g.nameLastOutput("z");
    const model = g.toModel(
      { graph: "t", producer: "test", version: "1" },
      { name: "x", shape: [6] },
      { name: "z", shape: [2, 3] },
    );
    const constants = readFloatConstants(model);
    expect([...constants.keys()].sort()).toEqual([s, w].sort());
    expect(constants.get(w)).toEqual({ dims: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-20, -7) });
    expect(constants.get(s)).toEqual({ dims: [], data: Float32Array.of(0.25) });
  });

  it("finds the Constant nodes inside If branches of the pinned Silero model", () => {
    const constants = readFloatConstants(readFileSync(sileroOriginalPath));
    const basis16k = constants.get("If_0_then_branch__Inline_0__stft.forward_basis_buffer");
    const basis8k = constants.get("If_0_else_branch__Inline_0__stft.forward_basis_buffer");
    expect(basis16k?.dims).toEqual([258, 1, 256]);
    expect(basis8k?.dims).toEqual([130, 1, 128]);
    expect(basis16k?.data.every(Number.isFinite)).toBe(true);
    // Only the wanted ones are decoded.
    const then = readFloatConstants(readFileSync(sileroOriginalPath), (name) => name.includes("then_branch"));
    expect(then.get("If_0_then_branch__Inline_0__stft.forward_basis_buffer")).toEqual(basis16k);
    expect([...then.keys()].some((name) => name.includes("else_branch"))).toBe(false);
  });

  it("rejects truncated input", () => {
    const bytes = readFileSync(sileroOriginalPath);
    expect(() => readFloatConstants(bytes.subarray(0, 1000))).toThrow(/truncated/);
  });
});
