/**
 * Band-limited sample-rate conversion: Kaiser-windowed sinc, polyphase over the exact rational
 * ratio out/in = L/M. Passband flat (±0.1 dB) to 0.9 × the lower Nyquist, stopband from the lower
 * Nyquist with ≥ 66 dB attenuation by design. Output length is ceil(n · out / in), as
 * librosa.resample (which Resemblyzer's preprocess_wav calls) gives.
 */

/** Stopband attenuation the Kaiser window is designed for (dB); a few dB of margin over the 60 dB goal (cost grows linearly with it). */
const ATTENUATION_DB = 66;
/** Passband edge and stopband edge as fractions of the lower Nyquist frequency. */
const PASS_EDGE = 0.9;
const STOP_EDGE = 1.0;
/** Above this many phases the exact per-phase table gets big; interpolate an oversampled kernel. */
const MAX_TABLE_PHASES = 1024;
/** Kernel points per input sample in the interpolated fallback. */
const OVERSAMPLE = 1024;

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

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate <= 0) {
    throw new RangeError(`${name} must be a positive integer sample rate in Hz, got ${rate}`);
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
  readonly rows: Float64Array | null;
  /** Oversampled kernel g(u) at u = -K + i/OVERSAMPLE, for the interpolated path. */
  readonly dense: Float64Array | null;

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
    // K even so the tap count is a multiple of 4 (the dot product is unrolled by 4).
    const K = 2 * Math.ceil(length / 4);
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
    if (this.up <= MAX_TABLE_PHASES) {
      const rows = new Float64Array(this.up * this.taps);
      for (let p = 0; p < this.up; p++) {
        for (let i = 0; i < this.taps; i++) rows[p * this.taps + i] = kernel(i - (K - 1) - p / this.up);
      }
      this.rows = rows;
      this.dense = null;
    } else {
      const dense = new Float64Array(this.taps * OVERSAMPLE + 2);
      for (let i = 0; i < dense.length; i++) dense[i] = kernel(-K + i / OVERSAMPLE);
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

/**
 * Stateful resampler for live audio: push chunks of any size, get the output that is complete so
 * far; flush() at the end of the stream returns the tail. push(a)+push(b)+flush() equals
 * resample(a‖b) sample for sample.
 */
export class StreamingResampler {
  readonly fromRate: number;
  readonly toRate: number;
  private readonly kernel: ResamplingKernel | null;
  /** Input history; buf[0] is absolute input index bufStart (negative = the leading zero pad). */
  private buf: Float32Array;
  private bufLen = 0;
  private bufStart = 0;
  private received = 0;
  /** Next output j: its input time is base + phase/up. */
  private base = 0;
  private phase = 0;
  private flushed = false;
  private readonly scratch: Float64Array;

  constructor(fromRate: number, toRate: number) {
    checkRate("fromRate", fromRate);
    checkRate("toRate", toRate);
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.kernel = fromRate === toRate ? null : kernelFor(fromRate, toRate);
    this.buf = new Float32Array(4096);
    this.scratch = new Float64Array(this.kernel?.dense ? this.kernel.taps : 0);
    this.reset();
  }

  /** Forget all input: the next push starts a new stream. */
  reset(): void {
    const K = this.kernel?.halfWidth ?? 1;
    this.buf.fill(0, 0, K - 1);
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
    const K = this.kernel.halfWidth;
    this.append(new Float32Array(K + 1));
    // Output j exists iff its input time j·M/L < received, i.e. base < received.
    return this.produce(this.received);
  }

  private append(chunk: Float32Array): void {
    const need = this.bufLen + chunk.length;
    if (need > this.buf.length) {
      const grown = new Float32Array(Math.max(need, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.bufLen));
      this.buf = grown;
    }
    this.buf.set(chunk, this.bufLen);
    this.bufLen = need;
  }

  /** Emits every output whose integer input position base is < limit. */
  private produce(limit: number): Float32Array {
    const kernel = this.kernel!;
    const { up, down, taps, halfWidth: K, rows, dense } = kernel;
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
    const buf = this.buf;
    const scratch = this.scratch;
    let base = this.base;
    let phase = this.phase;
    for (let j = 0; j < count; j++) {
      const off = base - K + 1 - this.bufStart;
      let row: Float64Array;
      let r0: number;
      if (rows) {
        row = rows;
        r0 = phase * taps;
      } else {
        // Linear interpolation in the oversampled kernel; same fractional offset for every tap.
        const pos = (1 - phase / up) * OVERSAMPLE;
        const ip = Math.floor(pos);
        const f = pos - ip;
        const d = dense!;
        for (let i = 0; i < taps; i++) {
          const at = i * OVERSAMPLE + ip;
          scratch[i] = d[at] + f * (d[at + 1] - d[at]);
        }
        row = scratch;
        r0 = 0;
      }
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = 0; i < taps; i += 4) {
        a0 += buf[off + i] * row[r0 + i];
        a1 += buf[off + i + 1] * row[r0 + i + 1];
        a2 += buf[off + i + 2] * row[r0 + i + 2];
        a3 += buf[off + i + 3] * row[r0 + i + 3];
      }
      out[j] = a0 + a1 + (a2 + a3);
      phase += down;
      if (phase >= up) {
        base += Math.floor(phase / up);
        phase %= up;
      }
    }
    this.base = base;
    this.phase = phase;
    // Drop input no future output needs (everything before base - K + 1).
    const keepFrom = base - K + 1 - this.bufStart;
    if (keepFrom > 0 && keepFrom <= this.bufLen) {
      this.buf.copyWithin(0, keepFrom, this.bufLen);
      this.bufLen -= keepFrom;
      this.bufStart += keepFrom;
    } else if (keepFrom > this.bufLen) {
      this.bufStart += this.bufLen;
      this.bufLen = 0;
    }
    return out;
  }
}

/** One-shot resampling of a whole signal (zero padding at both ends). Same rate returns a copy. */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  checkRate("fromRate", fromRate);
  checkRate("toRate", toRate);
  if (fromRate === toRate) return input.slice();
  const r = new StreamingResampler(fromRate, toRate);
  const head = r.push(input);
  const tail = r.flush();
  if (tail.length === 0) return head;
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
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
