import { access, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import type { VoiceidConfig } from "../config/schema.js";
import { ENCODER_IDS, type EncoderId } from "../embedding/encoder.js";
import { encoderModelPath } from "../embedding/encoder-models.js";
import type { ExecutionProvider } from "../embedding/onnx-session.js";
import { findModel, isDerivedFile, loadManifest, type Manifest } from "../models/manifest.js";
import { resolveModelsDir } from "../models/paths.js";
import { expectedDigest } from "../models/provenance.js";
import { writeFileAtomic } from "../registry/storage.js";
import type { Logger } from "../util/log.js";
import { PARSE_ONCE } from "../util/parse-once.js";
import { chooseEncoder, type EncoderChoice, type EncoderMeasurement, LARGER_ENCODERS } from "./choose.js";
import type { HardwareProfile } from "./detect.js";

export const HARDWARE_CACHE_FILE = "hardware.json";

export interface EncoderSelectionOptions {
  configured: "auto" | EncoderId;
  modelsDir: string;
  /** Holds the cache, hardware.json. */
  dataDir: string;
  maxRealTimeFactor: number;
  /** "auto" tries onnxruntime's CUDA provider when an NVIDIA GPU is detected. */
  gpu: "auto" | "off";
  logger: Logger;
  /** Measure every installed encoder even if the choice does not need it (`voiceid hardware`). */
  measureAll?: boolean;
  /** Ignore the cache. */
  remeasure?: boolean;
  /** Default: the committed models/manifest.json. */
  manifest?: Manifest;
}

export interface EncoderSelection {
  choice: EncoderChoice;
  executionProvider: ExecutionProvider;
  profile: HardwareProfile;
  installed: EncoderId[];
  measurements: EncoderMeasurement[];
  /** The profile and measurements were read from the cache rather than taken now. */
  cached: boolean;
}

const cacheSchema = z.object({
  key: z.object({
    cpu: z.string(),
    cpus: z.number(),
    arch: z.string(),
    gpu: z.enum(["auto", "off"]),
    /** Installed encoder -> sha256 of its runnable model (pinned, or from its conversion record). */
    encoders: z.record(z.string(), z.string()),
  }),
  profile: z.object({
    cpu: z.object({
      brand: z.string(),
      arch: z.string(),
      cores: z.number(),
      physicalCores: z.number(),
      speedGHz: z.number(),
      simd: z.array(z.string()),
    }),
    memoryBytes: z.number(),
    board: z.string(),
    gpus: z.array(z.object({ vendor: z.string(), model: z.string(), vramMB: z.number().nullable() })),
    nvidia: z.boolean(),
  }),
  measurements: z.array(
    z.object({
      encoder: z.enum(ENCODER_IDS),
      provider: z.enum(["cpu", "cuda"]),
      msPerAudioSecond: z.number(),
      realTimeFactor: z.number(),
    }),
  ),
  measuredAt: z.string(),
});
type CacheFile = z.infer<typeof cacheSchema>;
type CacheKey = CacheFile["key"];

/**
 * Which encoder this machine runs, and on what. Detection and measurement take a few seconds, so their
 * result is cached in <dataDir>/hardware.json, keyed by the CPU and the installed models' hashes: a
 * start-up on the same machine with the same models only reads the file.
 */
export async function selectEncoder(options: EncoderSelectionOptions): Promise<EncoderSelection> {
  const installed = await installedEncoders(options.modelsDir, options.manifest ?? loadManifest());
  const key: CacheKey = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cpus: os.cpus().length,
    arch: os.arch(),
    gpu: options.gpu,
    encoders: Object.fromEntries(installed.map((e) => [e.id, e.sha256])),
  };
  const ids = installed.map((e) => e.id);
  const needed =
    options.measureAll || (options.configured === "auto" && LARGER_ENCODERS.some((e) => ids.includes(e.id)))
      ? ids
      : [];
  const cachePath = path.join(options.dataDir, HARDWARE_CACHE_FILE);
  const cache = options.remeasure ? undefined : await readCache(cachePath);
  const usable = cache !== undefined && isDeepStrictEqual(cache.key, key) ? cache : undefined;
  // systeminformation and onnxruntime load only when something must be detected or measured: a cached
  // start-up (and every command line call) stays fast.
  const profile = usable?.profile ?? (await (await import("./detect.js")).detectHardware());
  const executionProvider: ExecutionProvider = options.gpu === "auto" && profile.nvidia ? "cuda" : "cpu";
  const measurements = [...(usable?.measurements ?? [])];
  const missing = needed.filter((id) => !measurements.some((m) => m.encoder === id));
  if (missing.length > 0)
    measurements.push(
      ...(await measureEncoders(missing, options.modelsDir, executionProvider, options.logger)),
    );
  if (usable === undefined || missing.length > 0) {
    const file: CacheFile = { key, profile, measurements, measuredAt: new Date().toISOString() };
    await writeFileAtomic(cachePath, `${JSON.stringify(file, null, 2)}\n`).catch((err: Error) =>
      options.logger.warn(`could not cache the hardware measurements in ${cachePath}: ${err.message}`),
    );
  }
  const choice = chooseEncoder({
    configured: options.configured,
    installed: ids,
    measurements,
    maxRealTimeFactor: options.maxRealTimeFactor,
  });
  return {
    choice,
    executionProvider,
    profile,
    installed: ids,
    measurements,
    cached: usable !== undefined && missing.length === 0,
  };
}

