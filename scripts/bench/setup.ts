import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { configSchema, type VoiceidConfig } from "../../src/config/schema.js";
import { ENCODER_IDS } from "../../src/embedding/encoder.js";
import { ModelStack } from "../../src/embedding/stack.js";
import type { VoiceprintExtractor } from "../../src/embedding/voiceprint.js";
import { Enroller, type EnrollerOptions } from "../../src/enrolment/enroller.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import type { LiveIdentifierOptions } from "../../src/identify/live-identifier.js";
import { liveIdentifierOptions } from "../../src/identify/options.js";
import { modelFilePath, resolveModelsDir } from "../../src/models/paths.js";
import type { SpeakerRegistry } from "../../src/registry/registry.js";
import { type SileroVad, sileroModelPath } from "../../src/vad/silero.js";
import { type LibriSpeaker, librispeechDir, librispeechSpeakers } from "../../test/helpers/paths.js";

/** What a benchmark of the speech path runs on: the models as the daemon builds them, and its settings. */
export interface SpeechModels {
  stack: ModelStack;
  /** A VAD for streams (reset it before each). */
  vad: SileroVad;
  /** The default configuration for the encoder. */
  config: VoiceidConfig;
  identification: LiveIdentifierOptions;
}

/** Starts the model stack for `encoderId` with a streaming VAD; stop `stack` when done. */
export async function startSpeechModels(encoderId: string = ENCODER_IDS[0]): Promise<SpeechModels> {
  if (!(ENCODER_IDS as readonly string[]).includes(encoderId)) {
    throw new BenchSetupError(`unknown encoder "${encoderId}"; one of ${ENCODER_IDS.join(", ")}`);
  }
  const models = requireModels();
  const stack = new ModelStack({ modelsDir: models.modelsDir, encoder: encoderId });
  await stack.start();
  const vad = stack.streamVad();
  await vad.start();
  return { stack, vad, ...speechSettings(encoderId, stack.defaultThreshold, stack.encoder.modelId) };
}

/** The default configuration for an encoder and the live identification settings the daemon derives from it. */
export function speechSettings(
  encoderId: string,
  defaultThreshold: number,
  modelId: string,
): Pick<SpeechModels, "config" | "identification"> {
  const config = configSchema.parse({ identification: { encoder: encoderId } });
  return { config, identification: liveIdentifierOptions(config.identification, defaultThreshold, modelId) };
}

/**
 * Enrols every member from their clip through the real Enroller, as a user uploading it would (`name`
 * makes the person's name from the member's id). Returns speaker id -> member id.
 */
export async function enrolHousehold(
  registry: SpeakerRegistry,
  extractor: VoiceprintExtractor,
  enrolment: Map<string, Float32Array>,
  options: EnrollerOptions = {},
  name: (member: string) => string = (member) => member,
): Promise<Map<string, string>> {
  const enroller = new Enroller(registry, extractor, { keepClips: false, ...options });
  const members = new Map<string, string>();
  for (const [member, samples] of enrolment) {
    const { speaker } = await enroller.enrol(
      name(member),
      [{ bytes: encodePcm16Wav(samples, 16_000), source: "cli" }],
      { create: true },
    );
    members.set(speaker.id, member);
  }
  return members;
}

/** Something the benchmark needs is missing; the message says what to do. Printed without a stack. */
export class BenchSetupError extends Error {
  override name = "BenchSetupError";
}

export interface BenchModels {
  modelsDir: string;
  encoderPath: string;
  vadPath: string;
}

/** Model files the benchmarks load, checked up front so a missing file is one clear line. */
export function requireModels(modelsDir = resolveModelsDir()): BenchModels {
  const encoderPath = modelFilePath(modelsDir, "resemblyzer-0.1.4", "encoder.onnx");
  const vadPath = sileroModelPath(modelsDir);
  const missing = [encoderPath, vadPath].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new BenchSetupError(
      `model file(s) missing: ${missing.join(", ")}\n` +
        "run `voiceid models fetch` (or `npm run setup`), or point VOICEID_MODELS_DIR at a models directory",
    );
  }
  return { modelsDir, encoderPath, vadPath };
}

