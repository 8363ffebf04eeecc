/** Builds small synthetic WAV files in memory for the reader's tests. */

export interface WavSpec {
  /** 1 PCM, 3 float, or any other tag to provoke errors. */
  formatTag?: number;
  /** Write WAVE_FORMAT_EXTENSIBLE with this subformat tag (1 or 3). */
  extensibleSubformat?: number;
  validBits?: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Overrides the computed block align. */
  blockAlign?: number;
  /** Raw sample bytes (already interleaved/encoded). */
  data: Uint8Array;
  /** Overrides the data chunk's declared size. */
  dataSize?: number;
  /** Overrides the RIFF size field. */
  riffSize?: number;
  /** Chunks written between fmt and data: [fourcc, body]. */
  before?: Array<[string, Uint8Array]>;
  /** Chunks written after data. */
  after?: Array<[string, Uint8Array]>;
}

function chunk(id: string, body: Uint8Array, declared = body.length): Uint8Array {
  const pad = body.length & 1;
  const out = new Uint8Array(8 + body.length + pad);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = id.charCodeAt(i);
  v.setUint32(4, declared, true);
  out.set(body, 8);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function fmtBody(spec: WavSpec): Uint8Array {
  const ext = spec.extensibleSubformat !== undefined;
  const body = new Uint8Array(ext ? 40 : 16);
  const v = new DataView(body.buffer);
  const bytes = Math.ceil(spec.bitsPerSample / 8);
  const blockAlign = spec.blockAlign ?? spec.channels * bytes;
  v.setUint16(0, ext ? 0xfffe : (spec.formatTag ?? 1), true);
  v.setUint16(2, spec.channels, true);
  v.setUint32(4, spec.sampleRate, true);
  v.setUint32(8, spec.sampleRate * blockAlign, true);
  v.setUint16(12, blockAlign, true);
  v.setUint16(14, spec.bitsPerSample, true);
  if (ext) {
    v.setUint16(16, 22, true);
    v.setUint16(18, spec.validBits ?? spec.bitsPerSample, true);
    v.setUint32(20, 0, true);
    v.setUint16(24, spec.extensibleSubformat!, true);
    body.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  return body;
}

export function makeWav(spec: WavSpec): Uint8Array {
  const chunks = [
    chunk("fmt ", fmtBody(spec)),
    ...(spec.before ?? []).map(([id, b]) => chunk(id, b)),
    chunk("data", spec.data, spec.dataSize),
    ...(spec.after ?? []).map(([id, b]) => chunk(id, b)),
  ];
  const body = concat(chunks);
  const head = new Uint8Array(12);
  const v = new DataView(head.buffer);
  head.set([0x52, 0x49, 0x46, 0x46], 0); // RIFF
  v.setUint32(4, spec.riffSize ?? body.length + 4, true);
  head.set([0x57, 0x41, 0x56, 0x45], 8); // WAVE
  return concat([head, body]);
}

/** Interleaves planar int16 channels into little-endian bytes. */
export function int16Data(channels: number[][]): Uint8Array {
  const frames = channels[0].length;
  const out = new Uint8Array(frames * channels.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels.length; c++) v.setInt16((i * channels.length + c) * 2, channels[c][i], true);
  }
  return out;
}

/** 16-bit mono/multichannel WAV of float samples in [-1, 1) (scaled by 32768, clipped). */
export function wav16(channels: Float32Array[], sampleRate: number): Uint8Array {
  const ints = channels.map((ch) =>
    Array.from(ch, (x) => Math.max(-32768, Math.min(32767, Math.round(x * 32768)))),
  );
  return makeWav({ channels: channels.length, sampleRate, bitsPerSample: 16, data: int16Data(ints) });
}

/**
 * A RIFF WAV as RF64: "RF64" in place of "RIFF" and, with `ds64`, the ds64 chunk that carries the real sizes
 * right after "WAVE", the 32-bit size fields set to 0xFFFFFFFF as RF64 writers do. Expects a canonical
 * 44-byte header (fmt then data), as encodePcm16Wav and makeWav without extra chunks write.
 */
export function asRf64(riff: Uint8Array, options: { ds64: boolean }): Uint8Array {
  const magic = (bytes: Uint8Array, at: number, id: string) => {
    for (let i = 0; i < 4; i++) bytes[at + i] = id.charCodeAt(i);
  };
  if (!options.ds64) {
    const out = riff.slice();
    magic(out, 0, "RF64");
    return out;
  }
  const dataSize = new DataView(riff.buffer, riff.byteOffset).getUint32(40, true);
  const ds64 = new Uint8Array(8 + 28);
  magic(ds64, 0, "ds64");
  const d = new DataView(ds64.buffer);
  d.setUint32(4, 28, true);
  d.setBigUint64(8, BigInt(riff.length + ds64.length - 8), true); // RIFF size
  d.setBigUint64(16, BigInt(dataSize), true); // data size
  const out = concat([riff.subarray(0, 12), ds64, riff.subarray(12)]);
  const v = new DataView(out.buffer);
  magic(out, 0, "RF64");
  v.setUint32(4, 0xffffffff, true);
  v.setUint32(12 + ds64.length + 24 + 4, 0xffffffff, true); // the data chunk's own size field
  return out;
}
