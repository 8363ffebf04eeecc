import { configuredThreshold } from "../../config/schema.js";
import { ENCODER_IDS, isEncoderId } from "../../embedding/encoder.js";
import { defaultThresholdOf } from "../../embedding/encoder-models.js";
import { parseCommandArgs } from "../args.js";
import { cliConfig, cliLogger, createRegistry, encoderInUse, withStarted } from "../context.js";
import { UsageError } from "../errors.js";

export async function speakersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    model: { type: "string" },
  });
  const config = await cliConfig(values);
  const registry = createRegistry(config, cliLogger(config));
  const [sub, ...rest] = positionals;
  if (sub === undefined || sub === "list") {
    if (rest.length > 0) throw new UsageError("speakers takes no arguments");
    const speakers = await withStarted([registry], async () => registry.list());
    if (values.json) {
      const rows = speakers.map((s) => ({
        id: s.id,
        name: s.name,
        createdAt: s.createdAt,
        thresholds: s.thresholds ?? {},
        samples: s.samples.length,
        models: [...new Set(s.samples.flatMap((x) => Object.keys(x.voiceprints)))],
      }));
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    } else if (speakers.length === 0) {
      process.stdout.write("no speakers enrolled (voiceid enroll <name> <wav>...)\n");
    } else {
      for (const s of speakers) {
        const speech = s.samples.reduce((t, x) => t + x.speechSeconds, 0);
        const threshold = Object.entries(s.thresholds ?? {})
          .map(([model, t]) => `, threshold ${t} (${model})`)
          .join("");
        process.stdout.write(
          `${s.name} (id ${s.id}): ${s.samples.length} samples, ${speech.toFixed(1)} s of speech${threshold}\n`,
        );
      }
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
    const model = values.model ?? (await encoderInUse(config, cliLogger(config)));
    if (!isEncoderId(model))
      throw new UsageError(`unknown encoder "${model}"; valid: ${ENCODER_IDS.join(", ")}`);
    const updated = await withStarted([registry], () => registry.setThreshold(rest[0], model, value));
    const shown =
      updated.thresholds?.[model] ??
      `the default (${configuredThreshold(config.identification, model) ?? defaultThresholdOf(model)})`;
    process.stdout.write(`${updated.name}: threshold ${shown} for ${model}\n`);
    return 0;
  }
  throw new UsageError(`unknown speakers subcommand "${sub}"`);
}
