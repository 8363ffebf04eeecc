import { gaussian } from "../../util/random.js";
import { framePowers } from "../volume.js";

export type NoiseKind = "pink" | "babble";

/** Samples generated between two pauses. */
const CHUNK = 16_384;
const noPause = async () => {};

/**
 * Pink (1/f) noise: white noise through Paul Kellet's refined three-pole filter. `pause` is awaited
 * every CHUNK samples (see breather()).
 */
export async function pinkNoise(
  length: number,
  random: () => number,
  pause: () => Promise<void> = noPause,
): Promise<Float32Array> {
  const out = new Float32Array(length);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < length; i++) {
    if (i % CHUNK === 0) await pause();
    const white = gaussian(random);
    b0 = 0.99765 * b0 + white * 0.099046;
    b1 = 0.963 * b1 + white * 0.2965164;
    b2 = 0.57 * b2 + white * 1.0526913;
    out[i] = b0 + b1 + b2 + white * 0.1848;
  }
  return out;
}

/**
 * Babble-like noise: several distant "talkers", each speech-shaped noise (pink, band-limited to the
 * voice band) switched on and off at syllable rate. Not speech, so it carries nobody's voice, but it
 * has the spectrum and the fluctuation of a television or a conversation in the next room.
 */
export async function babbleNoise(
  length: number,
  random: () => number,
  sampleRate = 16_000,
  pause: () => Promise<void> = noPause,
): Promise<Float32Array> {
  const out = new Float32Array(length);
  const talkers = 4;
  for (let t = 0; t < talkers; t++) {
    const voice = await pinkNoise(length, random, pause);
    const syllableHz = 3 + 3 * random();
    const phase = random() * 2 * Math.PI;
    let highpassed = 0;
    let previous = 0;
    let lowpassed = 0;
    for (let i = 0; i < length; i++) {
      if (i % CHUNK === 0) await pause();
      // ~100 Hz high-pass and ~3.5 kHz low-pass, both one-pole: the voice band.
      highpassed = 0.96 * (highpassed + voice[i] - previous);
      previous = voice[i];
      lowpassed += 0.75 * (highpassed - lowpassed);
      const syllable = Math.max(0, Math.sin(phase + (2 * Math.PI * syllableHz * i) / sampleRate));
      out[i] += lowpassed * syllable;
    }
  }
  return out;
}

/** Mean power of the loud part of a signal: 20 ms frames within 40 dB of the loudest (speech, not pauses). */
export function activePower(samples: Float32Array): number {
  const powers = framePowers(samples);
  if (powers.length === 0) return 0;
  const floor = Math.max(...powers) * 1e-4;
  const active = powers.filter((p) => p >= floor);
  return active.reduce((a, b) => a + b, 0) / active.length;
}

/** `speech` with `noise` added at `snrDb` (speech's active power over the noise's mean power). */
export function addNoise(speech: Float32Array, noise: Float32Array, snrDb: number): Float32Array {
  const out = new Float32Array(speech.length);
  let noisePower = 0;
  for (let i = 0; i < speech.length; i++) noisePower += noise[i] * noise[i];
  noisePower /= speech.length;
  const gain = noisePower > 0 ? Math.sqrt(activePower(speech) / noisePower / 10 ** (snrDb / 10)) : 0;
  for (let i = 0; i < speech.length; i++) out[i] = speech[i] + gain * noise[i];
  return out;
}
