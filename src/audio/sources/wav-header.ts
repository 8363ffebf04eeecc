import type { PcmFormat, SampleEncoding } from "./pcm.js";
import { AudioInputError } from "./source.js";

/**
 * Incremental RIFF/WAVE header parser for streamed input (a pipe gives no random access and no
 * final sizes). Own parser rather than src/audio/wav.ts, which decodes complete files.
 */

export interface WavStreamHeader {
  format: PcmFormat;
  /** Bytes of sample data, or undefined when the writer did not know it (size 0 or 0xFFFFFFFF): until EOF. */
  dataBytes: number | undefined;
}

const MAX_FMT_BYTES = 1024;
const CONVERT_HINT = "convert it, e.g. `sox in.wav -r 16000 -c 1 -b 16 out.wav`";

function encodingOf(tag: number, bits: number): SampleEncoding | undefined {
  if (tag === 1) {
    return ({ 8: "u8", 16: "s16le", 24: "s24le", 32: "s32le" } as const)[bits];
  }
  if (tag === 3) return ({ 32: "f32le", 64: "f64le" } as const)[bits];
  return undefined;
}

export class WavHeaderParser {
  private buffer: Buffer = Buffer.alloc(0);
  private riffChecked = false;
  private format: PcmFormat | undefined;
  /** Bytes of an uninteresting chunk still to discard. */
  private skip = 0;

  /** Feeds bytes; returns the header and the sample bytes that followed it once the data chunk starts. */
  push(bytes: Uint8Array): { header: WavStreamHeader; rest: Buffer } | undefined {
    let data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    this.buffer = this.buffer.length > 0 ? Buffer.concat([this.buffer, data]) : Buffer.from(data);

    if (!this.riffChecked) {
      if (this.buffer.length < 12) return undefined;
      const riff = this.buffer.toString("latin1", 0, 4);
      if (riff !== "RIFF" || this.buffer.toString("latin1", 8, 12) !== "WAVE") {
        throw new AudioInputError(
          riff === "RF64" ? "RF64 WAV is not supported" : "not a WAV file (no RIFF/WAVE header)",
        );
      }
      this.riffChecked = true;
      this.buffer = this.buffer.subarray(12);
    }

    while (this.buffer.length >= 8) {
      const id = this.buffer.toString("latin1", 0, 4);
      const size = this.buffer.readUInt32LE(4);
      if (id === "data") {
        if (!this.format) throw new AudioInputError("malformed WAV: data chunk before fmt chunk");
        const rest = Buffer.from(this.buffer.subarray(8));
        this.buffer = Buffer.alloc(0);
        const unknown = size === 0 || size === 0xffffffff;
        return { header: { format: this.format, dataBytes: unknown ? undefined : size }, rest };
      }
      // Chunks are padded to even sizes.
      const total = 8 + size + (size % 2);
      if (id === "fmt ") {
        if (size < 16 || size > MAX_FMT_BYTES) throw new AudioInputError(`malformed WAV: fmt chunk of ${size} bytes`);
        if (this.buffer.length < total) return undefined;
        this.format = parseFmt(this.buffer.subarray(8, 8 + size));
        this.buffer = this.buffer.subarray(total);
        continue;
      }
      if (this.buffer.length >= total) {
        this.buffer = this.buffer.subarray(total);
      } else {
        this.skip = total - this.buffer.length;
        this.buffer = Buffer.alloc(0);
      }
    }
    return undefined;
  }
}

function parseFmt(fmt: Buffer): PcmFormat {
  let tag = fmt.readUInt16LE(0);
  const channels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const bits = fmt.readUInt16LE(14);
  // WAVE_FORMAT_EXTENSIBLE: the real format tag opens the SubFormat GUID.
  if (tag === 0xfffe && fmt.length >= 26) tag = fmt.readUInt16LE(24);
  const encoding = encodingOf(tag, bits);
  if (!encoding) {
    throw new AudioInputError(`unsupported WAV encoding (format tag ${tag}, ${bits} bits); ${CONVERT_HINT}`);
  }
  if (channels < 1) throw new AudioInputError("malformed WAV: 0 channels");
  if (sampleRate < 1000 || sampleRate > 768_000) {
    throw new AudioInputError(`unsupported WAV sample rate ${sampleRate} Hz; ${CONVERT_HINT}`);
  }
  return { encoding, sampleRate, channels };
}