/** selectEncoder with a configuration's settings (the daemon, the command line, `voiceid hardware`). */
export function selectEncoderFor(
  config: VoiceidConfig,
  logger: Logger,
  extra: Pick<EncoderSelectionOptions, "measureAll" | "remeasure"> = {},
): Promise<EncoderSelection> {
  return selectEncoder({
    configured: config.identification.encoder,
    modelsDir: config.modelsDir ?? resolveModelsDir(),
    dataDir: config.dataDir,
    maxRealTimeFactor: config.hardware.maxRealTimeFactor,
    gpu: config.hardware.gpu,
    logger,
    ...extra,
  });
}

/** Times each encoder on this machine; one that fails to load is left out with a warning. */
async function measureEncoders(
  ids: readonly EncoderId[],
  modelsDir: string,
  executionProvider: ExecutionProvider,
  logger: Logger,
): Promise<EncoderMeasurement[]> {
  const [{ createEncoder }, { measureEncoder }] = await Promise.all([
    import("../embedding/factory.js"),
    import("./measure.js"),
  ]);
  const out: EncoderMeasurement[] = [];
  for (const id of ids) {
    logger.info(`measuring ${id} on this machine (one thread, a few seconds)`);
    const encoder = createEncoder(id, { modelsDir, threads: 1, executionProvider, logger });
    try {
      await encoder.start();
      out.push(await measureEncoder(encoder));
    } catch (err) {
      logger.warn(`could not measure ${id}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await encoder.stop();
    }
  }
  return out;
}

/**
 * Encoders whose runnable model is present and vouched for (pinned hash or conversion record); the file
 * is not hashed here, `voiceid models check` does that.
 */
export async function installedEncoders(
  modelsDir: string,
  manifest: Manifest,
): Promise<{ id: EncoderId; sha256: string }[]> {
  const out: { id: EncoderId; sha256: string }[] = [];
  for (const id of ENCODER_IDS) {
    const model = findModel(manifest, id);
    const file = model.files.find((f) => isDerivedFile(f) && f.name === "encoder.onnx");
    if (file === undefined) continue;
    const modelPath = encoderModelPath(modelsDir, id);
    const expected = await expectedDigest(model, file, modelPath);
    const present = await access(modelPath).then(
      () => true,
      () => false,
    );
    if (expected !== undefined && present) out.push({ id, sha256: expected.sha256 });
  }
  return out;
}

/** The cache, or undefined when it is missing or unreadable (then everything is measured again). */
async function readCache(file: string): Promise<CacheFile | undefined> {
  try {
    return cacheSchema.parse(JSON.parse(await readFile(file, "utf8")), PARSE_ONCE);
  } catch {
    return undefined;
  }
}
