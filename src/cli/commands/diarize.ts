import path from "node:path";
import { readWavAs16kMono } from "../../audio/wav.js";
import { Identifier } from "../../enrolment/identifier.js";
import { diarize } from "../../identify/diarize.js";
import { liveIdentifierOptions, segmenterOptions } from "../../identify/options.js";
import { parseCommandArgs } from "../args.js";
import {
  cliConfig,
  cliLogger,
  createModelStack,
  createRegistry,
  withCurrentVoiceprints,
} from "../context.js";
import { aboutFile, UsageError } from "../errors.js";
import { readWavFile } from "./embed.js";

/** `voiceid diarize <file> [--json|--rttm]`: who spoke when in a recording. */
export async function diarizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    rttm: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("diarize takes exactly one WAV file");
  if (values.json && values.rttm) throw new UsageError("give --json or --rttm, not both");
  const file = positionals[0];
  const config = await cliConfig(values);
  const logger = cliLogger(config);
  const bytes = await readWavFile(file);
  const registry = createRegistry(config, logger);
  const stack = await createModelStack(config, logger);
  const streamVad = stack.streamVad();
  const turns = await withCurrentVoiceprints(
    registry,
    stack,
    { logger, simulateRooms: config.enrolment.simulateRooms },
    async () => {
      await streamVad.start();
      const identifier = new Identifier(registry, {
        modelId: stack.encoder.modelId,
        defaultThreshold: stack.defaultThreshold,
      });
      return aboutFile(file, () =>
        diarize(readWavAs16kMono(bytes), {
          vad: streamVad,
          encoder: stack.encoder,
          candidates: () => identifier.candidates(),
          segmenter: segmenterOptions(config.vad),
          identification: liveIdentifierOptions(
            config.identification,
            stack.defaultThreshold,
            stack.encoder.modelId,
          ),
          logger,
        }),
      );
    },
  );
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  if (values.json) {
    const json = turns.map((t) => ({
      ...t,
      start: r3(t.start),
      end: r3(t.end),
      score: t.score === null ? null : r3(t.score),
    }));
    process.stdout.write(`${JSON.stringify({ file, turns: json })}\n`);
  } else if (values.rttm) {
    const name = path.basename(file, path.extname(file));
    for (const t of turns) {
      process.stdout.write(
        `SPEAKER ${name} 1 ${t.start.toFixed(3)} ${(t.end - t.start).toFixed(3)} <NA> <NA> ${t.label} <NA> <NA>\n`,
      );
    }
  } else {
    for (const t of turns) {
      const who = t.speaker ?? `${t.label} (${t.reason})`;
      const score = t.score === null ? "" : `  score ${t.score.toFixed(3)}`;
      process.stdout.write(
        `${t.start.toFixed(2).padStart(8)} - ${t.end.toFixed(2).padStart(8)}  ${who}${score}\n`,
      );
    }
  }
  return 0;
}
