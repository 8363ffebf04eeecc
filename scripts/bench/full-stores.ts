import path from "node:path";
import { createConfigSchema } from "../../src/config/schema.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { TimelineJournal } from "../../src/timeline/journal.js";
import type { TimelineTurn } from "../../src/timeline/turn.js";
import { createLogger } from "../../src/util/log.js";
import { VOICES_FILE_NAME, writeVoicesFile } from "../../src/voices/voice-file.js";
import type { KeptVoice } from "../../src/voices/voice-groups.js";

const TURNS_PER_VOICE = 10;

/**
 * Fills `dataDir`'s timeline journal and unknown voices to their default bounds (5000 turns in the last
 * day, 500 kept turns), as a household's daemon has them after a day or two of talk, for someone
 * enrolled there with `modelId`: a daemon started on it holds them full from the start, so a soak
 * measures memory at its bounds, not their filling as a trend. The kept voiceprints are random (they
 * group with nobody); the turns are a stranger's.
 */
export async function fillBoundedStores(
  dataDir: string,
  modelId: string,
  room: string,
  now = Date.now(),
): Promise<{ timelineTurns: number; keptTurns: number }> {
  const logger = createLogger("warn", "bench");
  const registry = new SpeakerRegistry({ dataDir, logger });
  await registry.start();
  let dim: number;
  try {
    const enrolled = registry.list()[0];
    const centroid = enrolled ? registry.centroid(enrolled, modelId) : null;
    if (!centroid) throw new Error(`fillBoundedStores: nobody in ${dataDir} is enrolled with ${modelId}`);
    dim = centroid.length;
  } finally {
    await registry.stop();
  }
  const { timeline, unknownVoices } = createConfigSchema({}).parse({});

  // Spread over nine tenths of the kept hours: none ages out during a run.
  const spanMs = timeline.keepHours * 0.9 * 3_600_000;
  const turns: TimelineTurn[] = Array.from({ length: timeline.maxTurns }, (_, i) => ({
    room,
    turnId: i,
    startedAt: new Date(now - spanMs + (i * spanMs) / timeline.maxTurns).toISOString(),
    durationS: 3,
    speakerId: null,
    speaker: null,
    reason: "unknown",
    score: 0.2,
    threshold: 0.5,
    voice: null,
    open: false,
  }));
  await new TimelineJournal(dataDir, logger).rewrite(turns);

  let seed = 1;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648 - 0.5;
  };
  const unitVector = () => {
    const v = Float32Array.from({ length: dim }, random);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const voiceCount = Math.ceil(unknownVoices.maxTurns / TURNS_PER_VOICE);
  const voices: KeptVoice[] = Array.from({ length: voiceCount }, (_, v) => ({
    id: `voice-${v + 1}`,
    createdAt: new Date(now - 3_600_000).toISOString(),
    ignored: false,
    label: null,
    turns: Array.from({ length: TURNS_PER_VOICE }, (_, t) => ({
      key: `filled-${v}-${t}`,
      at: new Date(now - 3_600_000 + (v * TURNS_PER_VOICE + t) * 1000).toISOString(),
      room,
      speechSeconds: 3,
      durationSeconds: 3.5,
      voiceprint: unitVector(),
      clip: null,
    })),
  }));
  await writeVoicesFile(path.join(dataDir, VOICES_FILE_NAME), {
    modelId,
    nextVoice: voiceCount + 1,
    voices,
  });
  return { timelineTurns: turns.length, keptTurns: voiceCount * TURNS_PER_VOICE };
}
