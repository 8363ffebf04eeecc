import { createHash } from "node:crypto";
import { CONVERTER_VERSIONS } from "./converter-versions.js";
import { ModelConversionError } from "./errors.js";
import { GraphBuilder } from "./onnx/graph-builder.js";
import { appendFbank, FBANK } from "./onnx/speechbrain-fbank.js";
import { loadTorchCheckpoint, stateDict, type TorchTensor } from "./torch/checkpoint.js";

export const ECAPA_INPUT_NAME = "wav";
export const ECAPA_OUTPUT_NAME = "embedding";
/** SpeechBrain's BatchNorm1d default. */
const BN_EPS = 1e-5;
/** AttentiveStatisticsPooling's eps. */
const STATS_EPS = 1e-12;

/** What the converter read from the checkpoint's tensor shapes. */
export interface EcapaShape {
  inputSize: number;
  channels: number[];
  kernelSizes: number[];
  dilations: number[];
  res2netScale: number;
  seChannels: number;
  attentionChannels: number;
  globalContext: boolean;
  embeddingDim: number;
}

export interface EcapaConversion {
  onnx: Uint8Array;
  shape: EcapaShape;
}

/**
 * Convert SpeechBrain's ECAPA-TDNN state dict (embedding_model.ckpt of spkrec-ecapa-voxceleb, or any
 * ECAPA_TDNN saved the same way) into one ONNX graph computing what EncoderClassifier.encode_batch
 * computes, plus L2 normalisation:
 *   wav float32 [batch, samples] -> Fbank(80) -> sentence mean norm -> ECAPA_TDNN.forward
 *   -> embedding float32 [batch, dim], unit length.
 * Layer sizes come from the tensor shapes; the dilations are SpeechBrain's (1, 2, 3, ...), which the
 * pinned hyperparams.yaml also uses and which no tensor records.
 */
export function convertEcapaToOnnx(checkpoint: Uint8Array, label = "embedding_model.ckpt"): Uint8Array {
  return convertEcapa(checkpoint, label).onnx;
}

