/**
 * Convolution kernels computing a windowed real DFT: [2 * (nFft/2 + 1), 1, nFft], the cosine rows of
 * every bin then the (negated) sine rows. A strided Conv with them is the STFT as one GEMM.
 */
export function dftKernels(window: (n: number) => number, nFft: number): Float32Array {
  const bins = nFft / 2 + 1;
  // Every angle is a multiple of 2π/nFft: one table instead of a cos and a sin per kernel value (built
  // at every start, so it counts toward how fast a command answers).
  const cos = Float64Array.from({ length: nFft }, (_, m) => Math.cos((2 * Math.PI * m) / nFft));
  const sin = Float64Array.from({ length: nFft }, (_, m) => Math.sin((2 * Math.PI * m) / nFft));
  const out = new Float32Array(2 * bins * nFft);
  for (let n = 0; n < nFft; n++) {
    const w = window(n);
    for (let k = 0; k < bins; k++) {
      const m = (k * n) % nFft;
      out[k * nFft + n] = w * cos[m];
      out[(bins + k) * nFft + n] = -w * sin[m];
    }
  }
  return out;
}
