import { createHash } from "node:crypto";
import { CONVERTER_VERSIONS } from "./converter-versions.js";
import { ModelConversionError } from "./errors.js";
import { GraphBuilder } from "./onnx/graph-builder.js";
import { appendKaldiFbank, KALDI_FBANK } from "./onnx/kaldi-fbank.js";
import { loadTorchCheckpoint, stateDict, type TorchTensor } from "./torch/checkpoint.js";

/** The graph's input and output, as the waveform encoder runs them. */
const CAMPPLUS_INPUT_NAME = "wav";
const CAMPPLUS_OUTPUT_NAME = "embedding";
/** torch's BatchNorm default, which 3D-Speaker keeps. */
const BN_EPS = 1e-5;
/** CAMLayer's segment pooling: frames per segment (3D-Speaker's seg_len). */
const SEGMENT_FRAMES = 100;
/** CAM++'s dense blocks: (layers, dilation); every kernel is 3 wide. */
const DENSE_BLOCKS = [
  { layers: 12, dilation: 1 },
  { layers: 24, dilation: 2 },
  { layers: 16, dilation: 2 },
] as const;

/** What the converter read from the checkpoint's tensor shapes. */
export interface CampplusShape {
  headChannels: number;
  initChannels: number;
  growthRate: number;
  bottleneck: number;
  embeddingDim: number;
}

export interface CampplusConversion {
  onnx: Uint8Array;
  shape: CampplusShape;
}

/**
 * Convert 3D-Speaker's CAM++ state dict (campplus_cn_en_common.pt of
 * speech_campplus_sv_zh_en_16k-common_advanced, or any CAMPPlus saved the same way) into one ONNX graph
 * computing what 3D-Speaker's infer_sv.py computes, plus L2 normalisation:
 *   wav float32 [batch, samples] -> Kaldi fbank(80) -> mean over time removed -> CAMPPlus.forward
 *   -> embedding float32 [batch, dim], unit length.
 * Channel counts come from the tensor shapes; the block layout (12, 24, 16 layers; dilations 1, 2, 2)
 * is CAMPPlus's own and is checked against the tensors present.
 */
export function convertCampplusToOnnx(
  checkpoint: Uint8Array,
  label = "campplus_cn_en_common.pt",
): Uint8Array {
  return convertCampplus(checkpoint, label).onnx;
}