export function convertEcapa(checkpoint: Uint8Array, label = "embedding_model.ckpt"): EcapaConversion {
  const tensors = stateDict(loadTorchCheckpoint(checkpoint, label), label);
  const get = (key: string): TorchTensor => {
    const t = tensors.get(key);
    if (t === undefined)
      throw new ModelConversionError(`${label}: tensor "${key}" is missing; not a SpeechBrain ECAPA-TDNN?`);
    return t;
  };
  const shapeOf = (key: string) => get(key).shape;
  const data = (key: string, shape: readonly number[]): Float32Array => {
    const t = get(key);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelConversionError(`${label}: tensor "${key}" has shape [${t.shape}], expected [${shape}]`);
    return t.toFloat32();
  };

  const shape = readShape(tensors, shapeOf, label);
  const g = new GraphBuilder();

  /** SpeechBrain Conv1d: reflect padding to "same" length (stride 1), then the convolution. */
  const conv = (x: string, prefix: string, inC: number, outC: number, kernel: number, dilation = 1) => {
    const pad = Math.floor((dilation * (kernel - 1)) / 2);
    const input = pad > 0 ? g.op("Pad", [x, g.int64s([0, 0, pad, 0, 0, pad])], reflect) : x;
    return g.op(
      "Conv",
      [
        input,
        g.floats(`${prefix}_w`, [outC, inC, kernel], data(`${prefix}.weight`, [outC, inC, kernel])),
        g.floats(`${prefix}_b`, [outC], data(`${prefix}.bias`, [outC])),
      ],
      { kernel_shape: ints([kernel]), dilations: ints([dilation]) },
    );
  };
  const batchNorm = (x: string, prefix: string, c: number) =>
    g.op(
      "BatchNormalization",
      [
        x,
        g.floats(`${prefix}_scale`, [c], data(`${prefix}.weight`, [c])),
        g.floats(`${prefix}_bias`, [c], data(`${prefix}.bias`, [c])),
        g.floats(`${prefix}_mean`, [c], data(`${prefix}.running_mean`, [c])),
        g.floats(`${prefix}_var`, [c], data(`${prefix}.running_var`, [c])),
      ],
      { epsilon: { type: "float", value: BN_EPS } },
    );
  /** TDNNBlock: conv -> ReLU -> BatchNorm (ReLU before the norm, as SpeechBrain has it). */
  const tdnn = (x: string, prefix: string, inC: number, outC: number, kernel: number, dilation = 1) =>
    batchNorm(
      g.op("Relu", [conv(x, `${prefix}.conv.conv`, inC, outC, kernel, dilation)]),
      `${prefix}.norm.norm`,
      outC,
    );
  const meanOverTime = (x: string) => g.op("ReduceMean", [x], { axes: ints([2]), keepdims: int(1) });
  const sumOverTime = (x: string) => g.op("ReduceSum", [x, g.int64s([2])], { keepdims: int(1) });

  const wav = ECAPA_INPUT_NAME;
  let x = appendFbank(g, wav);
  const { channels, kernelSizes, dilations, res2netScale: scale } = shape;
  x = tdnn(x, "blocks.0", shape.inputSize, channels[0], kernelSizes[0], dilations[0]);
  const blockOutputs: string[] = [];
  for (let i = 1; i < channels.length - 1; i++) {
    const p = `blocks.${i}`;
    const inC = channels[i - 1];
    const c = channels[i];
    const residual = tensors.has(`${p}.shortcut.conv.weight`) ? conv(x, `${p}.shortcut.conv`, inC, c, 1) : x;
    let y = tdnn(x, `${p}.tdnn1`, inC, c, 1);
    // Res2Net: chunk i (i >= 1) goes through block i-1, after adding the previous chunk's output (i >= 2).
    const chunks = g.opN("Split", [y], scale, { axis: int(1) });
    const width = c / scale;
    const outs: string[] = [chunks[0]];
    let previous = "";
    for (let s = 1; s < scale; s++) {
      const input = s === 1 ? chunks[s] : g.op("Add", [chunks[s], previous]);
      previous = tdnn(
        input,
        `${p}.res2net_block.blocks.${s - 1}`,
        width,
        width,
        kernelSizes[i],
        dilations[i],
      );
      outs.push(previous);
    }
    y = g.op("Concat", outs, { axis: int(1) });
    y = tdnn(y, `${p}.tdnn2`, c, c, 1);
    // Squeeze-excitation over the time mean (no lengths: every frame counts).
    let s = conv(meanOverTime(y), `${p}.se_block.conv1.conv`, c, shape.seChannels, 1);
    s = g.op("Sigmoid", [conv(g.op("Relu", [s]), `${p}.se_block.conv2.conv`, shape.seChannels, c, 1)]);
    x = g.op("Add", [g.op("Mul", [s, y]), residual]);
    blockOutputs.push(x);
  }
  const last = channels[channels.length - 1];
  const mfaIn = channels.slice(1, -1).reduce((a, b) => a + b, 0);
  x = tdnn(
    g.op("Concat", blockOutputs, { axis: int(1) }),
    "mfa",
    mfaIn,
    last,
    kernelSizes.at(-1)!,
    dilations.at(-1)!,
  );

  // Attentive statistics pooling with global context. The attention's 1x1 conv over
  // [x; mean; std] (mean and std repeated over time) is split into conv(x) plus a per-utterance
  // term, which is the same sum without materialising the repeated statistics.
  /** Mean and std over time, weighted by `weights` (each frame's weights sum to 1), or uniform. */
  const stats = (weights?: string) => {
    const average = (v: string) => (weights ? sumOverTime(g.op("Mul", [weights, v])) : meanOverTime(v));
    const mean = average(x);
    const centred = g.op("Sub", [x, mean]);
    const variance = average(g.op("Mul", [centred, centred]));
    return { mean, std: g.op("Sqrt", [g.op("Max", [variance, g.scalar(STATS_EPS)])]) };
  };
  const a = shape.attentionChannels;
  let attention: string;
  if (shape.globalContext) {
    const w = data("asp.tdnn.conv.conv.weight", [a, 3 * last, 1]);
    const perFrame = new Float32Array(a * last);
    const perUtterance = new Float32Array(a * 2 * last);
    for (let o = 0; o < a; o++) {
      perFrame.set(w.subarray(o * 3 * last, o * 3 * last + last), o * last);
      perUtterance.set(w.subarray(o * 3 * last + last, (o + 1) * 3 * last), o * 2 * last);
    }
    const global = stats();
    const context = g.op("Concat", [global.mean, global.std], { axis: int(1) });
    const h = g.op("Add", [
      g.op("Conv", [
        x,
        g.floats("asp_tdnn_x", [a, last, 1], perFrame),
        g.floats("asp_tdnn_b", [a], data("asp.tdnn.conv.conv.bias", [a])),
      ]),
      g.op("Conv", [context, g.floats("asp_tdnn_ctx", [a, 2 * last, 1], perUtterance)]),
    ]);
    attention = batchNorm(g.op("Relu", [h]), "asp.tdnn.norm.norm", a);
  } else {
    attention = tdnn(x, "asp.tdnn", last, a, 1);
  }
  attention = conv(g.op("Tanh", [attention]), "asp.conv.conv", a, last, 1);
  const pooled = stats(g.op("Softmax", [attention], { axis: int(2) }));
  x = g.op("Concat", [pooled.mean, pooled.std], { axis: int(1) });

  // asp_bn then fc (a 1x1 conv): BatchNorm folded into fc's weights, exact since nothing sits between.
  const fcIn = 2 * last;
  const dim = shape.embeddingDim;
  const bnScale = data("asp_bn.norm.weight", [fcIn]);
  const bnBias = data("asp_bn.norm.bias", [fcIn]);
  const bnMean = data("asp_bn.norm.running_mean", [fcIn]);
  const bnVar = data("asp_bn.norm.running_var", [fcIn]);
  const fcW = data("fc.conv.weight", [dim, fcIn, 1]);
  const fcB = data("fc.conv.bias", [dim]);
  const foldedW = new Float32Array(dim * fcIn);
  const foldedB = new Float32Array(dim);
  for (let o = 0; o < dim; o++) {
    let bias = fcB[o];
    for (let c = 0; c < fcIn; c++) {
      const k = bnScale[c] / Math.sqrt(bnVar[c] + BN_EPS);
      foldedW[o * fcIn + c] = fcW[o * fcIn + c] * k;
      bias += fcW[o * fcIn + c] * (bnBias[c] - bnMean[c] * k);
    }
    foldedB[o] = bias;
  }
  const flat = g.op("Flatten", [x], { axis: int(1) });
  const embedding = g.op(
    "Gemm",
    [flat, g.floats("fc_w", [dim, fcIn], foldedW), g.floats("fc_b", [dim], foldedB)],
    {
      transB: int(1),
    },
  );
  const norm = g.op("ReduceL2", [embedding], { axes: ints([1]), keepdims: int(1) });
  g.op("Div", [embedding, norm]);
  g.nameLastOutput(ECAPA_OUTPUT_NAME);

  const onnx = g.toModel(
    {
      graph: "ecapa_tdnn",
      producer: "voiceid ecapa-onnx",
      version: CONVERTER_VERSIONS["ecapa-onnx"],
      docString:
        "SpeechBrain ECAPA-TDNN speaker encoder with its Fbank front end, converted from the checkpoint.",
      metadata: { source: label, source_sha256: createHash("sha256").update(checkpoint).digest("hex") },
    },
    { name: ECAPA_INPUT_NAME, shape: ["batch", "samples"] },
    { name: ECAPA_OUTPUT_NAME, shape: ["batch", dim] },
  );
  return { onnx, shape };
}

