import { parseCommandArgs } from "../args.js";
import {
  cliConfig,
  cliLogger,
  createEnroller,
  createModelStack,
  createRegistry,
  withCurrentVoiceprints,
} from "../context.js";
import { aboutFile, UsageError } from "../errors.js";
import { readWavFile } from "./embed.js";

export async function identifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("identify takes exactly one WAV file");
  const config = await cliConfig(values);
  const logger = cliLogger(config);
  const bytes = await readWavFile(positionals[0]);
  const registry = createRegistry(config, logger);
  const stack = await createModelStack(config, logger);
  const enroller = createEnroller(config, registry, stack);
  const id = await withCurrentVoiceprints(
    registry,
    stack,
    { logger, simulateRooms: config.enrolment.simulateRooms },
    () => aboutFile(positionals[0], () => enroller.identifyWav(bytes)),
  );
  const round = (x: number | null) => (x === null ? null : Number(x.toFixed(4)));
  const scores = Object.fromEntries(Object.entries(id.scores).map(([k, v]) => [k, round(v)]));
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ speaker: id.speaker, score: round(id.score), margin: round(id.margin), scores, threshold: id.threshold, reason: id.reason, speechSeconds: round(id.speechSeconds) })}\n`,
    );
    return 0;
  }
  if (id.speaker) {
    process.stdout.write(`${id.speaker} (score ${id.score?.toFixed(3)}, threshold ${id.threshold})\n`);
  } else if (id.score === null) {
    process.stdout.write("unknown: nobody is enrolled yet (voiceid enroll <name> <wav>...)\n");
  } else {
    const nearest = id.nearestSpeaker ? `, nearest ${id.nearestSpeaker} at ${id.score?.toFixed(3)}` : "";
    process.stdout.write(`unknown (${id.reason}${nearest}, threshold ${id.threshold})\n`);
  }
  for (const [name, score] of Object.entries(scores).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))) {
    process.stdout.write(`  ${name.padEnd(24)} ${score?.toFixed(3)}\n`);
  }
  return 0;
}
