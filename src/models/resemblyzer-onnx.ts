import { createHash } from "node:crypto";
import { CONVERTER_VERSIONS } from "./converter-versions.js";
import { ModelConversionError } from "./errors.js";
import { reorderGates } from "./onnx/lstm.js";
import { encodeModel, OnnxDataType, type OnnxNode, type OnnxTensor } from "./onnx/model.js";
import { loadTorchCheckpoint, stateDict, type TorchTensor } from "./torch/checkpoint.js";

export const RESEMBLYZER_INPUT_NAME = "mels";
export const RESEMBLYZER_OUTPUT_NAME = "embedding";

const LAYERS = 3;
const MEL_CHANNELS = 40;
const HIDDEN = 256;
const EMBEDDING = 256;

/**
 * Convert Resemblyzer's pretrained.pt (a torch checkpoint with {"model_state": state_dict}) into an
 * ONNX model computing VoiceEncoder.forward:
 *   mels float32 [batch, frames, 40] -> 3-layer LSTM(hidden 256) -> last layer's final hidden state
 *   -> Linear(256, 256) -> ReLU -> L2 normalise -> embedding float32 [batch, 256].
 * Deterministic: the same checkpoint always gives byte-identical output.
 */
export function convertResemblyzerToOnnx(checkpoint: Uint8Array, label = "pretrained.pt"): Uint8Array {
  const tensors = stateDict(loadTorchCheckpoint(checkpoint, label), label);
  const weight = (key: string, shape: readonly number[]): Float32Array => {
    const t: TorchTensor | undefined = tensors.get(key);
    if (t === undefined)
      throw new ModelConversionError(`${label}: tensor "${key}" is missing; not a Resemblyzer checkpoint?`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelConversionError(`${label}: tensor "${key}" has shape [${t.shape}], expected [${shape}]`);
    return t.toFloat32();
  };

  const initializers: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  const int64s = (name: string, values: number[]): string => {
    initializers.push({
      name,
      dims: [values.length],
      dataType: OnnxDataType.INT64,
      data: BigInt64Array.from(values, BigInt),
    });
    return name;
  };
  const floats = (name: string, dims: number[], data: Float32Array): string => {
    initializers.push({ name, dims, dataType: OnnxDataType.FLOAT, data });
    return name;
  };

  const axis0 = int64s("axes_0", [0]);
  const axis1 = int64s("axes_1", [1]);
  // ONNX LSTM wants time-major input; Resemblyzer's LSTM is batch_first.
  nodes.push({
    opType: "Transpose",
    name: "to_time_major",
    inputs: [RESEMBLYZER_INPUT_NAME],
    outputs: ["lstm0_x"],
    attributes: { perm: { type: "ints", value: [1, 0, 2] } },
  });
  let layerInput = "lstm0_x";
  for (let l = 0; l < LAYERS; l++) {
    const inSize = l === 0 ? MEL_CHANNELS : HIDDEN;
    const w = reorderGates(weight(`lstm.weight_ih_l${l}`, [4 * HIDDEN, inSize]), HIDDEN, inSize);
    const r = reorderGates(weight(`lstm.weight_hh_l${l}`, [4 * HIDDEN, HIDDEN]), HIDDEN, HIDDEN);
    const b = new Float32Array(8 * HIDDEN);
    b.set(reorderGates(weight(`lstm.bias_ih_l${l}`, [4 * HIDDEN]), HIDDEN, 1), 0);
    b.set(reorderGates(weight(`lstm.bias_hh_l${l}`, [4 * HIDDEN]), HIDDEN, 1), 4 * HIDDEN);
    const last = l === LAYERS - 1;
    nodes.push({
      opType: "LSTM",
      name: `lstm${l}`,
      inputs: [
        layerInput,
        floats(`lstm${l}_W`, [1, 4 * HIDDEN, inSize], w),
        floats(`lstm${l}_R`, [1, 4 * HIDDEN, HIDDEN], r),
        floats(`lstm${l}_B`, [1, 8 * HIDDEN], b),
      ],
      // Y [frames, 1, batch, hidden] feeds the next layer; the last layer only yields Y_h [1, batch, hidden].
      outputs: last ? ["", `lstm${l}_h`] : [`lstm${l}_y`],
      attributes: {
        hidden_size: { type: "int", value: HIDDEN },
        direction: { type: "string", value: "forward" },
      },
    });
    if (!last) {
      nodes.push({
        opType: "Squeeze",
        name: `lstm${l}_squeeze`,
        inputs: [`lstm${l}_y`, axis1],
        outputs: [`lstm${l + 1}_x`],
      });
      layerInput = `lstm${l + 1}_x`;
    }
  }
  nodes.push(
    {
      opType: "Squeeze",
      name: "hidden_squeeze",
      inputs: [`lstm${LAYERS - 1}_h`, axis0],
      outputs: ["hidden"],
    },
    {
      opType: "Gemm",
      name: "linear",
      inputs: [
        "hidden",
        floats("linear_weight", [EMBEDDING, HIDDEN], weight("linear.weight", [EMBEDDING, HIDDEN])),
        floats("linear_bias", [EMBEDDING], weight("linear.bias", [EMBEDDING])),
      ],
      outputs: ["linear_out"],
      attributes: { transB: { type: "int", value: 1 } },
    },
    { opType: "Relu", name: "relu", inputs: ["linear_out"], outputs: ["relu_out"] },
    {
      opType: "ReduceL2",
      name: "norm",
      inputs: ["relu_out"],
      outputs: ["norm_out"],
      attributes: { axes: { type: "ints", value: [1] }, keepdims: { type: "int", value: 1 } },
    },
    {
      opType: "Div",
      name: "normalise",
      inputs: ["relu_out", "norm_out"],
      outputs: [RESEMBLYZER_OUTPUT_NAME],
    },
  );

  const sourceSha256 = createHash("sha256").update(checkpoint).digest("hex");
  return encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: "voiceid resemblyzer-onnx",
    producerVersion: CONVERTER_VERSIONS["resemblyzer-onnx"],
    docString:
      "Resemblyzer GE2E speaker encoder (VoiceEncoder.forward), converted from the PyTorch checkpoint.",
    metadata: { source: label, source_sha256: sourceSha256 },
    graph: {
      name: "resemblyzer_voice_encoder",
      nodes,
      initializers,
      inputs: [
        {
          name: RESEMBLYZER_INPUT_NAME,
          elemType: OnnxDataType.FLOAT,
          shape: ["batch", "frames", MEL_CHANNELS],
        },
      ],
      outputs: [{ name: RESEMBLYZER_OUTPUT_NAME, elemType: OnnxDataType.FLOAT, shape: ["batch", EMBEDDING] }],
    },
  });
}