const reflect = { mode: { type: "string", value: "reflect" } } as const;
const int = (value: number) => ({ type: "int", value }) as const;
const ints = (value: number[]) => ({ type: "ints", value }) as const;

function readShape(
  tensors: Map<string, TorchTensor>,
  shapeOf: (key: string) => readonly number[],
  label: string,
): EcapaShape {
  const [c0, inputSize, k0] = shapeOf("blocks.0.conv.conv.weight");
  if (inputSize !== FBANK.mels)
    throw new ModelConversionError(
      `${label}: the first layer takes ${inputSize} features, expected ${FBANK.mels} mel bands`,
    );
  const channels = [c0];
  const kernelSizes = [k0];
  let blocks = 1;
  while (tensors.has(`blocks.${blocks}.tdnn1.conv.conv.weight`)) {
    channels.push(shapeOf(`blocks.${blocks}.tdnn1.conv.conv.weight`)[0]);
    kernelSizes.push(shapeOf(`blocks.${blocks}.res2net_block.blocks.0.conv.conv.weight`)[2]);
    blocks++;
  }
  if (blocks < 2) throw new ModelConversionError(`${label}: no SE-Res2Net blocks found`);
  let res2netScale = 1;
  while (tensors.has(`blocks.1.res2net_block.blocks.${res2netScale - 1}.conv.conv.weight`)) res2netScale++;
  const [last, mfaIn, mfaKernel] = shapeOf("mfa.conv.conv.weight");
  channels.push(last);
  kernelSizes.push(mfaKernel);
  if (mfaIn !== channels.slice(1, -1).reduce((a, b) => a + b, 0))
    throw new ModelConversionError(`${label}: mfa takes ${mfaIn} channels, not the SE-Res2Net outputs' sum`);
  const [attentionChannels, aspIn] = shapeOf("asp.tdnn.conv.conv.weight");
  return {
    inputSize,
    channels,
    kernelSizes,
    dilations: channels.map((_, i) => (i === 0 || i === channels.length - 1 ? 1 : i + 1)),
    res2netScale,
    seChannels: shapeOf("blocks.1.se_block.conv1.conv.weight")[0],
    attentionChannels,
    globalContext: aspIn === 3 * last,
    embeddingDim: shapeOf("fc.conv.weight")[0],
  };
}
