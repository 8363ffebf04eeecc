import { enrolHousehold, librispeechFiles } from "../../scripts/bench/setup.js";
import { buildTurnStream, drawHousehold, enrolmentOf, loadAudio } from "../../scripts/bench/turn-streams.js";
import { configSchema } from "../../src/config/schema.js";
import { Identifier } from "../../src/enrolment/identifier.js";
import type { Decision } from "../../src/identify/decision.js";
import { liveIdentifierOptions } from "../../src/identify/options.js";
import type { SpeakerTrackerOptions } from "../../src/identify/speaker-tracker.js";
import { tempRegistry } from "../enrolment/helpers.js";
import { type Models, runStream, seconds } from "./helpers.js";

/**
 * Excerpts of bench:stream's streams through the speech path: the cases found there, kept as tests with
 * real speech and the real models.
 */

/** How a bench:stream condition's household is enrolled and heard. */
export interface Condition {
  enrol: "dry" | "room";
  heard: "dry" | "room";
}
export const DRY: Condition = { enrol: "dry", heard: "dry" };
export const ROOM: Condition = { enrol: "room", heard: "room" };
export const MISMATCH: Condition = { enrol: "dry", heard: "room" };

/** The daemon's default identification settings for these models' encoder. */
export function defaultIdentification(models: Models): ReturnType<typeof liveIdentifierOptions> {
  return liveIdentifierOptions(
    configSchema.parse({}).identification,
    models.stack.defaultThreshold,
    models.stack.encoder.modelId,
  );
}

/**
 * An excerpt of a bench:stream stream, [from, to] s, through the speech path, with its household enrolled
 * as the bench enrols it (the real Enroller with its simulated rooms, a registry), from the clean
 * recordings or the room's as the condition says; the daemon's default identification settings.
 */
export async function benchStreamExcerpt(
  models: Models,
  { enrol, heard }: Condition,
  seed: number,
  [from, to]: [number, number],
  tracker: Partial<SpeakerTrackerOptions> = {},
): Promise<Decision[]> {
  const files = librispeechFiles();
  const recordings = { dry: loadAudio(files, "dry"), room: loadAudio(files, "room") };
  const household = drawHousehold(
    files.map((f) => f.id),
    seed,
  );
  const temp = await tempRegistry();
  try {
    await enrolHousehold(temp.registry, models.stack.extractor, enrolmentOf(recordings[enrol], household));
    const identifier = new Identifier(temp.registry, {
      modelId: models.stack.encoder.modelId,
      defaultThreshold: models.stack.defaultThreshold,
    });
    await identifier.start();
    const stream = buildTurnStream(recordings[heard], recordings.dry, household, seed);
    const identification = defaultIdentification(models);
    const ds = await runStream(
      models,
      identifier.candidates(),
      stream.samples.subarray(seconds(from), seconds(to)),
      { identification: { ...identification, tracker: { ...identification.tracker, ...tracker } } },
    );
    await identifier.stop();
    return ds;
  } finally {
    await temp.dispose();
  }
}
