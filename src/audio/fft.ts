/**
 * Exact mixed-radix FFTs for sizes that are not powers of two (the mel front end needs n = 400).
 * Stockham auto-sort formulation: natural-order output, no bit reversal, precomputed twiddles,
 * no allocation per transform.
 */

interface Stage {
  radix: number;
  /** Product of the radices of the earlier stages. */
  span: number;
  /** Twiddles exp(-2πi·r·k / (span·radix)) at index k·radix + r. */
  twRe: Float64Array;
  twIm: Float64Array;
}

function factorize(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  // Radix 4 first: fewest passes for the power-of-two part.
  for (const p of [4, 2, 3, 5]) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  for (let p = 7; rest > 1; p += 2) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  return factors;
}

const C5_1 = Math.cos((2 * Math.PI) / 5);
const C5_2 = Math.cos((4 * Math.PI) / 5);
const S5_1 = Math.sin((2 * Math.PI) / 5);
const S5_2 = Math.sin((4 * Math.PI) / 5);
const S3 = Math.sqrt(3) / 2;

/** Forward complex FFT (sign -1, unscaled) of a fixed size n >= 1. */
export class ComplexFft {
  readonly size: number;
  private readonly stages: Stage[];
  private readonly workRe: Float64Array;
  private readonly workIm: Float64Array;
  // Scratch for the generic-radix butterfly.
  private readonly genRe: Float64Array;
  private readonly genIm: Float64Array;
  private readonly rootRe: Float64Array;
  private readonly rootIm: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT size must be a positive integer, got ${n}`);
    this.size = n;
    this.stages = [];
    let span = 1;
    let maxRadix = 1;
    for (const radix of factorize(n)) {
      const len = span * radix;
      const twRe = new Float64Array(len);
      const twIm = new Float64Array(len);
      for (let k = 0; k < span; k++) {
        for (let r = 0; r < radix; r++) {
          const a = (-2 * Math.PI * r * k) / len;
          twRe[k * radix + r] = Math.cos(a);
          twIm[k * radix + r] = Math.sin(a);
        }
      }
      this.stages.push({ radix, span, twRe, twIm });
      span = len;
      maxRadix = Math.max(maxRadix, radix);
    }
    this.workRe = new Float64Array(n);
    this.workIm = new Float64Array(n);
    this.genRe = new Float64Array(maxRadix);
    this.genIm = new Float64Array(maxRadix);
    this.rootRe = new Float64Array(maxRadix);
    this.rootIm = new Float64Array(maxRadix);
  }

  /**
   * Transforms (re, im) in place. Both arrays must have length >= size; only the first `size`
   * entries are used.
   */
  transform(re: Float64Array, im: Float64Array): void {
    let srcRe = re;
    let srcIm = im;
    let dstRe = this.workRe;
    let dstIm = this.workIm;
    for (const stage of this.stages) {
      this.pass(stage, srcRe, srcIm, dstRe, dstIm);
      const tRe = srcRe;
      const tIm = srcIm;
      srcRe = dstRe;
      srcIm = dstIm;
      dstRe = tRe;
      dstIm = tIm;
    }
    if (srcRe !== re) {
      re.set(srcRe.subarray(0, this.size));
      im.set(srcIm.subarray(0, this.size));
    }
  }

  private pass(stage: Stage, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { radix, span, twRe, twIm } = stage;
    const n = this.size;
    const stride = n / radix;
    const blocks = stride / span;
    for (let b = 0; b < blocks; b++) {
      for (let k = 0; k < span; k++) {
        const j = b * span + k;
        const d = b * span * radix + k;
        const t = k * radix;
        if (radix === 2) {
          const ar = xr[j];
          const ai = xi[j];
          const w1r = twRe[t + 1];
          const w1i = twIm[t + 1];
          const br = xr[j + stride] * w1r - xi[j + stride] * w1i;
          const bi = xr[j + stride] * w1i + xi[j + stride] * w1r;
          yr[d] = ar + br;
          yi[d] = ai + bi;
          yr[d + span] = ar - br;
          yi[d + span] = ai - bi;
        } else if (radix === 4) {
          const ar = xr[j];
          const ai = xi[j];
          let u = xr[j + stride];
          let v = xi[j + stride];
          const br = u * twRe[t + 1] - v * twIm[t + 1];
          const bi = u * twIm[t + 1] + v * twRe[t + 1];
          u = xr[j + 2 * stride];
          v = xi[j + 2 * stride];
          const cr = u * twRe[t + 2] - v * twIm[t + 2];
          const ci = u * twIm[t + 2] + v * twRe[t + 2];
          u = xr[j + 3 * stride];
          v = xi[j + 3 * stride];
          const dr = u * twRe[t + 3] - v * twIm[t + 3];
          const di = u * twIm[t + 3] + v * twRe[t + 3];
          const s0r = ar + cr;
          const s0i = ai + ci;
          const s1r = ar - cr;
          const s1i = ai - ci;
          const s2r = br + dr;
          const s2i = bi + di;
          const s3r = br - dr;
          const s3i = bi - di;
          yr[d] = s0r + s2r;
          yi[d] = s0i + s2i;
          yr[d + 2 * span] = s0r - s2r;
          yi[d + 2 * span] = s0i - s2i;
          // X1 = s1 - i·s3, X3 = s1 + i·s3
          yr[d + span] = s1r + s3i;
          yi[d + span] = s1i - s3r;
          yr[d + 3 * span] = s1r - s3i;
          yi[d + 3 * span] = s1i + s3r;
        } else if (radix === 5) {
          const x0r = xr[j];
          const x0i = xi[j];
          let u = xr[j + stride];
          let v = xi[j + stride];
          const x1r = u * twRe[t + 1] - v * twIm[t + 1];
          const x1i = u * twIm[t + 1] + v * twRe[t + 1];
          u = xr[j + 2 * stride];
          v = xi[j + 2 * stride];
          const x2r = u * twRe[t + 2] - v * twIm[t + 2];
          const x2i = u * twIm[t + 2] + v * twRe[t + 2];
          u = xr[j + 3 * stride];
          v = xi[j + 3 * stride];
          const x3r = u * twRe[t + 3] - v * twIm[t + 3];
          const x3i = u * twIm[t + 3] + v * twRe[t + 3];
          u = xr[j + 4 * stride];
          v = xi[j + 4 * stride];
          const x4r = u * twRe[t + 4] - v * twIm[t + 4];
          const x4i = u * twIm[t + 4] + v * twRe[t + 4];
          const t1r = x1r + x4r;
          const t1i = x1i + x4i;
          const t2r = x2r + x3r;
          const t2i = x2i + x3i;
          const t3r = x1r - x4r;
          const t3i = x1i - x4i;
          const t4r = x2r - x3r;
          const t4i = x2i - x3i;
          yr[d] = x0r + t1r + t2r;
          yi[d] = x0i + t1i + t2i;
          const a1r = x0r + C5_1 * t1r + C5_2 * t2r;
          const a1i = x0i + C5_1 * t1i + C5_2 * t2i;
          const b1r = S5_1 * t3r + S5_2 * t4r;
          const b1i = S5_1 * t3i + S5_2 * t4i;
          const a2r = x0r + C5_2 * t1r + C5_1 * t2r;
          const a2i = x0i + C5_2 * t1i + C5_1 * t2i;
          const b2r = S5_2 * t3r - S5_1 * t4r;
          const b2i = S5_2 * t3i - S5_1 * t4i;
          // X1 = a1 - i·b1, X4 = a1 + i·b1, X2 = a2 - i·b2, X3 = a2 + i·b2
          yr[d + span] = a1r + b1i;
          yi[d + span] = a1i - b1r;
          yr[d + 4 * span] = a1r - b1i;
          yi[d + 4 * span] = a1i + b1r;
          yr[d + 2 * span] = a2r + b2i;
          yi[d + 2 * span] = a2i - b2r;
          yr[d + 3 * span] = a2r - b2i;
          yi[d + 3 * span] = a2i + b2r;
        } else if (radix === 3) {
          const ar = xr[j];
          const ai = xi[j];
          let u = xr[j + stride];
          let v = xi[j + stride];
          const br = u * twRe[t + 1] - v * twIm[t + 1];
          const bi = u * twIm[t + 1] + v * twRe[t + 1];
          u = xr[j + 2 * stride];
          v = xi[j + 2 * stride];
          const cr = u * twRe[t + 2] - v * twIm[t + 2];
          const ci = u * twIm[t + 2] + v * twRe[t + 2];
          const sr = br + cr;
          const si = bi + ci;
          const mr = ar - 0.5 * sr;
          const mi = ai - 0.5 * si;
          const dr = S3 * (br - cr);
          const di = S3 * (bi - ci);
          yr[d] = ar + sr;
          yi[d] = ai + si;
          yr[d + span] = mr + di;
          yi[d + span] = mi - dr;
          yr[d + 2 * span] = mr - di;
          yi[d + 2 * span] = mi + dr;
        } else {
          this.genericButterfly(radix, stride, span, j, d, t, twRe, twIm, xr, xi, yr, yi);
        }
      }
    }
  }

  private genericButterfly(
    radix: number,
    stride: number,
    span: number,
    j: number,
    d: number,
    t: number,
    twRe: Float64Array,
    twIm: Float64Array,
    xr: Float64Array,
    xi: Float64Array,
    yr: Float64Array,
    yi: Float64Array,
  ): void {
    const gr = this.genRe;
    const gi = this.genIm;
    const rr = this.rootRe;
    const ri = this.rootIm;
    for (let r = 0; r < radix; r++) {
      const u = xr[j + r * stride];
      const v = xi[j + r * stride];
      gr[r] = u * twRe[t + r] - v * twIm[t + r];
      gi[r] = u * twIm[t + r] + v * twRe[t + r];
      const a = (-2 * Math.PI * r) / radix;
      rr[r] = Math.cos(a);
      ri[r] = Math.sin(a);
    }
    for (let q = 0; q < radix; q++) {
      let sr = 0;
      let si = 0;
      for (let r = 0; r < radix; r++) {
        const idx = (q * r) % radix;
        sr += gr[r] * rr[idx] - gi[r] * ri[idx];
        si += gr[r] * ri[idx] + gi[r] * rr[idx];
      }
      yr[d + q * span] = sr;
      yi[d + q * span] = si;
    }
  }
}

/**
 * Forward FFT of a real signal of even length n, via one complex FFT of n/2 points.
 * Produces the n/2 + 1 non-negative-frequency bins (like numpy.fft.rfft).
 */
export class RealFft {
  readonly size: number;
  readonly bins: number;
  private readonly half: ComplexFft;
  private readonly zRe: Float64Array;
  private readonly zIm: Float64Array;
  private readonly wRe: Float64Array;
  private readonly wIm: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) {
      throw new RangeError(`real FFT size must be an even integer >= 2, got ${n}`);
    }
    this.size = n;
    this.bins = n / 2 + 1;
    const m = n / 2;
    this.half = new ComplexFft(m);
    this.zRe = new Float64Array(m);
    this.zIm = new Float64Array(m);
    this.wRe = new Float64Array(m + 1);
    this.wIm = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.wRe[k] = Math.cos((-2 * Math.PI * k) / n);
      this.wIm[k] = Math.sin((-2 * Math.PI * k) / n);
    }
  }

  /** Even/odd-interleaved input buffers the caller may fill directly: zRe[k] = x[2k], zIm[k] = x[2k+1]. */
  get packedRe(): Float64Array {
    return this.zRe;
  }
  get packedIm(): Float64Array {
    return this.zIm;
  }

  /** rfft of `input` (length >= size) into outRe/outIm (length >= bins). */
  forward(input: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const m = this.size / 2;
    for (let k = 0; k < m; k++) {
      this.zRe[k] = input[2 * k];
      this.zIm[k] = input[2 * k + 1];
    }
    this.forwardPacked(outRe, outIm);
  }

  /** rfft of the signal already packed into packedRe/packedIm (which this call overwrites). */
  forwardPacked(outRe: Float64Array, outIm: Float64Array): void {
    const m = this.size / 2;
    const zr = this.zRe;
    const zi = this.zIm;
    this.half.transform(zr, zi);
    const wr = this.wRe;
    const wi = this.wIm;
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      const pr = zr[a];
      const pi = zi[a];
      // conj(Z[m-k])
      const qr = zr[b];
      const qi = -zi[b];
      const er = 0.5 * (pr + qr);
      const ei = 0.5 * (pi + qi);
      // (Z[k] - conj(Z[m-k])) / 2i
      const or = 0.5 * (pi - qi);
      const oi = -0.5 * (pr - qr);
      outRe[k] = er + wr[k] * or - wi[k] * oi;
      outIm[k] = ei + wr[k] * oi + wi[k] * or;
    }
  }
}
