/** Seeded draws, so a benchmark run can be repeated exactly (`--seed`). */
export { mulberry32 } from "../../src/util/random.js";

/** `k` distinct indices out of 0..n-1 (partial Fisher-Yates), in draw order. */
export function drawDistinct(n: number, k: number, random: () => number): number[] {
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`cannot draw ${k} of ${n}`);
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}
