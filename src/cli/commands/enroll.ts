import { basename } from "node:path";
import { parseCommandArgs } from "../args.js";
import {
  cliConfig,
  cliLogger,
  createEnroller,
  createModelStack,
  createRegistry,
  withCurrentVoiceprints,
} from "../context.js";
import { UsageError } from "../errors.js";
import { readWavFile } from "./embed.js";

export async function enrollCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: "boolean" } });
  if (positionals.length < 2) throw new UsageError("enroll takes a name and at least one WAV file");
  const [name, ...files] = positionals;
  const config = await cliConfig(values);
  const logger = cliLogger(config);
  const clips = await Promise.all(
    files.map(async (f) => ({ bytes: await readWavFile(f), source: "cli" as const, name: basename(f) })),
  );
  const registry = createRegistry(config, logger);
  const stack = await createModelStack(config, logger);
  const enroller = createEnroller(config, registry, stack);
  const result = await withCurrentVoiceprints(
    registry,
    stack,
    { logger, simulateRooms: config.enrolment.simulateRooms },
    () => enroller.enrol(name, clips, { create: true }),
  );
  if (values.json) {
    const { speaker, created, clips: feedback } = result;
    process.stdout.write(
      `${JSON.stringify({ speaker: speaker.name, id: speaker.id, created, clips: feedback })}\n`,
    );
    return 0;
  }
  const verb = result.created ? "created" : "updated";
  process.stdout.write(
    `${verb} ${result.speaker.name} (id ${result.speaker.id}), ${result.speaker.samples.length} samples\n`,
  );
  for (const clip of result.clips) {
    const consistency = clip.consistency
      ? `, similarity to other samples ${clip.consistency.mean.toFixed(2)}`
      : "";
    process.stdout.write(`  ${clip.name}: ${clip.speechSeconds.toFixed(1)} s of speech${consistency}\n`);
    for (const warning of clip.warnings) process.stderr.write(`  warning: ${clip.name}: ${warning}\n`);
    for (const hint of clip.hints) process.stdout.write(`  hint: ${clip.name}: ${hint}\n`);
  }
  return 0;
}
