/**
 * In-place iterative radix-2 complex FFT, for FFT convolution (room simulation at enrolment). The mel
 * front ends use a GEMM instead (faster for their 400-point frames); this is for long kernels.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0)
    throw new RangeError(`FFT size must be a power of two, got ${n}`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const angle = ((inverse ? 2 : -2) * Math.PI) / size;
    const wRe = Math.cos(angle);
    const wIm = Math.sin(angle);
    for (let start = 0; start < n; start += size) {
      let tRe = 1;
      let tIm = 0;
      for (let k = 0; k < half; k++) {
        const a = start + k;
        const b = a + half;
        const xRe = re[b] * tRe - im[b] * tIm;
        const xIm = re[b] * tIm + im[b] * tRe;
        re[b] = re[a] - xRe;
        im[b] = im[a] - xIm;
        re[a] += xRe;
        im[a] += xIm;
        const next = tRe * wRe - tIm * wIm;
        tIm = tRe * wIm + tIm * wRe;
        tRe = next;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] /= n;
      im[i] /= n;
    }
  }
}

/**
 * Full linear convolution of `signal` with `kernel` (length signal + kernel - 1), by overlap-add FFT:
 * blocks as long as the kernel keep the FFT small whatever the signal's length. `pause` is awaited
 * between blocks (see breather()).
 */
export async function convolve(
  signal: Float32Array,
  kernel: Float32Array,
  pause: () => Promise<void> = async () => {},
): Promise<Float32Array> {
  const out = new Float32Array(signal.length + kernel.length - 1);
  if (signal.length === 0 || kernel.length === 0) return out;
  let size = 1;
  while (size < 2 * kernel.length) size <<= 1;
  const block = size - kernel.length + 1;
  const kRe = new Float64Array(size);
  const kIm = new Float64Array(size);
  kRe.set(kernel);
  fft(kRe, kIm);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  for (let from = 0; from < signal.length; from += block) {
    await pause();
    re.fill(0);
    im.fill(0);
    re.set(signal.subarray(from, from + block));
    fft(re, im);
    for (let k = 0; k < size; k++) {
      const r = re[k] * kRe[k] - im[k] * kIm[k];
      im[k] = re[k] * kIm[k] + im[k] * kRe[k];
      re[k] = r;
    }
    fft(re, im, true);
    const count = Math.min(size, out.length - from);
    for (let i = 0; i < count; i++) out[from + i] += re[i];
  }
  return out;
}
