import { roomConditions, simulateRoom, simulationSeed } from "../audio/room/simulate.js";
import type { Speech, VoiceprintExtractor } from "../embedding/voiceprint.js";
import { centroidOf } from "../registry/matcher.js";
import type { AlternatePenalties } from "../registry/registry.js";
import type { SimulatedVoiceprint } from "../registry/schema.js";

/**
 * Every enrolment clip is also heard in simulated rooms, so a person enrolled close to a phone is
 * recognised by a microphone across the room. Bump `version` when the simulation changes: kept clips
 * are simulated again at the next start.
 */
export const ROOM_SIMULATION = { version: 1, rooms: 8 } as const;

/**
 * Speech simulated per clip: the first 20 s. A voiceprint of 20 s of speech is as settled as one of two
 * minutes, and a long upload would otherwise keep a Pi busy for a minute or more.
 */
const MAX_SIMULATED_SAMPLES = 20 * 16_000;

/**
 * What a match against each kind of alternate centroid gives up, per encoder. Simulated rooms move every
 * voice toward the same reverberant sound, visitors' too: 0.04 keeps bench:stream's wrong-person time in
 * the mismatch condition under 0.5 % (0 penalty: 3 %). Learned centroids are the room itself, heard and
 * confirmed, but visitors sound closer there too: with 0.02, bench:stream's room condition after
 * listening has 2.5 % wrong person against 2.65 % without learning.
 * ECAPA-TDNN's cosines spread about twice as wide; its values are scaled, not measured (no ECAPA-TDNN
 * weights on the machine that measured these).
 */
const PENALTIES: Record<string, AlternatePenalties> = {
  "resemblyzer-0.1.4": { simulated: 0.04, learned: 0.02 },
  "ecapa-voxceleb": { simulated: 0.08, learned: 0.04 },
  // Simulated: the lowest penalty that names no more wrong people than the 0.09 once scaled from
  // ECAPA-TDNN, in any condition of `npm run bench:stream -- --replay FILE --simulated-penalty P` (wrong
  // claims, 20 streams each) and in bench:accuracy's households (visitors named). 0.07 names people
  // enrolled from another microphone sooner (mismatch streams: correct 90.3 -> 90.8 %, first naming p95
  // 3.34 -> 3.19 s); 0.06 named twice the visitors in the mismatch households (0.12 % against 0.06 %),
  // 0.05 and lower also a member wrongly in the room streams. Learned: chosen the same way against the 0.04
  // once scaled, live (`--learned-penalty P`, conditions +listened): 0.02 names no more wrong people (8
  // streams each: wrong claims mismatch 2 -> 2, room 2 -> 1; room wrong person 0.57 -> 0.43 %); 0.01 adds
  // wrong claims (3 streams: 1 -> 2 in both conditions), 0 more (1 -> 3 and 2) and wrong person (room 1.19
  // -> 2.04 %).
  "campplus-zh-en": { simulated: 0.07, learned: 0.02 },
};

export function alternatePenalties(modelId: string): AlternatePenalties {
  return PENALTIES[modelId] ?? PENALTIES["resemblyzer-0.1.4"];
}

/**
 * The centroid of `speech`'s voiceprints as heard in ROOM_SIMULATION.rooms rooms drawn from the speech
 * itself, so the same clip always gives the same voiceprint.
 */
export async function simulatedRoomVoiceprint(
  extractor: Pick<VoiceprintExtractor, "fromSpeech">,
  speech: Speech,
): Promise<SimulatedVoiceprint> {
  const seed = simulationSeed(speech.samples);
  const simulated = speech.samples.subarray(0, MAX_SIMULATED_SAMPLES);
  const voiceprints: Float32Array[] = [];
  for (const [k, condition] of roomConditions(seed, ROOM_SIMULATION.rooms).entries()) {
    const heard = await simulateRoom(simulated, condition, (seed + k + 1) >>> 0);
    voiceprints.push((await extractor.fromSpeech({ ...speech, samples: heard })).embedding);
  }
  const centroid = centroidOf(voiceprints);
  if (centroid === null) throw new Error("simulated voiceprints cancelled out");
  return { version: ROOM_SIMULATION.version, rooms: voiceprints.length, voiceprint: Array.from(centroid) };
}
