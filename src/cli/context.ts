import { loadConfig } from "../config/load.js";
import type { VoiceidConfig } from "../config/schema.js";
import type { ModelStack } from "../embedding/stack.js";
import { Enroller } from "../enrolment/enroller.js";
import { consistencyWarningFor, minMarginFor } from "../identify/options.js";
import { resolveModelsDir } from "../models/paths.js";
import { SpeakerRegistry } from "../registry/registry.js";
import { createLogger, type Logger } from "../util/log.js";

export interface CommonArgs {
  "data-dir"?: string;
  "models-dir"?: string;
  config?: string;
}

/** Configuration as the daemon would see it, with the command line's directory options on top. */
export async function cliConfig(
  args: CommonArgs,
  extra: Record<string, unknown> = {},
): Promise<VoiceidConfig> {
  const overrides: Record<string, unknown> = { ...extra };
  if (args["data-dir"]) overrides.dataDir = args["data-dir"];
  if (args["models-dir"]) overrides.modelsDir = args["models-dir"];
  const { config } = await loadConfig({ configPath: args.config, overrides });
  return config;
}

export function modelsDirOf(config: VoiceidConfig): string {
  return config.modelsDir ?? resolveModelsDir();
}

/**
 * The models a command needs: the encoder, and Silero VAD for trimming clips (started on first use).
 * Imported here, not at the top: commands without models never load onnxruntime.
 */
export async function createModelStack(config: VoiceidConfig, logger: Logger): Promise<ModelStack> {
  const { createModelStack } = await import("../embedding/stack.js");
  return createModelStack(config, logger);
}

/** The encoder id the daemon runs with this configuration on this machine (cached choice). */
export async function encoderInUse(config: VoiceidConfig, logger: Logger): Promise<string> {
  const { selectEncoderFor } = await import("../hardware/encoder-selection.js");
  return (await selectEncoderFor(config, logger)).choice.encoder;
}

/**
 * Runs `fn` with the registry and the models started, after giving every kept clip a voiceprint of the
 * running encoder (and its simulated rooms), as the daemon does at start: after a change of encoder the command line would
 * otherwise compare with nobody.
 */
export async function withCurrentVoiceprints<T>(
  registry: SpeakerRegistry,
  stack: ModelStack,
  options: { logger: Logger; simulateRooms: boolean },
  fn: () => Promise<T>,
): Promise<T> {
  return withStarted([registry, stack], async () => {
    const { reEmbedMissing } = await import("../enrolment/re-embed.js");
    await reEmbedMissing(registry, stack.extractor, options.logger, options.simulateRooms);
    return fn();
  });
}

/** Runs `fn` with started components and stops them (in reverse order) whatever happens. */
export async function withStarted<T>(
  components: { start(): Promise<void>; stop(): Promise<void> }[],
  fn: () => Promise<T>,
): Promise<T> {
  const started: typeof components = [];
  try {
    for (const c of components) {
      await c.start();
      started.push(c);
    }
    return await fn();
  } finally {
    for (const c of started.reverse()) await c.stop();
  }
}

export function cliLogger(config: VoiceidConfig): Logger {
  // Commands print results on stdout; only warnings and errors belong on stderr.
  return createLogger(config.logLevel === "debug" ? "debug" : "warn");
}

export function createRegistry(config: VoiceidConfig, logger: Logger): SpeakerRegistry {
  return new SpeakerRegistry({ dataDir: config.dataDir, logger });
}

export function createEnroller(
  config: VoiceidConfig,
  registry: SpeakerRegistry,
  stack: ModelStack,
): Enroller {
  return new Enroller(registry, stack.extractor, {
    minSpeechSeconds: config.enrolment.minSpeechSeconds,
    consistencyWarning: consistencyWarningFor(
      config.enrolment.consistencyWarning,
      stack.defaultThreshold,
      stack.encoder.modelId,
    ),
    keepClips: config.enrolment.keepClips,
    simulateRooms: config.enrolment.simulateRooms,
    defaultThreshold: stack.defaultThreshold,
    minMargin: minMarginFor(config.identification, stack.encoder.modelId),
  });
}
