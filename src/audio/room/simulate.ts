import { createHash } from "node:crypto";
import { breather } from "../../util/breather.js";
import { mulberry32 } from "../../util/random.js";
import { convolve } from "../fft.js";
import { type Point, type RoomGeometry, roomImpulseResponse } from "./impulse-response.js";
import { addNoise, babbleNoise, type NoiseKind, pinkNoise } from "./noise.js";

/** A simulated way of hearing a clip: a room, where talker and microphone are in it, and its noise. */
export interface RoomCondition extends RoomGeometry {
  noise: NoiseKind;
  snrDb: number;
}

/** Household rooms (width, depth, height in metres): bedroom, kitchen, living room, open plan. */
const ROOM_SIZES: readonly Point[] = [
  [3.4, 3.0, 2.5],
  [4.2, 3.5, 2.6],
  [5.5, 4.3, 2.7],
  [7.5, 5.5, 2.9],
];
const RT60 = [0.2, 1.0] as const;
const TALKER_DISTANCE = [0.5, 4] as const;
const SNR_DB = [5, 25] as const;
/** Nothing sits closer to a wall than this. */
const WALL_GAP = 0.3;

/** The seed of a clip's simulation: from its samples, so the same clip always hears the same rooms. */
export function simulationSeed(samples: Float32Array): number {
  const digest = createHash("sha256")
    .update(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
    .digest();
  return digest.readUInt32LE(0);
}

/**
 * `count` conditions spread over the ranges (RT60, distance and SNR stratified so that even a few cover
 * them), the rest drawn from `seed`.
 */
export function roomConditions(seed: number, count: number): RoomCondition[] {
  const random = mulberry32(seed);
  const strata = (k: number, [lo, hi]: readonly [number, number], order: number[]) =>
    lo + ((order[k] + random()) / count) * (hi - lo);
  const shuffled = () => shuffle([...Array(count).keys()], random);
  const rt60Order = shuffled();
  const distanceOrder = shuffled();
  const snrOrder = shuffled();
  return Array.from({ length: count }, (_, k) => {
    const size = ROOM_SIZES[Math.floor(random() * ROOM_SIZES.length)];
    const microphone: Point = [
      WALL_GAP + random() * (size[0] - 2 * WALL_GAP),
      WALL_GAP,
      0.8 + random() * 1.2,
    ];
    const wanted = strata(k, TALKER_DISTANCE, distanceOrder);
    return {
      size,
      microphone,
      talker: placeTalker(size, microphone, wanted, random),
      rt60: strata(k, RT60, rt60Order),
      noise: k % 2 === 0 ? "pink" : "babble",
      snrDb: strata(k, SNR_DB, snrOrder),
    };
  });
}

/**
 * `samples` as a microphone in `condition` hears them (the reverberation tail included), at the level of
 * the input, as a microphone's gain control would bring it. Gives the event loop a turn every 10 ms of
 * work: a 2-minute upload takes about a second per room.
 */
export async function simulateRoom(
  samples: Float32Array,
  condition: RoomCondition,
  seed: number,
  sampleRate = 16_000,
): Promise<Float32Array> {
  const random = mulberry32(seed);
  const pause = breather();
  const reverberant = await convolve(samples, roomImpulseResponse(condition, sampleRate, random), pause);
  const noise =
    condition.noise === "pink"
      ? await pinkNoise(reverberant.length, random, pause)
      : await babbleNoise(reverberant.length, random, sampleRate, pause);
  const heard = addNoise(reverberant, noise, condition.snrDb);
  const gain = Math.sqrt(meanPower(samples) / Math.max(meanPower(heard), 1e-20));
  for (let i = 0; i < heard.length; i++) heard[i] *= gain;
  return heard;
}

function meanPower(samples: Float32Array): number {
  let sum = 0;
  for (const v of samples) sum += v * v;
  return samples.length === 0 ? 0 : sum / samples.length;
}

/** A standing talker's mouth about `distance` from the microphone, inside the room. */
function placeTalker(size: Point, microphone: Point, distance: number, random: () => number): Point {
  const height = 1.2 + random() * 0.5;
  const vertical = height - microphone[2];
  const horizontal = Math.sqrt(Math.max(0.01, distance * distance - vertical * vertical));
  const angle = random() * Math.PI;
  const clamp = (v: number, max: number) => Math.min(max - WALL_GAP, Math.max(WALL_GAP, v));
  return [
    clamp(microphone[0] + horizontal * Math.cos(angle), size[0]),
    clamp(microphone[1] + horizontal * Math.sin(angle), size[1]),
    height,
  ];
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
