/**
 * 16-bit PCM WAV of float samples in [-1, 1] (clipped): mono from one array, or interleaved from one
 * array per channel. Used to keep live-recorded enrolment audio (and by tests to build input).
 */
export function encodePcm16Wav(
  samples: Float32Array | readonly Float32Array[],
  sampleRate: number,
): Uint8Array {
  const channels = samples instanceof Float32Array ? [samples] : samples;
  if (channels.length === 0) throw new RangeError("encodePcm16Wav: no channels");
  const frames = channels[0].length;
  if (channels.some((c) => c.length !== frames))
    throw new RangeError("encodePcm16Wav: channels differ in length");
  const blockAlign = 2 * channels.length;
  const dataBytes = frames * blockAlign;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, channels.length, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  let at = 44;
  for (let i = 0; i < frames; i++) {
    for (const c of channels) {
      const s = Math.max(-1, Math.min(1, c[i] || 0));
      view.setInt16(at, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
      at += 2;
    }
  }
  return out;
}
