import { StreamingResampler } from "../resample.js";
import { decodeSamples, downmixToMono, type WavFormat } from "../wav.js";
import { SOURCE_SAMPLE_RATE } from "./source.js";

/** Layout of raw input (recorder pipe, raw file/stdin): interleaved signed 16-bit little-endian. */
export interface RawFormat {
  sampleRate: number;
  channels: number;
}

/** The WavFormat that describes raw s16le, so raw and WAV input share one decoder. */
export function s16leFormat({ sampleRate, channels }: RawFormat): WavFormat {
  return {
    sampleFormat: "pcm",
    formatTag: 1,
    channels,
    sampleRate,
    bytesPerSample: 2,
    bitsPerSample: 16,
    blockAlign: 2 * channels,
  };
}

/**
 * Interleaved PCM bytes in any chunking -> 16 kHz mono float32. Carries partial frames between
 * chunks (pipes split anywhere), averages channels and resamples with the streaming resampler when
 * the input rate is not 16 kHz. Sample conversion is src/audio/wav.ts's, as for whole files.
 */
export class PcmDecoder {
  private carry: Uint8Array = new Uint8Array(0);
  private readonly resampler: StreamingResampler | undefined;

  constructor(readonly format: WavFormat) {
    this.resampler =
      format.sampleRate === SOURCE_SAMPLE_RATE
        ? undefined
        : new StreamingResampler(format.sampleRate, SOURCE_SAMPLE_RATE);
  }

  push(bytes: Uint8Array): Float32Array {
    let data = bytes;
    if (this.carry.length > 0) {
      data = new Uint8Array(this.carry.length + bytes.length);
      data.set(this.carry);
      data.set(bytes, this.carry.length);
    }
    const whole = data.length - (data.length % this.format.blockAlign);
    // Copy the remainder (`bytes` may be a view of a buffer the stream reuses); Buffer#slice would not.
    this.carry = Uint8Array.from(data.subarray(whole));
    if (whole === 0) return new Float32Array(0);
    const mono = downmixToMono(decodeSamples(data.subarray(0, whole), this.format));
    return this.resampler ? this.resampler.push(mono) : mono;
  }

  /** End of stream: the resampler's tail (a trailing partial frame is dropped). */
  flush(): Float32Array {
    this.carry = new Uint8Array(0);
    return this.resampler ? this.resampler.flush() : new Float32Array(0);
  }
}
