/** Arithmetic cost of the Resemblyzer encoder and this machine's single-thread fp32 limits. */
import * as ort from "onnxruntime-node";
import { PARTIAL_FRAMES } from "../../src/embedding/partials.js";
import { encodeModel, OnnxDataType } from "../../src/models/onnx/model.js";
import type { MachineInfo } from "./setup.js";

const MEL_CHANNELS = 40;
const HIDDEN = 256;
const LAYERS = 3;
const EMBEDDING = 256;

/**
 * FLOPs of one LSTM frame through the 3 layers (40->256->256->256): per layer the 4 gates multiply
 * [input | hidden] by a (in + 256) x 4*256 matrix, 2 FLOPs per multiply-add. Element-wise gate maths
 * (a few thousand FLOPs) is left out, as in the usual GEMM-only count.
 */
export const LSTM_FLOPS_PER_FRAME = (() => {
  let flops = 0;
  let input = MEL_CHANNELS;
  for (let l = 0; l < LAYERS; l++) {
    flops += 2 * 4 * HIDDEN * (input + HIDDEN);
    input = HIDDEN;
  }
  return flops;
})();

/** FLOPs of the encoder on `partials` 160-frame windows (LSTM + the 256x256 projection). */
export function encoderFlops(partials: number): number {
  return partials * (PARTIAL_FRAMES * LSTM_FLOPS_PER_FRAME + 2 * HIDDEN * EMBEDDING);
}

export interface TheoreticalPeak {
  gflops: number | null;
  ghz: number | null;
  flopPerCycle: number;
  isa: string;
  note: string;
}

/**
 * Single-core fp32 peak = clock x FLOP per cycle of the widest FMA the CPU reports. An estimate:
 * the clock is what /proc/cpuinfo says now (turbo, throttling and VM steal are unknown), and the
 * number of FMA units is assumed from the ISA flags, not measured (e.g. some cores split 512-bit
 * FMAs into two 256-bit halves, which halves the figure).
 */
export function theoreticalPeak(info: MachineInfo): TheoreticalPeak {
  const flags = new Set(info.flags);
  let flopPerCycle: number;
  let isa: string;
  if (flags.has("avx512f")) {
    flopPerCycle = 64;
    isa = "avx512f: 2 FMA units x 16 fp32 lanes x 2 FLOP";
  } else if (flags.has("avx2") && flags.has("fma")) {
    flopPerCycle = 32;
    isa = "avx2+fma: 2 FMA units x 8 fp32 lanes x 2 FLOP";
  } else if (flags.has("avx")) {
    flopPerCycle = 16;
    isa = "avx without fma: 1 add + 1 mul unit x 8 fp32 lanes";
  } else if (flags.has("asimd")) {
    flopPerCycle = 16;
    isa = "arm asimd: 2 FMA pipes x 4 fp32 lanes x 2 FLOP (Cortex-A76 class; A53/A72 have fewer)";
  } else {
    flopPerCycle = 8;
    isa = "sse: 1 add + 1 mul unit x 4 fp32 lanes";
  }
  const ghz = info.cpuMhz === null ? null : info.cpuMhz / 1000;
  return {
    gflops: ghz === null ? null : ghz * flopPerCycle,
    ghz,
    flopPerCycle,
    isa,
    note: "estimate: clock from /proc/cpuinfo (turbo/VM steal unknown), FMA units assumed from the ISA flags",
  };
}

export interface GemmResult {
  n: number;
  bestMs: number;
  gflops: number;
  runs: number;
}

/** An n x n x n fp32 MatMul ONNX model built with the project's ONNX writer. */
function matmulModel(n: number): Uint8Array {
  const square = { elemType: OnnxDataType.FLOAT, shape: [n, n] };
  return encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: "voiceid-bench",
    producerVersion: "1",
    graph: {
      name: "gemm",
      nodes: [{ opType: "MatMul", name: "matmul", inputs: ["a", "b"], outputs: ["c"] }],
      initializers: [],
      inputs: [
        { name: "a", ...square },
        { name: "b", ...square },
      ],
      outputs: [{ name: "c", ...square }],
    },
  });
}

/** Practical single-thread fp32 limit: best of `runs` large GEMMs through onnxruntime-node (MLAS). */
export async function measureGemm(n = 1024, runs = 7): Promise<GemmResult> {
  const session = await ort.InferenceSession.create(matmulModel(n), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  try {
    const a = new Float32Array(n * n);
    const b = new Float32Array(n * n);
    for (let i = 0; i < a.length; i++) {
      a[i] = Math.sin(i) * 0.5;
      b[i] = Math.cos(i) * 0.5;
    }
    const feeds = { a: new ort.Tensor("float32", a, [n, n]), b: new ort.Tensor("float32", b, [n, n]) };
    await session.run(feeds); // warm-up: packing buffers, page faults
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
    }
    return { n, bestMs: best, gflops: (2 * n * n * n) / (best / 1000) / 1e9, runs };
  } finally {
    await session.release();
  }
}
