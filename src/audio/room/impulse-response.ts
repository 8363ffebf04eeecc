import { gaussian } from "../../util/random.js";

const SPEED_OF_SOUND = 343;
/** Reflections computed one by one up to this long after the direct sound; a statistical tail after it. */
const EARLY_SECONDS = 0.06;

export type Point = readonly [number, number, number];

export interface RoomGeometry {
  /** Width, depth, height in metres. */
  size: Point;
  talker: Point;
  microphone: Point;
  /** Seconds for the sound to fall by 60 dB. */
  rt60: number;
}

/**
 * A room impulse response at `sampleRate`: the image-source method (Allen & Berkley) for the direct
 * sound and early reflections of a shoebox room (walls reflecting with Eyring's coefficient for the
 * RT60), then exponentially decaying noise for the late reverberation, continuing the early part's
 * energy and low-passed as walls and air absorb high frequencies. Deterministic for a given `random`.
 */
export function roomImpulseResponse(
  room: RoomGeometry,
  sampleRate: number,
  random: () => number,
): Float32Array {
  const [lx, ly, lz] = room.size;
  const volume = lx * ly * lz;
  const surface = 2 * (lx * ly + lx * lz + ly * lz);
  const absorption = 1 - Math.exp((-0.161 * volume) / (surface * room.rt60));
  const beta = Math.sqrt(Math.max(0, 1 - absorption));
  const direct = distance(room.talker, room.microphone);
  const earlyEnd = direct / SPEED_OF_SOUND + EARLY_SECONDS;
  const length = Math.ceil(Math.min(room.rt60, 1.2) * sampleRate) + Math.ceil(earlyEnd * sampleRate);
  const h = new Float32Array(length);

  const order = Math.ceil((earlyEnd * SPEED_OF_SOUND) / (2 * Math.min(lx, ly, lz))) + 1;
  const axis = (source: number, mic: number, size: number) => {
    const images: { offset: number; reflections: number }[] = [];
    for (let n = -order; n <= order; n++) {
      for (const p of [0, 1]) {
        images.push({
          offset: (1 - 2 * p) * source + 2 * n * size - mic,
          reflections: Math.abs(n - p) + Math.abs(n),
        });
      }
    }
    return images;
  };
  const xs = axis(room.talker[0], room.microphone[0], lx);
  const ys = axis(room.talker[1], room.microphone[1], ly);
  const zs = axis(room.talker[2], room.microphone[2], lz);
  for (const x of xs) {
    for (const y of ys) {
      for (const z of zs) {
        const d = Math.hypot(x.offset, y.offset, z.offset);
        const delay = (d / SPEED_OF_SOUND) * sampleRate;
        if (delay >= earlyEnd * sampleRate) continue;
        // Linear fractional delay: each image splits between its two nearest samples.
        const amplitude =
          (beta ** (x.reflections + y.reflections + z.reflections) * direct) / Math.max(d, 0.1);
        const at = Math.floor(delay);
        const frac = delay - at;
        h[at] += amplitude * (1 - frac);
        h[at + 1] += amplitude * frac;
      }
    }
  }

  // The late tail carries on from the early reflections: the same energy per sample as their last
  // 20 ms (where the image sources are already dense), decaying by 60 dB over the RT60.
  const tailStart = Math.floor(earlyEnd * sampleRate);
  const span = Math.round(0.02 * sampleRate);
  let density = 0;
  for (let i = tailStart - span; i < tailStart; i++) density += h[i] * h[i];
  density /= span;
  const decay = Math.exp(-6.908 / (room.rt60 * sampleRate));
  // One-pole low-pass: walls and air absorb treble. Its output variance is (1-s)/(1+s) of white noise's.
  const smoothing = Math.min(0.6, 0.2 + 0.3 * room.rt60);
  const noiseVariance = (1 - smoothing) / (1 + smoothing);
  let envelope = Math.sqrt(density / noiseVariance);
  let lowpassed = 0;
  for (let i = tailStart; i < length; i++) {
    lowpassed = smoothing * lowpassed + (1 - smoothing) * gaussian(random);
    h[i] += envelope * lowpassed;
    envelope *= decay;
  }
  return h;
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}
