/** resemblyzer.audio.int16_max: the rms is taken on int16-scaled samples (the scale cancels in dBFS). */
const INT16_MAX = 2 ** 15 - 1;

export interface NormalizeVolumeOptions {
  /** Only ever raise the level (Resemblyzer's preprocess_wav uses this). */
  increaseOnly?: boolean;
  /** Only ever lower the level. */
  decreaseOnly?: boolean;
}

/** Level of a waveform in dBFS as resemblyzer computes it; -Infinity for silence or empty input. */
export function waveDbfs(wav: Float32Array): number {
  if (wav.length === 0) return Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < wav.length; i++) {
    const v = wav[i] * INT16_MAX;
    sum += v * v;
  }
  const rms = Math.sqrt(sum / wav.length);
  return 20 * Math.log10(rms / INT16_MAX);
}

/**
 * resemblyzer.audio.normalize_volume(wav, target_dBFS, increase_only, decrease_only): scales the
 * wav so its rms level is `targetDbfs`. Returns a new array when it scales, else the input itself
 * (as the Python does). Silent or empty input is returned unchanged instead of turning into NaN.
 */
export function normalizeVolume(
  wav: Float32Array,
  targetDbfs = -30,
  options: NormalizeVolumeOptions = {},
): Float32Array {
  const { increaseOnly = false, decreaseOnly = false } = options;
  if (increaseOnly && decreaseOnly) throw new RangeError("Both increase only and decrease only are set");
  if (!Number.isFinite(targetDbfs)) throw new RangeError(`targetDbfs must be finite, got ${targetDbfs}`);
  const dbfs = waveDbfs(wav);
  if (!Number.isFinite(dbfs)) return wav;
  const change = targetDbfs - dbfs;
  if ((change < 0 && increaseOnly) || (change > 0 && decreaseOnly)) return wav;
  const gain = 10 ** (change / 20);
  const out = new Float32Array(wav.length);
  for (let i = 0; i < wav.length; i++) out[i] = wav[i] * gain;
  return out;
}

/** Mean power of each whole `frame`-sample frame (320: 20 ms at 16 kHz). */
export function framePowers(samples: Float32Array, frame = 320): number[] {
  const powers: number[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += samples[j] * samples[j];
    powers.push(sum / frame);
  }
  return powers;
}

/**
 * Close-talk: the loudest 20 ms frames stand 30 dB or more above the quietest (the pauses between
 * words). A room microphone hears reverberation and household noise in every pause (the shared room
 * recordings: 18-28 dB; their clean originals mostly 30-70 dB).
 */
export function isCloseTalk(samples: Float32Array): boolean {
  const powers = framePowers(samples).map((p) => p + 1e-12);
  if (powers.length < 20) return false;
  powers.sort((a, b) => a - b);
  const loud = powers[Math.floor(powers.length * 0.95)];
  const quiet = powers[Math.floor(powers.length * 0.01)];
  return 10 * Math.log10(loud / quiet) >= 30;
}
