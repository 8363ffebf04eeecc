import { StreamingResampler } from "../resample.js";
import { SOURCE_SAMPLE_RATE } from "./source.js";

export type SampleEncoding = "u8" | "s16le" | "s24le" | "s32le" | "f32le" | "f64le";

export interface PcmFormat {
  encoding: SampleEncoding;
  sampleRate: number;
  channels: number;
}

const BYTES: Record<SampleEncoding, number> = { u8: 1, s16le: 2, s24le: 3, s32le: 4, f32le: 4, f64le: 8 };

/**
 * Interleaved PCM bytes in any chunking -> 16 kHz mono float32. Carries partial frames between chunks
 * (pipes split anywhere), averages channels, and resamples with the streaming resampler when the
 * input rate is not 16 kHz.
 */
export class PcmDecoder {
  private readonly frameBytes: number;
  private carry: Buffer = Buffer.alloc(0);
  private readonly resampler: StreamingResampler | undefined;

  constructor(readonly format: PcmFormat) {
    this.frameBytes = BYTES[format.encoding] * format.channels;
    this.resampler =
      format.sampleRate === SOURCE_SAMPLE_RATE
        ? undefined
        : new StreamingResampler(format.sampleRate, SOURCE_SAMPLE_RATE);
  }

  push(bytes: Uint8Array): Float32Array {
    let data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.carry.length > 0) data = Buffer.concat([this.carry, data]);
    const frames = Math.floor(data.length / this.frameBytes);
    const used = frames * this.frameBytes;
    // Copy the remainder: `data` may be a view of a buffer the stream reuses.
    this.carry = Buffer.from(data.subarray(used));
    const mono = this.downmix(data, frames);
    return this.resampler ? this.resampler.push(mono) : mono;
  }

  /** End of stream: the resampler's tail (a trailing partial frame is dropped). */
  flush(): Float32Array {
    this.carry = Buffer.alloc(0);
    return this.resampler ? this.resampler.flush() : new Float32Array(0);
  }

  private downmix(data: Buffer, frames: number): Float32Array {
    const { encoding, channels } = this.format;
    const out = new Float32Array(frames);
    const width = BYTES[encoding];
    if (encoding === "s16le" && channels === 1) {
      // The common case (arecord, 16 kHz WAV): no per-sample switch.
      for (let i = 0; i < frames; i++) out[i] = data.readInt16LE(i * 2) / 32768;
      return out;
    }
    for (let f = 0; f < frames; f++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) {
        const at = (f * channels + c) * width;
        switch (encoding) {
          case "u8":
            sum += (data[at] - 128) / 128;
            break;
          case "s16le":
            sum += data.readInt16LE(at) / 32768;
            break;
          case "s24le":
            sum += data.readIntLE(at, 3) / 8388608;
            break;
          case "s32le":
            sum += data.readInt32LE(at) / 2147483648;
            break;
          case "f32le":
            sum += data.readFloatLE(at);
            break;
          case "f64le":
            sum += data.readDoubleLE(at);
            break;
        }
      }
      out[f] = sum / channels;
    }
    return out;
  }
}
