/** 16-bit PCM WAV writer for any channel count, to build e.g. 44.1 kHz stereo test input in memory. */
export function encodePcm16WavChannels(channels: Float32Array[], sampleRate: number): Uint8Array {
  if (channels.length === 0) throw new RangeError("encodePcm16WavChannels: no channels");
  const frames = channels[0].length;
  if (channels.some((c) => c.length !== frames)) throw new RangeError("channels differ in length");
  const blockAlign = 2 * channels.length;
  const dataBytes = frames * blockAlign;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
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
      view.setInt16(at, Math.round(s * 32767), true);
      at += 2;
    }
  }
  return out;
}
