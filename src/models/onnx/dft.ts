/**
 * Convolution kernels computing a windowed real DFT: [2 * (nFft/2 + 1), 1, nFft], the cosine rows of
 * every bin then the (negated) sine rows. A strided Conv with them is the STFT as one GEMM.
 */
export function dftKernels(window: (n: number) => number, nFft: number): Float32Array {
  const bins = nFft / 2 + 1;
  const out = new Float32Array(2 * bins * nFft);
  for (let n = 0; n < nFft; n++) {
    const w = window(n);
    for (let k = 0; k < bins; k++) {
      // k * n mod nFft keeps the angle small, so cos/sin stay exact for large k * n.
      const angle = (2 * Math.PI * ((k * n) % nFft)) / nFft;
      out[k * nFft + n] = w * Math.cos(angle);
      out[(bins + k) * nFft + n] = -w * Math.sin(angle);
    }
  }
  return out;
}