export function convertCampplus(
  checkpoint: Uint8Array,
  label = "campplus_cn_en_common.pt",
): CampplusConversion {
  const tensors = stateDict(loadTorchCheckpoint(checkpoint, label), label);
  const get = (key: string): TorchTensor => {
    const t = tensors.get(key);
    if (t === undefined) throw new ModelConversionError(`${label}: tensor "${key}" is missing; not a CAM++?`);
    return t;
  };
  const data = (key: string, shape: readonly number[]): Float32Array => {
    const t = get(key);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelConversionError(`${label}: tensor "${key}" has shape [${t.shape}], expected [${shape}]`);
    return t.toFloat32();
  };
  const shape = readShape(get, label);
  for (const [b, { layers }] of DENSE_BLOCKS.entries()) {
    if (!tensors.has(`xvector.block${b + 1}.tdnnd${layers}.linear1.weight`))
      throw new ModelConversionError(
        `${label}: block ${b + 1} has fewer than ${layers} layers; not a CAM++?`,
      );
    if (tensors.has(`xvector.block${b + 1}.tdnnd${layers + 1}.linear1.weight`))
      throw new ModelConversionError(`${label}: block ${b + 1} has more than ${layers} layers; not a CAM++?`);
  }

  const g = new GraphBuilder();
  const batchNorm = (x: string, prefix: string, c: number, affine = true) =>
    g.op(
      "BatchNormalization",
      [
        x,
        g.floats(
          `${prefix}_scale`,
          [c],
          affine ? data(`${prefix}.weight`, [c]) : new Float32Array(c).fill(1),
        ),
        g.floats(`${prefix}_bias`, [c], affine ? data(`${prefix}.bias`, [c]) : new Float32Array(c)),
        g.floats(`${prefix}_mean`, [c], data(`${prefix}.running_mean`, [c])),
        g.floats(`${prefix}_var`, [c], data(`${prefix}.running_var`, [c])),
      ],
      { epsilon: { type: "float", value: BN_EPS } },
    );
  const relu = (x: string) => g.op("Relu", [x]);
  const conv2d = (x: string, prefix: string, inC: number, outC: number, kernel: number, strideF: number) =>
    g.op(
      "Conv",
      [
        x,
        g.floats(
          `${prefix}_w`,
          [outC, inC, kernel, kernel],
          data(`${prefix}.weight`, [outC, inC, kernel, kernel]),
        ),
      ],
      {
        kernel_shape: ints([kernel, kernel]),
        strides: ints([strideF, 1]),
        pads: ints(kernel === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0]),
      },
    );
  const conv1d = (
    x: string,
    prefix: string,
    inC: number,
    outC: number,
    options: { kernel?: number; stride?: number; dilation?: number; bias?: boolean } = {},
  ) => {
    const { kernel = 1, stride = 1, dilation = 1, bias = false } = options;
    const pad = ((kernel - 1) / 2) * dilation;
    const inputs = [
      x,
      g.floats(`${prefix}_w`, [outC, inC, kernel], data(`${prefix}.weight`, [outC, inC, kernel])),
    ];
    if (bias) inputs.push(g.floats(`${prefix}_b`, [outC], data(`${prefix}.bias`, [outC])));
    return g.op("Conv", inputs, {
      kernel_shape: ints([kernel]),
      strides: ints([stride]),
      dilations: ints([dilation]),
      pads: ints([pad, pad]),
    });
  };
  const meanOverTime = (x: string) => g.op("ReduceMean", [x], { axes: ints([2]), keepdims: int(1) });

  // FCM: a small 2-D ResNet over (frequency, time) that halves the frequency axis three times.
  const m = shape.headChannels;
  const resBlock = (x: string, prefix: string, stride: number) => {
    let y = relu(batchNorm(conv2d(x, `${prefix}.conv1`, m, m, 3, stride), `${prefix}.bn1`, m));
    y = batchNorm(conv2d(y, `${prefix}.conv2`, m, m, 3, 1), `${prefix}.bn2`, m);
    const shortcut =
      stride === 1
        ? x
        : batchNorm(conv2d(x, `${prefix}.shortcut.0`, m, m, 1, stride), `${prefix}.shortcut.1`, m);
    return relu(g.op("Add", [y, shortcut]));
  };
  const features = appendKaldiFbank(g, CAMPPLUS_INPUT_NAME);
  let x = g.op("Unsqueeze", [features, g.int64s([1])]);
  x = relu(batchNorm(conv2d(x, "head.conv1", 1, m, 3, 1), "head.bn1", m));
  for (const layer of ["head.layer1", "head.layer2"]) {
    x = resBlock(x, `${layer}.0`, 2);
    x = resBlock(x, `${layer}.1`, 1);
  }
  x = relu(batchNorm(conv2d(x, "head.conv2", m, m, 3, 2), "head.bn2", m));
  const headOut = m * (KALDI_FBANK.mels / 8);
  x = g.op("Reshape", [x, g.int64s([0, headOut, -1])]);

  // D-TDNN: a strided TDNN, then dense blocks of context-aware-masked layers, each followed by a transit.
  let channels = shape.initChannels;
  x = relu(
    batchNorm(
      conv1d(x, "xvector.tdnn.linear", headOut, channels, { kernel: 5, stride: 2 }),
      "xvector.tdnn.nonlinear.batchnorm",
      channels,
    ),
  );
  const { growthRate: growth, bottleneck } = shape;
  for (const [b, { layers, dilation }] of DENSE_BLOCKS.entries()) {
    for (let l = 1; l <= layers; l++) {
      const p = `xvector.block${b + 1}.tdnnd${l}`;
      let h = relu(batchNorm(x, `${p}.nonlinear1.batchnorm`, channels));
      h = relu(
        batchNorm(conv1d(h, `${p}.linear1`, channels, bottleneck), `${p}.nonlinear2.batchnorm`, bottleneck),
      );
      // CAM: the local output masked by a sigmoid of the utterance mean plus the mean of its 100-frame segment.
      const local = conv1d(h, `${p}.cam_layer.linear_local`, bottleneck, growth, { kernel: 3, dilation });
      const context = g.op("Add", [meanOverTime(h), segmentMeans(g, h)]);
      const reduced = bottleneck / 2;
      const mask = g.op("Sigmoid", [
        conv1d(
          relu(conv1d(context, `${p}.cam_layer.linear1`, bottleneck, reduced, { bias: true })),
          `${p}.cam_layer.linear2`,
          reduced,
          growth,
          { bias: true },
        ),
      ]);
      x = g.op("Concat", [x, g.op("Mul", [local, mask])], { axis: int(1) });
      channels += growth;
    }
    const p = `xvector.transit${b + 1}`;
    x = conv1d(
      relu(batchNorm(x, `${p}.nonlinear.batchnorm`, channels)),
      `${p}.linear`,
      channels,
      channels / 2,
    );
    channels /= 2;
  }
  x = relu(batchNorm(x, "xvector.out_nonlinear.batchnorm", channels));

  // Statistics pooling: mean and unbiased standard deviation over time.
  const mean = meanOverTime(x);
  const centred = g.op("Sub", [x, mean]);
  const frames = g.op("Cast", [g.op("Gather", [g.op("Shape", [x]), g.int64s([2])], { axis: int(0) })], {
    to: int(1),
  });
  const sumSquares = g.op("ReduceSum", [g.op("Mul", [centred, centred]), g.int64s([2])], {
    keepdims: int(1),
  });
  const std = g.op("Sqrt", [g.op("Div", [sumSquares, g.op("Sub", [frames, g.scalar(1)])])]);
  x = g.op("Concat", [mean, std], { axis: int(1) });
  const dim = shape.embeddingDim;
  x = batchNorm(
    conv1d(x, "xvector.dense.linear", 2 * channels, dim),
    "xvector.dense.nonlinear.batchnorm",
    dim,
    false,
  );
  const embedding = g.op("Flatten", [x], { axis: int(1) });
  const norm = g.op("ReduceL2", [embedding], { axes: ints([1]), keepdims: int(1) });
  g.op("Div", [embedding, norm]);
  g.nameLastOutput(CAMPPLUS_OUTPUT_NAME);

  const onnx = g.toModel(
    {
      graph: "campplus",
      producer: "voiceid campplus-onnx",
      version: CONVERTER_VERSIONS["campplus-onnx"],
      docString:
        "3D-Speaker CAM++ speaker encoder with its Kaldi fbank front end, converted from the checkpoint.",
      metadata: { source: label, source_sha256: createHash("sha256").update(checkpoint).digest("hex") },
    },
    { name: CAMPPLUS_INPUT_NAME, shape: ["batch", "samples"] },
    { name: CAMPPLUS_OUTPUT_NAME, shape: ["batch", dim] },
  );
  return { onnx, shape };
}

