/**
 * ECAPA-TDNN's section of bench:speed. The real weights cannot be downloaded here, so the model is
 * SpeechBrain's ECAPA_TDNN at the real size (channels 1024/3072, 192-d) with random weights, made by
 * scripts/reference/ecapa_reference.py, which also times SpeechBrain's own Fbank + mean norm + forward
 * on the same files (1 thread). Speed does not depend on the weights' values.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { decodeWav } from "../../src/audio/wav.js";
import { ECAPA_MODEL, WaveformEncoder } from "../../src/embedding/waveform-encoder.js";
import { convertEcapa, type EcapaShape } from "../../src/models/ecapa-onnx.js";
import { GraphBuilder } from "../../src/models/onnx/graph-builder.js";
import { appendFbank, FBANK } from "../../src/models/onnx/speechbrain-fbank.js";
import { cosine } from "../../src/registry/matcher.js";
import { pipInstallCommands, runPythonScript } from "./python-reference.js";
import { type BenchFile, progress } from "./setup.js";

const REFERENCE_SCRIPT = "scripts/reference/ecapa_reference.py";

export interface EcapaSpeed {
  files: number;
  audioSeconds: number;
  repeats: number;
  /** Checkpoint -> ONNX in TypeScript, as `voiceid models fetch` does it. */
  convertMs: number;
  shape: EcapaShape;
  /** voiceid, mean over the repeats after a warm-up. */
  msPerAudioSecond: { frontEnd: number; network: number; embed: number };
  gflopPerAudioSecond: number;
  networkGflops: number;
  /** Lowest cosine to SpeechBrain's voiceprints of the same files (the full-size parity check). */
  minCosine: number;
  speechbrain: {
    fbank: number;
    norm: number;
    model: number;
    embed: number;
    versions: Record<string, string>;
  };
}

export type EcapaOutcome =
  | { status: "ok"; result: EcapaSpeed }
  | { status: "unavailable"; reason: string; install: string[] }
  | { status: "failed"; reason: string };

interface ReferenceOutput {
  versions: Record<string, string>;
  files: Record<string, { embedding: number[] }>;
  msPerAudioSecond: { fbank: number; norm: number; model: number };
}

export async function benchEcapa(files: BenchFile[], repeats: number): Promise<EcapaOutcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-ecapa-bench-"));
  try {
    progress(
      `ECAPA-TDNN: SpeechBrain builds the full-size random model and times itself on ${files.length} files...`,
    );
    const python = process.env.PYTHON ?? "python3";
    const run = await runPythonScript(python, [
      REFERENCE_SCRIPT,
      "--size",
      "full",
      "--speed",
      String(repeats),
      "--out-dir",
      dir,
      ...files.map((f) => f.path),
    ]);
    if (run.error)
      return { status: "unavailable", reason: `cannot run ${python}: ${run.error}`, install: install() };
    if (run.code !== 0) {
      const missing = run.stderr.split("\n").findLast((l) => /No module named|ModuleNotFoundError/.test(l));
      if (missing) return { status: "unavailable", reason: missing.trim(), install: install() };
      return {
        status: "failed",
        reason: `${REFERENCE_SCRIPT} exited with ${run.code}: ${run.stderr.trim().slice(-400)}`,
      };
    }
    const reference = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as ReferenceOutput;

    progress("ECAPA-TDNN: converting the checkpoint and timing voiceid (1 thread)...");
    const checkpoint = readFileSync(path.join(dir, "embedding_model.ckpt"));
    const t0 = performance.now();
    const { onnx, shape } = convertEcapa(checkpoint);
    const convertMs = performance.now() - t0;
    const modelPath = path.join(dir, "encoder.onnx");
    writeFileSync(modelPath, onnx);
    const encoder = new WaveformEncoder(ECAPA_MODEL, { modelPath, defaultThreshold: 0.25, threads: 1 });
    const frontEnd = await ort.InferenceSession.create(fbankModel(), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    await encoder.start();
    const audio = files.map((f) => decodeWav(readFileSync(f.path)).channelData[0]);
    const audioSeconds = audio.reduce((s, a) => s + a.length, 0) / FBANK.sampleRate;
    let embedMs = 0;
    let frontEndMs = 0;
    let minCosine = 1;
    let frames = 0;
    try {
      for (const [i, samples] of audio.entries()) {
        const voiceprint = await encoder.embedUtterance(samples);
        minCosine = Math.min(
          minCosine,
          cosine(voiceprint, Float32Array.from(reference.files[files[i].path].embedding)),
        );
        const feeds = { wav: new ort.Tensor("float32", samples, [1, samples.length]) };
        await frontEnd.run(feeds);
        frames += Math.floor(samples.length / FBANK.hop) + 1;
        for (let r = 0; r < repeats; r++) {
          const a = performance.now();
          await encoder.embedUtterance(samples);
          const b = performance.now();
          await frontEnd.run(feeds);
          frontEndMs += performance.now() - b;
          embedMs += b - a;
        }
      }
    } finally {
      await encoder.stop();
      await frontEnd.release();
    }
    const perSecond = (ms: number) => ms / repeats / audioSeconds;
    const networkMs = perSecond(embedMs - frontEndMs);
    const gflopPerAudioSecond = (networkFlopsPerFrame(shape) * frames) / audioSeconds / 1e9;
    const sb = reference.msPerAudioSecond;
    return {
      status: "ok",
      result: {
        files: files.length,
        audioSeconds,
        repeats,
        convertMs,
        shape,
        msPerAudioSecond: { frontEnd: perSecond(frontEndMs), network: networkMs, embed: perSecond(embedMs) },
        gflopPerAudioSecond,
        networkGflops: gflopPerAudioSecond / (networkMs / 1000),
        minCosine,
        speechbrain: { ...sb, embed: sb.fbank + sb.norm + sb.model, versions: reference.versions },
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The front end alone (SpeechBrain's Fbank + mean norm), to split the embed time into its two stages. */
function fbankModel(): Uint8Array {
  const g = new GraphBuilder();
  g.op("Identity", [appendFbank(g, "wav")]);
  g.nameLastOutput("features");
  return g.toModel(
    { graph: "fbank", producer: "voiceid-bench", version: "1" },
    { name: "wav", shape: [1, "samples"] },
    { name: "features", shape: [1, FBANK.mels, "frames"] },
  );
}

/**
 * Multiply-adds x 2 of the network per frame: the convolutions (attention included), the GEMM-shaped
 * work; element-wise ops, pooling and the per-utterance SE and fc layers are left out.
 */
export function networkFlopsPerFrame(s: EcapaShape): number {
  const c = s.channels;
  let macs = c[0] * s.inputSize * s.kernelSizes[0];
  for (let i = 1; i < c.length - 1; i++) {
    const width = c[i] / s.res2netScale;
    macs += c[i] * c[i - 1] + (s.res2netScale - 1) * width * width * s.kernelSizes[i] + c[i] * c[i];
    if (c[i] !== c[i - 1]) macs += c[i] * c[i - 1];
  }
  const last = c[c.length - 1];
  macs += last * c.slice(1, -1).reduce((a, b) => a + b, 0) * s.kernelSizes[c.length - 1];
  macs += 2 * s.attentionChannels * last;
  return 2 * macs;
}

function install(): string[] {
  return [...pipInstallCommands(), "pip install --no-deps speechbrain==1.1.2 hyperpyyaml ruamel.yaml"];
}
