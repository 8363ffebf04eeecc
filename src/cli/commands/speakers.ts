import { configuredThreshold, type VoiceidConfig } from "../../config/schema.js";
import { ENCODER_IDS, type EncoderId, isEncoderId } from "../../embedding/encoder.js";
import { defaultThresholdOf } from "../../embedding/encoder-models.js";
import { voiceprintCounts } from "../../http/views.js";
import type { Logger } from "../../util/log.js";
import { parseCommandArgs } from "../args.js";
import { cliConfig, cliLogger, createRegistry, encoderInUse, withStarted } from "../context.js";
import { UsageError } from "../errors.js";

export async function speakersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    model: { type: "string" },
  });
  const config = await cliConfig(values);
  const logger = cliLogger(config);
  const registry = createRegistry(config, logger);
  const [sub, ...rest] = positionals;
  if (sub === undefined || sub === "list") {
    if (rest.length > 0) throw new UsageError("speakers takes no arguments");
    const speakers = await withStarted([registry], async () => registry.list());
    if (speakers.length === 0) {
      process.stdout.write(values.json ? "[]\n" : "no speakers enrolled (voiceid enroll <name> <wav>...)\n");
      return 0;
    }
    // The counts are of the voiceprints the daemon's encoder compares with.
    const model = await modelOf(values.model, config, logger);
    if (values.json) {
      const rows = speakers.map((s) => ({
        id: s.id,
        name: s.name,
        createdAt: s.createdAt,
        thresholds: s.thresholds ?? {},
        samples: s.samples.length,
        models: [...new Set(s.samples.flatMap((x) => Object.keys(x.voiceprints)))],
        encoder: model,
        voiceprints: voiceprintCounts(s, model),
      }));
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    for (const s of speakers) {
      const speech = s.samples.reduce((t, x) => t + x.speechSeconds, 0);
      const threshold = Object.entries(s.thresholds ?? {})
        .map(([model, t]) => `, threshold ${t} (${model})`)
        .join("");
      const counts = voiceprintCounts(s, model);
      process.stdout.write(
        `${s.name} (id ${s.id}): ${s.samples.length} samples, ${speech.toFixed(1)} s of speech${threshold}; ` +
          `${model} voiceprints: ${counts.enrolled} enrolled, ${counts.simulated} simulated, ${counts.learned} learned\n`,
      );
    }
    return 0;
  }
  if (sub === "rm" || sub === "remove") {
    if (rest.length !== 1) throw new UsageError("speakers rm takes exactly one name");
    const removed = await withStarted([registry], () => registry.remove(rest[0]));
    process.stdout.write(`removed ${removed.name}\n`);
    return 0;
  }
  if (sub === "rename") {
    if (rest.length !== 2) throw new UsageError("speakers rename takes a name and the new name");
    const renamed = await withStarted([registry], () => registry.rename(rest[0], rest[1]));
    process.stdout.write(`renamed to ${renamed.name} (id ${renamed.id})\n`);
    return 0;
  }
  if (sub === "threshold") {
    if (rest.length !== 2)
      throw new UsageError("speakers threshold takes a name and a value in [0, 1] or 'default'");
    const value = rest[1] === "default" ? null : Number(rest[1]);
    if (value !== null && (rest[1].trim() === "" || !Number.isFinite(value))) {
      throw new UsageError(`threshold must be a number in [0, 1] or 'default', got "${rest[1]}"`);
    }
    const model = await modelOf(values.model, config, logger);
    const updated = await withStarted([registry], () => registry.setThreshold(rest[0], model, value));
    const shown =
      updated.thresholds?.[model] ??
      `the default (${configuredThreshold(config.identification, model) ?? defaultThresholdOf(model)})`;
    process.stdout.write(`${updated.name}: threshold ${shown} for ${model}\n`);
    return 0;
  }
  if (sub === "forget-learned") {
    if (rest.length !== 1) throw new UsageError("speakers forget-learned takes exactly one name");
    const { speaker, forgotten } = await withStarted([registry], () => registry.forgetLearned(rest[0]));
    const what =
      forgotten === 0
        ? "nothing learned"
        : `forgot ${forgotten} learned voiceprint${forgotten === 1 ? "" : "s"}`;
    process.stdout.write(`${speaker.name}: ${what}\n`);
    return 0;
  }
  throw new UsageError(`unknown speakers subcommand "${sub}"`);
}

/** The encoder a subcommand is about: --model, else the one the daemon runs here. */
async function modelOf(given: string | undefined, config: VoiceidConfig, logger: Logger): Promise<EncoderId> {
  const model = given ?? (await encoderInUse(config, logger));
  if (!isEncoderId(model))
    throw new UsageError(`unknown encoder "${model}"; valid: ${ENCODER_IDS.join(", ")}`);
  return model;
}
