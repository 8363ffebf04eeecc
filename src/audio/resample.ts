import { createDotWorkspace, type DotWorkspace } from "./dot.js";

/**
 * Band-limited sample-rate conversion: Kaiser-windowed sinc, polyphase over the exact rational
 * ratio out/in = L/M. Passband flat (±0.1 dB) to 0.9 × the lower Nyquist, stopband from the lower
 * Nyquist with ≥ 66 dB attenuation by design. Output length is ceil(n · out / in), as
 * librosa.resample (which Resemblyzer's preprocess_wav calls) gives.
 */

/** Design stopband attenuation (dB): a few dB over the 60 dB goal; the cost grows linearly with it. */
const ATTENUATION_DB = 66;
/** Passband edge and stopband edge as fractions of the lower Nyquist frequency. */
const PASS_EDGE = 0.9;
const STOP_EDGE = 1.0;
/** Largest exact polyphase table (coefficients); beyond it, interpolate an oversampled kernel. */
const MAX_TABLE_SIZE = 1 << 20;
/** Kernel points per zero crossing of the sinc in the interpolated path. */
const POINTS_PER_CROSSING = 1024;
/** Largest input/output rate ratio accepted (the filter gets proportionally longer). */
export const MAX_DOWNSAMPLING_RATIO = 256;

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function checkRates(fromRate: number, toRate: number): void {
  for (const [name, rate] of [
    ["fromRate", fromRate],
    ["toRate", toRate],
  ] as const) {
    if (!Number.isSafeInteger(rate) || rate <= 0) {
      throw new RangeError(`${name} must be a positive integer sample rate in Hz, got ${rate}`);
    }
  }
  if (fromRate / toRate > MAX_DOWNSAMPLING_RATIO) {
    throw new RangeError(
      `cannot resample ${fromRate} Hz to ${toRate} Hz: more than ${MAX_DOWNSAMPLING_RATIO}:1 downsampling`,
    );
  }
}

/** The filter for one rate pair; immutable and shared between resampler instances. */
class ResamplingKernel {
  readonly up: number;
  readonly down: number;
  /** Taps per output sample (input samples), even. */
  readonly taps: number;
  /** Half width K: output at input time τ uses inputs floor(τ)-K+1 .. floor(τ)+K. */
  readonly halfWidth: number;
  /** Exact polyphase rows (phase p at p*taps), or null when interpolating. */
  readonly rows: Float32Array | null;
  /** Oversampled kernel g(u) at u = -K + i/oversample, for the interpolated path. */
  readonly dense: Float64Array | null;
  /** Kernel points per input sample in `dense`. */
  readonly oversample: number;

  constructor(fromRate: number, toRate: number) {
    const g = gcd(fromRate, toRate);
    this.up = toRate / g;
    this.down = fromRate / g;
    const ratio = Math.min(1, toRate / fromRate);
    // Cutoff mid-transition, as a fraction of the input Nyquist.
    const cutoff = ((PASS_EDGE + STOP_EDGE) / 2) * ratio;
    const transition = (STOP_EDGE - PASS_EDGE) * ratio * Math.PI; // rad/sample at the input rate
    const beta = 0.1102 * (ATTENUATION_DB - 8.7);
    const length = Math.ceil((ATTENUATION_DB - 7.95) / (2.285 * transition)) + 1;
    // Tap count 2K a multiple of 8 (the dot product consumes 8 per turn).
    const K = 4 * Math.ceil(length / 8);
    this.halfWidth = K;
    this.taps = 2 * K;
    const i0Beta = besselI0(beta);
    const kernel = (u: number): number => {
      const x = u / K;
      if (x <= -1 || x >= 1) return 0;
      const a = Math.PI * cutoff * u;
      const sinc = a === 0 ? 1 : Math.sin(a) / a;
      return cutoff * sinc * (besselI0(beta * Math.sqrt(1 - x * x)) / i0Beta);
    };
    // A stretched (low-cutoff) kernel needs fewer points per input sample for the same accuracy.
    this.oversample = Math.max(16, Math.ceil(POINTS_PER_CROSSING * cutoff));
    if (this.up * this.taps <= MAX_TABLE_SIZE) {
      const rows = new Float32Array(this.up * this.taps);
      for (let p = 0; p < this.up; p++) {
        for (let i = 0; i < this.taps; i++) rows[p * this.taps + i] = kernel(i - (K - 1) - p / this.up);
      }
      this.rows = rows;
      this.dense = null;
    } else {
      const q = this.oversample;
      const dense = new Float64Array(this.taps * q + 2);
      for (let i = 0; i < dense.length; i++) dense[i] = kernel(-K + i / q);
      this.rows = null;
      this.dense = dense;
    }
  }
}

const kernelCache = new Map<string, ResamplingKernel>();

function kernelFor(fromRate: number, toRate: number): ResamplingKernel {
  const key = `${fromRate}:${toRate}`;
  let k = kernelCache.get(key);
  if (!k) {
    k = new ResamplingKernel(fromRate, toRate);
    kernelCache.set(key, k);
  }
  return k;
}

export interface ResamplerOptions {
  /** Use the WebAssembly SIMD kernel when the engine has it (default true); false forces plain JS. */
  simd?: boolean;
}

/** Samples the one-shot resample() feeds per push, so its working buffer stays small. */
const ONE_SHOT_BLOCK = 1 << 16;

