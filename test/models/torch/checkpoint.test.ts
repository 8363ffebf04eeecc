import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { TorchCheckpointError } from "../../../src/models/errors.js";
import { loadTorchCheckpoint, stateDict, TorchTensor } from "../../../src/models/torch/checkpoint.js";
import { fixture, realModelsDir, realPretrainedPt } from "../helpers.js";

describe.each([
  ["zip format", "tiny-zip.pt", "state_dict", "epoch"],
  ["legacy format", "tiny-legacy.pt", "model_state", "step"],
])("torch checkpoint, %s (written by torch.save)", (_label, file, sdKey, countKey) => {
  it("rebuilds tensors with shape, stride, offset and dtype", () => {
    const ck = loadTorchCheckpoint(readFileSync(fixture(file)), file) as Map<string, unknown>;
    expect(ck.get(countKey)).toBe(7);
    expect(ck.get(sdKey)).toBeInstanceOf(Map);
    const sd = stateDict(ck);
    expect([...sd.keys()]).toEqual(["a.weight", "b.transposed", "c.param", "d.double", "e.slice", "f.long"]);
    expect(sd.get("a.weight")!.shape).toEqual([2, 3]);
    expect(Array.from(sd.get("a.weight")!.toFloat32())).toEqual([0, 1, 2, 3, 4, 5]);
    // Transposed view [3,2] with stride [1,3]: row-major copy is 0,3,1,4,2,5.
    expect(sd.get("b.transposed")!.stride).toEqual([1, 3]);
    expect(Array.from(sd.get("b.transposed")!.toFloat32())).toEqual([0, 3, 1, 4, 2, 5]);
    expect(Array.from(sd.get("c.param")!.toFloat32())).toEqual([0.5, 0.5]);
    expect(sd.get("d.double")!.dtype).toBe("float64");
    expect(Array.from(sd.get("d.double")!.toFloat32())).toEqual([0, 0.25, 0.5]);
    expect(sd.get("e.slice")!.storageOffset).toBe(4);
    expect(Array.from(sd.get("e.slice")!.toFloat32())).toEqual([4, 5, 6]);
    expect(sd.get("f.long")!.dtype).toBe("int64");
    expect(() => sd.get("f.long")!.toFloat32()).toThrow(/dtype int64 cannot be read as float32/);
  });
});

describe("Resemblyzer pretrained.pt (legacy format, real file)", () => {
  let bytes: Buffer;
  beforeAll(async () => {
    bytes = readFileSync(realPretrainedPt(await realModelsDir()));
  });

  it("has the LSTM/linear state dict with the expected shapes", () => {
    const ck = loadTorchCheckpoint(bytes, "pretrained.pt") as Map<string, unknown>;
    expect(ck.get("step")).toBe(1564501);
    const sd = stateDict(ck);
    const shapes = Object.fromEntries([...sd].map(([k, t]) => [k, t.shape]));
    expect(shapes).toEqual({
      similarity_weight: [1],
      similarity_bias: [1],
      "lstm.weight_ih_l0": [1024, 40],
      "lstm.weight_hh_l0": [1024, 256],
      "lstm.bias_ih_l0": [1024],
      "lstm.bias_hh_l0": [1024],
      "lstm.weight_ih_l1": [1024, 256],
      "lstm.weight_hh_l1": [1024, 256],
      "lstm.bias_ih_l1": [1024],
      "lstm.bias_hh_l1": [1024],
      "lstm.weight_ih_l2": [1024, 256],
      "lstm.weight_hh_l2": [1024, 256],
      "lstm.bias_ih_l2": [1024],
      "lstm.bias_hh_l2": [1024],
      "linear.weight": [256, 256],
      "linear.bias": [256],
    });
    // The LSTM weights share one cuDNN flat buffer; offsets locate each tensor in it.
    expect(sd.get("lstm.weight_hh_l0")!.storageOffset).toBe(40960);
    expect(sd.get("lstm.weight_hh_l0")!.storage).toBe(sd.get("lstm.weight_ih_l0")!.storage);
    // Values as printed by torch.load(...)["model_state"][k].flatten()[:2] / [-1].
    const first = (k: string) => Array.from(sd.get(k)!.toFloat32().subarray(0, 2));
    expect(sd.get("similarity_weight")!.toFloat32()[0]).toBeCloseTo(70.89291381835938, 12);
    expect(first("lstm.weight_ih_l0")).toEqual([
      Math.fround(0.042865801602602005),
      Math.fround(-0.30569419264793396),
    ]);
    expect(first("lstm.weight_hh_l0")).toEqual([
      Math.fround(-0.32326969504356384),
      Math.fround(-0.5943440794944763),
    ]);
    expect(first("lstm.bias_hh_l2")).toEqual([
      Math.fround(-0.16388238966464996),
      Math.fround(-0.2686031460762024),
    ]);
    const lb = sd.get("linear.bias")!.toFloat32();
    expect(lb[255]).toBe(Math.fround(0.03019702434539795));
    expect(sd.get("linear.weight")).toBeInstanceOf(TorchTensor);
  });

  it("rejects truncated and foreign files", () => {
    expect(() => loadTorchCheckpoint(bytes.subarray(0, bytes.length - 1000), "cut.pt")).toThrow(
      TorchCheckpointError,
    );
    expect(() => loadTorchCheckpoint(bytes.subarray(0, bytes.length - 1000), "cut.pt")).toThrow(
      /cut.pt: storage .* is truncated/,
    );
    expect(() => loadTorchCheckpoint(Buffer.from("hello world"), "x.pt")).toThrow(
      /x.pt: not a PyTorch checkpoint/,
    );
    expect(() => stateDict(new Map([["a", 1]]), "y.pt")).toThrow(/y.pt: no state dict of tensors/);
  });
});
