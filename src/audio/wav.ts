import { resampledLength, StreamingResampler } from "./resample.js";

/**
 * WAV (RIFF/WAVE, and RF64) reader: integer PCM 8/16/24/32-bit (and odd widths in those
 * containers), IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE with a PCM or float subformat; any rate
 * and channel count. Samples become float32 the way soundfile/librosa.load scale them:
 * int / 2^(container bits - 1), 8-bit as (u8 - 128) / 128.
 * Never allocates by a declared size: every buffer is bounded by the bytes actually present.
 */

export class WavFormatError extends Error {
  override name = "WavFormatError";
}

export type WavSampleFormat = "pcm" | "float";

export interface WavFormat {
  sampleFormat: WavSampleFormat;
  /** 1 = PCM, 3 = IEEE float, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (sampleFormat says which subformat). */
  formatTag: number;
  channels: number;
  sampleRate: number;
  /** Bytes per sample in the data chunk (the container). */
  bytesPerSample: number;
  /** Significant bits (≤ 8 · bytesPerSample). */
  bitsPerSample: number;
  /** Bytes per frame (all channels): channels · bytesPerSample. */
  blockAlign: number;
}

export interface WavHeader {
  format: WavFormat;
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Bytes of sample data, or null when the writer did not know it (streamed: read until EOF). */
  dataLength: number | null;
}

