import { access } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import type { Logger } from "../util/log.js";

/** "cuda" uses an NVIDIA GPU when onnxruntime's CUDA provider loads, else falls back to the CPU. */
export type ExecutionProvider = "cpu" | "cuda";

export class ModelMissingError extends Error {
  readonly code = "model_missing";
}

export interface EncoderSessionOptions {
  modelPath: string;
  /** Shown in the "not found" error, e.g. "Resemblyzer encoder". */
  label: string;
  /** onnxruntime intra-op threads; 1 keeps a Pi's other cores for audio and MQTT. */
  threads?: number;
  executionProvider?: ExecutionProvider;
  logger?: Logger;
}

export interface EncoderSession {
  session: ort.InferenceSession;
  /** Where it actually runs. */
  provider: ExecutionProvider;
}

/** How every encoder session runs, apart from its execution providers. */
export function encoderSessionOptions(threads = 1): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // The arena keeps peak-sized buffers for good; without it a Pi keeps ~10 MB more for itself.
    enableCpuMemArena: false,
  };
}

/**
 * An onnxruntime session for an encoder. Asking for CUDA on a machine whose CUDA provider does not load
 * (no GPU, no driver, or onnxruntime installed without its CUDA files) logs why and runs on the CPU.
 */
export async function createEncoderSession(options: EncoderSessionOptions): Promise<EncoderSession> {
  try {
    await access(options.modelPath);
  } catch {
    throw new ModelMissingError(
      `${options.label} not found at ${options.modelPath}: run \`voiceid models fetch\``,
    );
  }
  const base = encoderSessionOptions(options.threads);
  if (options.executionProvider === "cuda") {
    try {
      const session = await ort.InferenceSession.create(options.modelPath, {
        ...base,
        executionProviders: ["cuda", "cpu"],
      });
      return { session, provider: "cuda" };
    } catch (err) {
      options.logger?.warn(
        `CUDA is not usable for ${options.label} (${err instanceof Error ? err.message : String(err)}); running on the CPU`,
      );
    }
  }
  const session = await ort.InferenceSession.create(options.modelPath, {
    ...base,
    executionProviders: ["cpu"],
  });
  return { session, provider: "cpu" };
}

/** The size of a model output's last dimension (the voiceprint length). */
export function outputWidth(session: ort.InferenceSession, name: string): number {
  const meta = session.outputMetadata.find((m) => m.name === name);
  const last = meta?.isTensor ? meta.shape[meta.shape.length - 1] : undefined;
  if (typeof last !== "number") throw new Error(`model output "${name}" has no fixed width`);
  return last;
}
