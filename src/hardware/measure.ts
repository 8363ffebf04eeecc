import { isEncoderId, type SpeakerEncoder } from "../embedding/encoder.js";
import type { EncoderMeasurement } from "./choose.js";

const SAMPLE_RATE = 16000;

/**
 * Time `encoder` (started) on `seconds` of audio: one warm-up run, then the median of `runs`. The
 * content does not change the work (every encoder is a fixed graph over the waveform), so the audio is
 * a deterministic speech-like signal rather than a file the device may not have.
 */
export async function measureEncoder(
  encoder: SpeakerEncoder,
  seconds = 4,
  runs = 3,
): Promise<EncoderMeasurement> {
  if (!isEncoderId(encoder.modelId)) throw new Error(`cannot measure unknown encoder ${encoder.modelId}`);
  const audio = testSignal(seconds);
  await encoder.embedUtterance(audio);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await encoder.embedUtterance(audio);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const msPerAudioSecond = times[Math.floor(times.length / 2)] / seconds;
  return {
    encoder: encoder.modelId,
    provider: encoder.provider,
    msPerAudioSecond,
    realTimeFactor: msPerAudioSecond / 1000,
  };
}

/** Harmonics of a gliding 120-220 Hz pitch under a syllable-rate envelope, plus a little noise. */
function testSignal(seconds: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  let phase = 0;
  let seed = 1;
  for (let i = 0; i < out.length; i++) {
    const t = i / SAMPLE_RATE;
    phase += (2 * Math.PI * (170 + 50 * Math.sin(2 * Math.PI * 0.7 * t))) / SAMPLE_RATE;
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin(h * phase) / h;
    seed = (seed * 1103515245 + 12345) >>> 0;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    out[i] = 0.1 * envelope * v + 0.01 * (seed / 2 ** 32 - 0.5);
  }
  return out;
}
