// @ts-check
/** Browser-side audio helpers of the page: resampling to 16 kHz and 16-bit WAV encoding. */

export const TARGET_RATE = 16000;

/**
 * Resamples mono audio with a Hann-windowed sinc low-pass at the lower Nyquist frequency (16 zero
 * crossings each side): what a 48 kHz microphone needs before it becomes a 16 kHz voiceprint clip.
 * @param {Float32Array} input
 * @param {number} fromRate
 * @param {number} [toRate]
 * @returns {Float32Array}
 */
export function resample(input, fromRate, toRate = TARGET_RATE) {
  if (fromRate === toRate) return input.slice();
  const ratio = toRate / fromRate;
  const cutoff = Math.min(1, ratio);
  const halfWidth = 16 / cutoff;
  const out = new Float32Array(Math.floor(input.length * ratio));
  for (let i = 0; i < out.length; i++) {
    const centre = i / ratio;
    const first = Math.max(0, Math.ceil(centre - halfWidth));
    const last = Math.min(input.length - 1, Math.floor(centre + halfWidth));
    let acc = 0;
    let weights = 0;
    for (let j = first; j <= last; j++) {
      const x = j - centre;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * cutoff * x) / (Math.PI * cutoff * x);
      const w = sinc * (0.5 + 0.5 * Math.cos((Math.PI * x) / halfWidth));
      acc += input[j] * w;
      weights += w;
    }
    out[i] = weights === 0 ? 0 : acc / weights;
  }
  return out;
}

/**
 * 16-bit PCM mono WAV.
 * @param {Float32Array} samples in [-1, 1]
 * @param {number} rate
 * @returns {Uint8Array}
 */
export function encodeWav(samples, rate) {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (/** @type {number} */ at, /** @type {string} */ text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(at + i, text.charCodeAt(i));
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, Math.round(s * 32767), true);
  }
  return bytes;
}

/**
 * Root-mean-square level in dBFS (-100 for silence), for the level meter.
 * @param {Float32Array} samples
 * @returns {number}
 */
export function levelDb(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  return rms === 0 ? -100 : Math.max(-100, 20 * Math.log10(rms));
}
