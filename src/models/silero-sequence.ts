import { VAD_WINDOW_SAMPLES } from "../vad/detector.js";
import { CONVERTER_VERSIONS } from "./converter-versions.js";
import { ModelConversionError } from "./errors.js";
import { GraphBuilder } from "./onnx/graph-builder.js";
import { reorderGates } from "./onnx/lstm.js";
import { type FloatConstant, readFloatConstants } from "./onnx/reader.js";

export const SILERO_CONTEXT_SAMPLES = 64;
const SPAN = SILERO_CONTEXT_SAMPLES + VAD_WINDOW_SAMPLES;
const HIDDEN = 128;
const BINS = 129;

/** Where Silero v5 keeps its 16 kHz weights: the `then` branch of its top-level `If (sr == 16000)`. */
const BRANCH = "If_0_then_branch__Inline_0__";

/**
 * Silero VAD v5's 16 kHz network, rebuilt at fetch time from the pinned model's own weights as one graph
 * over a sequence of windows: `windows [T, 576]` (each window with the 64 samples before it) and
 * `state [2, 1, 128]` (h, c) in; `probabilities [T]` and `stateN [2, 1, 128]` out. Deterministic: the
 * same input always gives byte-identical output (its sha256 is pinned in the manifest).
 *
 * The original runs one window per call: its STFT and convolutions see only that window, and only the
 * LSTM cell carries state. Here the convolutions run over all T windows as one batch and the cell
 * becomes an ONNX LSTM over T steps, so T windows cost one call instead of T, with the same arithmetic
 * (the tests hold it to the original model's probabilities).
 */
