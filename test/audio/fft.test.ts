import { describe, expect, it } from "vitest";
import { ComplexFft, RealFft } from "../../src/audio/fft.js";

function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * ((j * k) % n)) / n;
      outRe[k] += re[j] * Math.cos(a) - im[j] * Math.sin(a);
      outIm[k] += re[j] * Math.sin(a) + im[j] * Math.cos(a);
    }
  }
  return [outRe, outIm];
}

function signal(n: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe("ComplexFft", () => {
  for (const n of [1, 2, 3, 4, 5, 8, 12, 25, 49, 100, 200, 210, 400]) {
    it(`equals a naive DFT for n = ${n}`, () => {
      const re = signal(n, n);
      const im = signal(n, n + 1);
      const [wantRe, wantIm] = naiveDft(re, im);
      new ComplexFft(n).transform(re, im);
      for (let k = 0; k < n; k++) {
        expect(Math.abs(re[k] - wantRe[k])).toBeLessThan(1e-10 * n);
        expect(Math.abs(im[k] - wantIm[k])).toBeLessThan(1e-10 * n);
      }
    });
  }

  it("rejects invalid sizes", () => {
    expect(() => new ComplexFft(0)).toThrow(RangeError);
    expect(() => new RealFft(401)).toThrow(/even/);
  });
});

describe("RealFft", () => {
  for (const n of [2, 10, 400]) {
    it(`equals the first n/2+1 bins of a naive DFT for n = ${n}`, () => {
      const x = signal(n, 7 * n);
      const [wantRe, wantIm] = naiveDft(x, new Float64Array(n));
      const fft = new RealFft(n);
      const re = new Float64Array(fft.bins);
      const im = new Float64Array(fft.bins);
      fft.forward(x, re, im);
      for (let k = 0; k < fft.bins; k++) {
        expect(Math.abs(re[k] - wantRe[k])).toBeLessThan(1e-10 * n);
        expect(Math.abs(im[k] - wantIm[k])).toBeLessThan(1e-10 * n);
      }
    });
  }
});