/**
 * Stateful resampler for live audio: push chunks of any size, get the output that is complete so
 * far; flush() at the end of the stream returns the tail. push(a)+push(b)+flush() equals
 * resample(a‖b) sample for sample.
 */
export class StreamingResampler {
  readonly fromRate: number;
  readonly toRate: number;
  private readonly kernel: ResamplingKernel | null;
  /** Coefficients and input history; signal[0] is absolute input index bufStart (< 0: leading pad). */
  private readonly ws: DotWorkspace | null;
  private bufLen = 0;
  private bufStart = 0;
  private received = 0;
  /** Next output j: its input time is base + phase/up. */
  private base = 0;
  private phase = 0;
  private flushed = false;

  constructor(fromRate: number, toRate: number, options: ResamplerOptions = {}) {
    checkRates(fromRate, toRate);
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.kernel = fromRate === toRate ? null : kernelFor(fromRate, toRate);
    if (this.kernel) {
      const { rows, taps } = this.kernel;
      // Exact path: the whole polyphase table; interpolated path: one row rebuilt per output.
      this.ws = createDotWorkspace(rows ? rows.length : taps, 4 * taps + 4096, options.simd ?? true);
      if (rows) this.ws.table.set(rows);
    } else {
      this.ws = null;
    }
    this.reset();
  }

  /** Forget all input: the next push starts a new stream. */
  reset(): void {
    const K = this.kernel?.halfWidth ?? 1;
    this.ws?.signal.fill(0, 0, K - 1);
    this.bufLen = K - 1;
    this.bufStart = -(K - 1);
    this.received = 0;
    this.base = 0;
    this.phase = 0;
    this.flushed = false;
  }

  /** Feeds input samples; returns the output samples that are now complete. */
  push(chunk: Float32Array): Float32Array {
    if (this.flushed) throw new Error("StreamingResampler: push() after flush(); call reset() first");
    if (!this.kernel) {
      this.received += chunk.length;
      return chunk.slice();
    }
    this.append(chunk);
    this.received += chunk.length;
    return this.produce(this.received - this.kernel.halfWidth);
  }

  /** Ends the stream (trailing zero padding) and returns the remaining output. */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (!this.kernel) return new Float32Array(0);
    this.append(new Float32Array(this.kernel.halfWidth + 1));
    // Output j exists iff its input time j·M/L < received, i.e. base < received.
    return this.produce(this.received);
  }

  private append(chunk: Float32Array): void {
    const ws = this.ws!;
    ws.ensureSignalCapacity(this.bufLen + chunk.length);
    ws.signal.set(chunk, this.bufLen);
    this.bufLen += chunk.length;
  }

  /** Emits every output whose integer input position base is < limit. */
  private produce(limit: number): Float32Array {
    const { up, down, taps, halfWidth: K, rows, dense, oversample } = this.kernel!;
    const ws = this.ws!;
    // Count outputs first so the result is allocated once.
    let count = 0;
    {
      let b = this.base;
      let p = this.phase;
      while (b < limit) {
        count++;
        p += down;
        if (p >= up) {
          b += Math.floor(p / up);
          p %= up;
        }
      }
    }
    const out = new Float32Array(count);
    const table = ws.table;
    let base = this.base;
    let phase = this.phase;
    for (let j = 0; j < count; j++) {
      const off = base - K + 1 - this.bufStart;
      if (rows) {
        out[j] = ws.dot(phase * taps, off, taps);
      } else {
        // Linear interpolation in the oversampled kernel; same fractional offset for every tap.
        const pos = (1 - phase / up) * oversample;
        const ip = Math.floor(pos);
        const f = pos - ip;
        const d = dense!;
        for (let i = 0; i < taps; i++) {
          const at = i * oversample + ip;
          table[i] = d[at] + f * (d[at + 1] - d[at]);
        }
        out[j] = ws.dot(0, off, taps);
      }
      phase += down;
      if (phase >= up) {
        base += Math.floor(phase / up);
        phase %= up;
      }
    }
    this.base = base;
    this.phase = phase;
    // Drop input no future output needs (everything before base - K + 1).
    const keepFrom = Math.min(base - K + 1 - this.bufStart, this.bufLen);
    if (keepFrom > 0) {
      ws.signal.copyWithin(0, keepFrom, this.bufLen);
      this.bufLen -= keepFrom;
      this.bufStart += keepFrom;
    }
    return out;
  }
}

/** One-shot resampling of a whole signal (zero padding at both ends). Same rate returns a copy. */
export function resample(
  input: Float32Array,
  fromRate: number,
  toRate: number,
  options: ResamplerOptions = {},
): Float32Array {
  checkRates(fromRate, toRate);
  if (fromRate === toRate) return input.slice();
  const r = new StreamingResampler(fromRate, toRate, options);
  const out = new Float32Array(resampledLength(input.length, fromRate, toRate));
  let at = 0;
  for (let i = 0; i < input.length; i += ONE_SHOT_BLOCK) {
    const part = r.push(input.subarray(i, i + ONE_SHOT_BLOCK));
    out.set(part, at);
    at += part.length;
  }
  out.set(r.flush(), at);
  return out;
}

/** Number of output samples resample() returns for n input samples. */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  // ceil(n·up/down) without float error on large n.
  const q = Math.floor(n / down);
  const rem = n - q * down;
  return q * up + Math.ceil((rem * up) / down);
}