export interface DecodedAudio {
  format: WavFormat;
  sampleRate: number;
  channels: number;
  /** Samples per channel. */
  frames: number;
  /** One Float32Array per channel (planar). */
  channelData: Float32Array[];
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs share this tail after the 2-byte format tag and 2 zero bytes. */
const GUID_TAIL = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
const UNKNOWN_SIZE = 0xffffffff;

const KNOWN_TAGS: Record<number, string> = {
  2: "Microsoft ADPCM",
  6: "A-law",
  7: "mu-law",
  17: "IMA ADPCM",
  49: "GSM 6.10",
  85: "MPEG Layer 3",
};

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function describeTag(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, "0")}`;
  return KNOWN_TAGS[tag] ? `${hex} (${KNOWN_TAGS[tag]})` : hex;
}

/** Parses and validates a fmt chunk body. */
function parseFmt(bytes: Uint8Array, at: number, size: number): WavFormat {
  if (size < 16) throw new WavFormatError(`fmt chunk is ${size} bytes, need at least 16`);
  const formatTag = u16(bytes, at);
  const channels = u16(bytes, at + 2);
  const sampleRate = u32(bytes, at + 4);
  const blockAlign = u16(bytes, at + 12);
  const containerBits = u16(bytes, at + 14);
  let code = formatTag;
  let bitsPerSample = containerBits;
  if (formatTag === FORMAT_EXTENSIBLE) {
    if (size < 40) throw new WavFormatError(`WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, need 40`);
    const validBits = u16(bytes, at + 18);
    code = u16(bytes, at + 24);
    const tailOk = u16(bytes, at + 26) === 0 && GUID_TAIL.every((b, i) => bytes[at + 28 + i] === b);
    if (!tailOk) throw new WavFormatError("WAVE_FORMAT_EXTENSIBLE with a non-standard subformat GUID");
    if (validBits !== 0) {
      if (validBits > containerBits) {
        throw new WavFormatError(`valid bits (${validBits}) exceed the container (${containerBits} bits)`);
      }
      bitsPerSample = validBits;
    }
  }
  if (channels === 0) throw new WavFormatError("fmt chunk declares 0 channels");
  if (sampleRate === 0) throw new WavFormatError("fmt chunk declares a sample rate of 0 Hz");
  let sampleFormat: WavSampleFormat;
  let bytesPerSample: number;
  if (code === FORMAT_PCM) {
    sampleFormat = "pcm";
    if (containerBits < 1 || containerBits > 32) {
      throw new WavFormatError(`unsupported PCM bit depth ${containerBits} (supported: 8, 16, 24, 32)`);
    }
    bytesPerSample = Math.ceil(containerBits / 8);
  } else if (code === FORMAT_FLOAT) {
    sampleFormat = "float";
    if (containerBits !== 32 && containerBits !== 64) {
      throw new WavFormatError(`unsupported IEEE float bit depth ${containerBits} (supported: 32, 64)`);
    }
    bytesPerSample = containerBits / 8;
  } else {
    const where = formatTag === FORMAT_EXTENSIBLE ? " in WAVE_FORMAT_EXTENSIBLE" : "";
    throw new WavFormatError(
      `unsupported WAV encoding ${describeTag(code)}${where}: only PCM and IEEE float are supported`,
    );
  }
  if (blockAlign !== channels * bytesPerSample) {
    throw new WavFormatError(
      `block align mismatch: fmt says ${blockAlign} bytes per frame, but ${channels} channel(s) × ` +
        `${bytesPerSample} byte(s) = ${channels * bytesPerSample}`,
    );
  }
  return { sampleFormat, formatTag, channels, sampleRate, bytesPerSample, bitsPerSample, blockAlign };
}

interface RiffStart {
  rf64: boolean;
  riffSizeUnknown: boolean;
}

function checkRiff(bytes: Uint8Array): RiffStart {
  const id = fourcc(bytes, 0);
  if ((id !== "RIFF" && id !== "RF64") || fourcc(bytes, 8) !== "WAVE") {
    const shown = JSON.stringify(String.fromCharCode(...bytes.subarray(0, 12)).replace(/[^\x20-\x7e]/g, "."));
    throw new WavFormatError(`not a WAV file: expected "RIFF....WAVE", got ${shown}`);
  }
  const riffSize = u32(bytes, 4);
  return { rf64: id === "RF64", riffSizeUnknown: riffSize === 0 || riffSize === UNKNOWN_SIZE };
}

interface ChunkScan {
  format: WavFormat;
  dataOffset: number;
  /** Declared size; null if unknown (streamed). */
  dataLength: number | null;
}

/**
 * Walks chunks from byte 12 until the data chunk. When `bytes` ends before the data chunk header:
 * streaming returns null (need more input); a complete file throws saying what is missing.
 */
function scanToData(bytes: Uint8Array, start: RiffStart, streaming: boolean): ChunkScan | null {
  let pos = 12;
  let format: WavFormat | null = null;
  let ds64Data: number | null = null;
  const endOfInput = (what: string): null => {
    if (streaming) return null;
    throw new WavFormatError(what);
  };
  while (true) {
    if (pos + 8 > bytes.length) {
      return endOfInput(format ? "no data chunk in the file" : "no fmt chunk and no data chunk in the file");
    }
    const id = fourcc(bytes, pos);
    const size = u32(bytes, pos + 4);
    const body = pos + 8;
    if (id === "data") {
      if (!format) throw new WavFormatError("data chunk comes before the fmt chunk (or fmt is missing)");
      if (start.rf64 && ds64Data === null) {
        // An RF64 file keeps its real sizes in its ds64 chunk: without one, nothing it declares can be trusted.
        throw new WavFormatError(
          'an RF64 file must carry its sizes in a "ds64" chunk and this one has none; save it as a standard WAV file',
        );
      }
      let dataLength: number | null = size;
      if (start.rf64 && size === UNKNOWN_SIZE && ds64Data !== null) dataLength = ds64Data;
      else if (size === UNKNOWN_SIZE) dataLength = null;
      else if (size === 0 && (streaming || start.riffSizeUnknown)) dataLength = null;
      return { format, dataOffset: body, dataLength };
    }
    if (id === "fmt " || id === "ds64") {
      if (body + size > bytes.length) {
        return endOfInput(
          `truncated WAV: ${JSON.stringify(id)} chunk declares ${size} bytes past the end of the file`,
        );
      }
      if (id === "fmt ") format = parseFmt(bytes, body, size);
      else if (size >= 16) ds64Data = u32(bytes, body + 8) + u32(bytes, body + 12) * 2 ** 32;
    } else if (!streaming && body + size > bytes.length) {
      const shown = JSON.stringify(id.replace(/[^\x20-\x7e]/g, "."));
      throw new WavFormatError(
        `truncated WAV: chunk ${shown} declares ${size} bytes but only ${bytes.length - body} remain, before any data chunk`,
      );
    }
    // Chunks are word-aligned: odd sizes are followed by a pad byte.
    pos = body + size + (size & 1);
  }
}

/** Bytes of header a stream may need before we give up looking for the data chunk. */
const MAX_STREAM_HEADER_BYTES = 1 << 20;

/**
 * Parses the header of a WAV that may still be arriving (stdin). Returns null if more bytes are
 * needed to reach the start of the sample data; throws WavFormatError if it is not a usable WAV.
 * A data size of 0 or 0xFFFFFFFF means "until EOF" (dataLength null).
 */
export function parseWavHeader(bytes: Uint8Array): WavHeader | null {
  if (bytes.length < 12) return null;
  const start = checkRiff(bytes);
  const scan = scanToData(bytes, start, true);
  if (!scan) {
    if (bytes.length > MAX_STREAM_HEADER_BYTES) {
      throw new WavFormatError(`no data chunk within the first ${MAX_STREAM_HEADER_BYTES} bytes`);
    }
    return null;
  }
  return { format: scan.format, dataOffset: scan.dataOffset, dataLength: scan.dataLength };
}

/**
 * Decodes whole frames of sample data into planar float32 channels. `bytes.length` should be a
 * multiple of format.blockAlign; a trailing partial frame is ignored.
 */
export function decodeSamples(bytes: Uint8Array, format: WavFormat): Float32Array[] {
  const { channels, bytesPerSample, blockAlign, sampleFormat } = format;
  const frames = Math.floor(bytes.length / blockAlign);
  const out: Float32Array[] = [];
  for (let c = 0; c < channels; c++) out.push(new Float32Array(frames));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let c = 0; c < channels; c++) {
    const dst = out[c];
    let at = c * bytesPerSample;
    if (sampleFormat === "float") {
      if (bytesPerSample === 4) {
        for (let i = 0; i < frames; i++, at += blockAlign) dst[i] = view.getFloat32(at, true);
      } else {
        for (let i = 0; i < frames; i++, at += blockAlign) dst[i] = view.getFloat64(at, true);
      }
    } else if (bytesPerSample === 2) {
      for (let i = 0; i < frames; i++, at += blockAlign) dst[i] = view.getInt16(at, true) / 32768;
    } else if (bytesPerSample === 1) {
      for (let i = 0; i < frames; i++, at += blockAlign) dst[i] = (bytes[at] - 128) / 128;
    } else if (bytesPerSample === 3) {
      for (let i = 0; i < frames; i++, at += blockAlign) {
        const v = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) << 8;
        dst[i] = (v >> 8) / 8388608;
      }
    } else {
      for (let i = 0; i < frames; i++, at += blockAlign) dst[i] = view.getInt32(at, true) / 2147483648;
    }
  }
  return out;
}

/** Decodes a complete WAV file held in memory. */
export function decodeWav(bytes: Uint8Array): DecodedAudio {
  const { format, dataOffset, frames } = inspectWav(bytes);
  const channelData = decodeSamples(
    bytes.subarray(dataOffset, dataOffset + frames * format.blockAlign),
    format,
  );
  return { format, sampleRate: format.sampleRate, channels: format.channels, frames, channelData };
}

/** Averages the channels (librosa.to_mono); a single channel is returned as is. */
export function downmixToMono(channelData: Float32Array[]): Float32Array {
  if (channelData.length === 0) throw new RangeError("downmixToMono: no channels");
  if (channelData.length === 1) return channelData[0];
  const n = channelData[0].length;
  const out = new Float32Array(n);
  if (channelData.length === 2) {
    const [a, b] = channelData;
    for (let i = 0; i < n; i++) out[i] = (a[i] + b[i]) * 0.5;
    return out;
  }
  const acc = new Float64Array(n);
  for (const ch of channelData) for (let i = 0; i < n; i++) acc[i] += ch[i];
  const k = 1 / channelData.length;
  for (let i = 0; i < n; i++) out[i] = acc[i] * k;
  return out;
}

/** Sample rates a clip may declare: below telephone quality nothing is speech, above it nothing is sane. */
export const MIN_CLIP_SAMPLE_RATE = 8000;
export const MAX_CLIP_SAMPLE_RATE = 384_000;

/** The audio is longer than the caller accepts; found from the header, before any decoding. */
export class AudioTooLongError extends Error {
  readonly code = "clip_too_long";
  override name = "AudioTooLongError";
  constructor(
    readonly seconds: number,
    readonly maxSeconds: number,
  ) {
    super(`audio is ${seconds.toFixed(1)} s long, at most ${maxSeconds} s is accepted`);
  }
}

export interface WavInfo extends WavHeader {
  /** Whole frames present (bounded by the bytes actually there). */
  frames: number;
  durationSeconds: number;
}

/**
 * What a complete WAV holds, from its header alone: no sample is decoded, so this is cheap whatever the
 * header claims. Throws WavFormatError for anything that is not a usable WAV.
 */
export function inspectWav(bytes: Uint8Array): WavInfo {
  if (bytes.length < 12) throw new WavFormatError(`not a WAV file: only ${bytes.length} bytes`);
  const scan = scanToData(bytes, checkRiff(bytes), false)!;
  const available = bytes.length - scan.dataOffset;
  const length = scan.dataLength ?? available;
  if (length > available) {
    throw new WavFormatError(
      `truncated WAV: data chunk declares ${length} bytes but only ${available} are present`,
    );
  }
  const frames = Math.floor(length / scan.format.blockAlign);
  return { ...scan, dataLength: length, frames, durationSeconds: frames / scan.format.sampleRate };
}

/** Refuses rates no microphone records speech at, and audio longer than `maxSeconds`: before decoding. */
function checkClip(info: WavInfo, maxSeconds: number | undefined): void {
  const rate = info.format.sampleRate;
  if (rate < MIN_CLIP_SAMPLE_RATE || rate > MAX_CLIP_SAMPLE_RATE) {
    throw new WavFormatError(
      `sample rate ${rate} Hz is not supported (${MIN_CLIP_SAMPLE_RATE}-${MAX_CLIP_SAMPLE_RATE} Hz)`,
    );
  }
  if (maxSeconds !== undefined && info.durationSeconds > maxSeconds) {
    throw new AudioTooLongError(info.durationSeconds, maxSeconds);
  }
}

export interface ClipReadOptions {
  /** Refuse audio longer than this many seconds (checked from the header). */
  maxSeconds?: number;
  /** Output rate (default 16 kHz). */
  targetRate?: number;
}

/** Input frames decoded per slice (about 10 ms of work at 48 kHz stereo). */
const FRAMES_PER_SLICE = 1 << 14;

/**
 * Decode, average to mono, resample: a slice at a time, yielding between slices, returning the samples.
 * Checks the header first, so nothing is decoded for audio that is refused.
 */
function* clipSlices(bytes: Uint8Array, options: ClipReadOptions): Generator<void, Float32Array> {
  const info = inspectWav(bytes);
  checkClip(info, options.maxSeconds);
  const targetRate = options.targetRate ?? 16000;
  const { format, dataOffset, frames } = info;
  const resampler =
    format.sampleRate === targetRate ? null : new StreamingResampler(format.sampleRate, targetRate);
  const out = new Float32Array(resampler ? resampledLength(frames, format.sampleRate, targetRate) : frames);
  let written = 0;
  const put = (part: Float32Array) => {
    out.set(part, written);
    written += part.length;
  };
  for (let frame = 0; frame < frames; frame += FRAMES_PER_SLICE) {
    const end = Math.min(frames, frame + FRAMES_PER_SLICE);
    const from = dataOffset + frame * format.blockAlign;
    const mono = downmixToMono(
      decodeSamples(bytes.subarray(from, dataOffset + end * format.blockAlign), format),
    );
    put(resampler ? resampler.push(mono) : mono);
    yield;
  }
  if (resampler) put(resampler.flush());
  return out;
}

/** Decode, average to mono, resample to 16 kHz: what the encoder wants. In one go (CLI, benchmarks). */
export function readWavAs16kMono(bytes: Uint8Array, options: ClipReadOptions = {}): Float32Array {
  const slices = clipSlices(bytes, options);
  for (;;) {
    const step = slices.next();
    if (step.done) return step.value;
  }
}

/**
 * readWavAs16kMono for a server: the same samples, with the event loop free between slices, so an upload
 * never stalls live detection or other requests.
 */
export async function decodeWavAs16kMono(
  bytes: Uint8Array,
  options: ClipReadOptions = {},
): Promise<Float32Array> {
  const slices = clipSlices(bytes, options);
  for (;;) {
    const step = slices.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Incremental WAV decoder for a byte stream (stdin, a pipe): push() bytes as they arrive and get
 * the planar float32 samples decoded so far. Partial frames are carried over to the next push.
 */
export class WavStreamDecoder {
  private pending: Uint8Array = new Uint8Array(0);
  private parsed: WavHeader | null = null;
  /** Data bytes still expected, or Infinity until EOF. */
  private remaining = Number.POSITIVE_INFINITY;

  /** The header once it has been parsed, else null. */
  get header(): WavHeader | null {
    return this.parsed;
  }

  /** True once a declared data length has been fully consumed; later bytes are ignored. */
  get done(): boolean {
    return this.parsed !== null && this.remaining === 0;
  }

  /**
   * Feeds bytes. Returns one Float32Array per channel with the newly decoded frames (empty arrays
   * when nothing is complete yet, or [] before the header is known). Throws WavFormatError.
   */
  push(chunk: Uint8Array): Float32Array[] {
    let bytes = this.concatPending(chunk);
    if (!this.parsed) {
      const header = parseWavHeader(bytes);
      if (!header) {
        this.pending = bytes;
        return [];
      }
      this.parsed = header;
      this.remaining = header.dataLength ?? Number.POSITIVE_INFINITY;
      bytes = bytes.subarray(header.dataOffset);
    }
    const format = this.parsed.format;
    if (bytes.length > this.remaining) bytes = bytes.subarray(0, this.remaining);
    const whole = bytes.length - (bytes.length % format.blockAlign);
    const samples = decodeSamples(bytes.subarray(0, whole), format);
    this.remaining -= whole;
    this.pending = bytes.slice(whole);
    if (this.remaining < format.blockAlign) {
      this.remaining = 0;
      this.pending = new Uint8Array(0);
    }
    return samples;
  }

  private concatPending(chunk: Uint8Array): Uint8Array {
    if (this.pending.length === 0) return chunk;
    const merged = new Uint8Array(this.pending.length + chunk.length);
    merged.set(this.pending);
    merged.set(chunk, this.pending.length);
    return merged;
  }
}