/**
 * 3D-Speaker's seg_pooling: the mean of each 100-frame segment (the last one partial), repeated over
 * the segment's frames. AveragePool with ceil_mode divides the partial segment by its own length, as
 * torch's avg_pool1d without padding does.
 */
function segmentMeans(g: GraphBuilder, x: string): string {
  const segments = g.op("AveragePool", [x], {
    kernel_shape: ints([SEGMENT_FRAMES]),
    strides: ints([SEGMENT_FRAMES]),
    ceil_mode: int(1),
  });
  const repeated = g.op("Expand", [
    g.op("Unsqueeze", [segments, g.int64s([3])]),
    g.int64s([1, 1, 1, SEGMENT_FRAMES]),
  ]);
  const flat = g.op("Reshape", [repeated, g.int64s([0, 0, -1])]);
  const frames = g.op("Gather", [g.op("Shape", [x]), g.int64s([2])], { axis: int(0) });
  return g.op("Slice", [flat, g.int64s([0]), frames, g.int64s([2])]);
}

const int = (value: number) => ({ type: "int", value }) as const;
const ints = (value: number[]) => ({ type: "ints", value }) as const;

function readShape(get: (key: string) => TorchTensor, label: string): CampplusShape {
  const [headChannels, one] = get("head.conv1.weight").shape;
  if (one !== 1) throw new ModelConversionError(`${label}: head.conv1 takes ${one} channels, expected 1`);
  const [initChannels, headOut, kernel] = get("xvector.tdnn.linear.weight").shape;
  if (headOut !== headChannels * (KALDI_FBANK.mels / 8) || kernel !== 5)
    throw new ModelConversionError(
      `${label}: the first TDNN takes ${headOut} channels over ${kernel} frames, expected ${headChannels * (KALDI_FBANK.mels / 8)} over 5 (80 mel bands)`,
    );
  const [bottleneck] = get("xvector.block1.tdnnd1.linear1.weight").shape;
  const [growthRate] = get("xvector.block1.tdnnd1.cam_layer.linear_local.weight").shape;
  const [embeddingDim] = get("xvector.dense.linear.weight").shape;
  return { headChannels, initChannels, growthRate, bottleneck, embeddingDim };
}
