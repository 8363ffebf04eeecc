import { parseCommandArgs } from "../args.js";
import { cliConfig, cliLogger, createRegistry, withStarted } from "../context.js";
import { UsageError } from "../errors.js";

export async function speakersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: "boolean" } });
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
        threshold: s.threshold ?? null,
        samples: s.samples.length,
        models: [...new Set(s.samples.flatMap((x) => Object.keys(x.voiceprints)))],
      }));
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    } else if (speakers.length === 0) {
      process.stdout.write("no speakers enrolled (voiceid enroll <name> <wav>...)\n");
    } else {
      for (const s of speakers) {
        const speech = s.samples.reduce((t, x) => t + x.speechSeconds, 0);
        const threshold = s.threshold !== undefined ? `, threshold ${s.threshold}` : "";
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
    const updated = await withStarted([registry], () => registry.setThreshold(rest[0], value));
    const shown = updated.threshold ?? `the default (${config.identification.threshold ?? 0.82})`;
    process.stdout.write(`${updated.name}: threshold ${shown}\n`);
    return 0;
  }
  throw new UsageError(`unknown speakers subcommand "${sub}"`);
}