export function convertSileroToSequence(original: Uint8Array, label = "silero_vad.onnx"): Uint8Array {
  let constants: Map<string, FloatConstant>;
  try {
    constants = readFloatConstants(original, (name) => name.startsWith(BRANCH));
  } catch (err) {
    throw new ModelConversionError(
      `${label}: not an ONNX model (${err instanceof Error ? err.message : err})`,
    );
  }
  const weight = (name: string, dims: readonly number[]): FloatConstant => {
    const t = constants.get(BRANCH + name);
    if (!t || t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new ModelConversionError(`${label}: not Silero VAD v5 (no 16 kHz "${name}" of shape [${dims}])`);
    }
    return t;
  };
  const g = new GraphBuilder();
  const int = (value: number) => ({ type: "int" as const, value });
  const param = (name: string, dims: number[]) => g.floats(name, dims, weight(name, dims).data);

  // Everything before the LSTM runs as one GEMM per layer over all windows' frames, instead of a small
  // Conv per window; the weights are used as stored (Gemm transB).
  const slice = (t: string, from: number, to: number, axis: number, step = 1) =>
    g.op("Slice", [t, g.int64s([from]), g.int64s([to]), g.int64s([axis]), g.int64s([step])]);
  const gemm = (rows: string, w: string, bias?: string) =>
    g.op("Gemm", bias ? [rows, w, bias] : [rows, w], { transB: int(1) });

  // STFT: reflect-pad 64 on the right (640 samples = 5 blocks of 128); frame f (256 samples, hop 128) is
  // blocks f and f + 1 side by side, and one GEMM with the model's basis [258, 256] gives every spectrum.
  const padded = g.op("Pad", ["windows", g.int64s([0, 0, 0, 64])], {
    mode: { type: "string", value: "reflect" },
  });
  const blocks = g.op("Reshape", [padded, g.int64s([-1, 5, 128])]);
  const stftFrames = g.op("Concat", [slice(blocks, 0, 4, 1), slice(blocks, 1, 5, 1)], { axis: int(2) });
  const spectrum = g.op("Reshape", [
    gemm(
      g.op("Reshape", [stftFrames, g.int64s([-1, 256])]),
      g.floats("stft_basis", [2 * BINS, 256], weight("stft.forward_basis_buffer", [2 * BINS, 1, 256]).data),
    ),
    g.int64s([-1, 4, 2 * BINS]),
  ]);
  const [re, im] = g.opN("Split", [spectrum], 2, { axis: int(2) });
  let x = g.op("Sqrt", [g.op("Add", [g.op("Mul", [re, re]), g.op("Mul", [im, im])])]);

  // Conv1d (kernel 3, padding 1) over [T, frames, channels] as one GEMM: the three taps of each channel
  // side by side ([T, frames, channels, 3]), which is the layout of the weight [out, channels, 3].
  const encoder: [number, number, number][] = [
    [128, BINS, 1],
    [64, 128, 2],
    [64, 64, 2],
    [128, 64, 1],
  ];
  let frames = 4;
  encoder.forEach(([out, inp, stride], i) => {
    const outFrames = Math.floor((frames - 1) / stride) + 1;
    const p = g.op("Pad", [x, g.int64s([0, 1, 0, 0, 1, 0])]);
    const taps = [0, 1, 2].map((k) =>
      g.op("Unsqueeze", [slice(p, k, k + stride * (outFrames - 1) + 1, 1, stride), g.int64s([3])]),
    );
    const rows = g.op("Reshape", [g.op("Concat", taps, { axis: int(3) }), g.int64s([-1, 3 * inp])]);
    const y = gemm(
      rows,
      g.floats("conv", [out, 3 * inp], weight(`encoder.${i}.reparam_conv.weight`, [out, inp, 3]).data),
      param(`encoder.${i}.reparam_conv.bias`, [out]),
    );
    x = g.op("Relu", [g.op("Reshape", [y, g.int64s([-1, outFrames, out])])]);
    frames = outFrames;
  });

  // [T, 1 frame, 128] is already time-major [T, batch 1, 128] for the LSTM; state[0] is h, state[1] is c.
  const sequence = x;
  const [h0, c0] = g.opN("Split", ["state"], 2, { axis: int(0) });
  const bias = new Float32Array(8 * HIDDEN);
  bias.set(reorderGates(weight("decoder.rnn.bias_ih", [4 * HIDDEN]).data, HIDDEN, 1), 0);
  bias.set(reorderGates(weight("decoder.rnn.bias_hh", [4 * HIDDEN]).data, HIDDEN, 1), 4 * HIDDEN);
  const gates = (name: string) => reorderGates(weight(name, [4 * HIDDEN, HIDDEN]).data, HIDDEN, HIDDEN);
  const [y, hN, cN] = g.opN(
    "LSTM",
    [
      sequence,
      g.floats("W", [1, 4 * HIDDEN, HIDDEN], gates("decoder.rnn.weight_ih")),
      g.floats("R", [1, 4 * HIDDEN, HIDDEN], gates("decoder.rnn.weight_hh")),
      g.floats("B", [1, 8 * HIDDEN], bias),
      "",
      h0,
      c0,
    ],
    3,
    { hidden_size: int(HIDDEN) },
  );
  g.op("Concat", [hN, cN], { axis: int(0) });
  g.nameLastOutput("stateN");

  // The decoder: ReLU, a 1x1 Conv (here a MatMul over the hidden units), sigmoid, per window.
  const hidden = g.op("Relu", [g.op("Reshape", [y, g.int64s([-1, HIDDEN])])]);
  const logits = g.op("Add", [
    g.op("MatMul", [
      hidden,
      g.floats("decoder_w", [HIDDEN, 1], weight("decoder.decoder.2.weight", [1, HIDDEN, 1]).data),
    ]),
    param("decoder.decoder.2.bias", [1]),
  ]);
  g.op("Reshape", [g.op("Sigmoid", [logits]), g.int64s([-1])]);
  g.nameLastOutput("probabilities");

  return g.toModel(
    {
      graph: "silero_vad_sequence",
      producer: "voiceid silero-sequence",
      version: CONVERTER_VERSIONS["silero-sequence"],
    },
    [
      { name: "windows", shape: ["windows", SPAN] },
      { name: "state", shape: [2, 1, HIDDEN] },
    ],
    [
      { name: "probabilities", shape: ["windows"] },
      { name: "stateN", shape: [2, 1, HIDDEN] },
    ],
  );
}
