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
  throw new UsageError(`unknown speakers subcommand "${sub}"`);
}