export interface BenchFile extends LibriSpeaker {
  path: string;
}

/** The LibriSpeech utterances of the shared audio (speakers.tsv order), optionally the first `limit`. */
export function librispeechFiles(limit?: number): BenchFile[] {
  if (!existsSync(path.join(librispeechDir, "speakers.tsv"))) {
    throw new BenchSetupError(
      `shared audio not found: ${librispeechDir}/speakers.tsv (expected ../shared/audio beside the repo)`,
    );
  }
  const files = librispeechSpeakers().map((s) => ({ ...s, path: path.join(librispeechDir, s.file) }));
  for (const f of files) {
    if (!existsSync(f.path)) throw new BenchSetupError(`listed in speakers.tsv but missing: ${f.path}`);
  }
  return limit === undefined ? files : files.slice(0, limit);
}

export interface MachineInfo {
  cpuModel: string;
  /** "cpu MHz" of the first core (x86) or cpufreq's maximum (ARM); null when unknown. */
  cpuMhz: number | null;
  cores: number;
  flags: string[];
  /** 1, 5 and 15 minute load averages. */
  loadAverage: number[];
  node: string;
}

export function machineInfo(): MachineInfo {
  let cpuinfo = "";
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // Not Linux: fall back to what os.cpus() knows.
  }
  const field = (name: string): string | undefined =>
    cpuinfo.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, "m"))?.[1]?.trim();
  let cpuMhz: number | null = Number(field("cpu MHz")) || null;
  if (cpuMhz === null) {
    try {
      // ARM kernels do not print "cpu MHz"; cpufreq gives kHz.
      const khz = Number(readFileSync("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "utf8"));
      if (khz > 0) cpuMhz = khz / 1000;
    } catch {
      cpuMhz = os.cpus()[0]?.speed || null;
    }
  }
  return {
    cpuModel: field("model name") ?? field("Model") ?? os.cpus()[0]?.model ?? "unknown",
    cpuMhz,
    cores: os.availableParallelism(),
    flags: (field("flags") ?? field("Features") ?? "").split(/\s+/).filter(Boolean),
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
  };
}

/** Milliseconds of the fastest of `repeats` runs of `fn`. */
export async function bestOf(repeats: number, fn: () => unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeats; r++) {
    const start = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

/** Progress on stderr, so stdout stays the report (or the JSON). */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs a benchmark's main(): setup errors become one line and exit code 1, anything else a stack. */
export function runMain(main: () => Promise<number | undefined>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err: unknown) => {
      if (err instanceof BenchSetupError) process.stderr.write(`error: ${err.message}\n`);
      else
        process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** Parses a numeric option; BenchSetupError on anything that is not a number in range. */
export function numberOption(
  name: string,
  value: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
  rule: string,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || !check(n)) {
    throw new BenchSetupError(`--${name} must be ${rule}, got "${value}"`);
  }
  return n;
}

/** The options every benchmark takes; spread into its parseArgs options. */
export const COMMON_BENCH_OPTIONS = {
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type BenchOptions = NonNullable<ParseArgsConfig["options"]>;
type BenchArgsConfig<O extends BenchOptions> = { options: O & typeof COMMON_BENCH_OPTIONS; strict: true };
type BenchValues<O extends BenchOptions> = ReturnType<typeof parseArgs<BenchArgsConfig<O>>>["values"];

/**
 * A benchmark's command line: its `options` and the common ones, strictly (no positionals). A wrong option
 * becomes a BenchSetupError carrying the usage; --help prints the usage and gives null.
 */
export function parseBenchArgs<const O extends BenchOptions>(
  options: O,
  usage: string,
): BenchValues<O> | null {
  const config = { options: { ...options, ...COMMON_BENCH_OPTIONS }, strict: true } as BenchArgsConfig<O>;
  let values: BenchValues<O>;
  try {
    values = parseArgs(config).values;
  } catch (err) {
    throw new BenchSetupError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    return null;
  }
  return values;
}
