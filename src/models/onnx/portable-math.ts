/**
 * cos, sin, ln and powers computed with +, -, * and / alone, which IEEE 754 makes bit-identical on every
 * machine. Math.cos, Math.sin and ** are not: Node's arm64 and x86-64 builds differ in the last bit, and a
 * converted model whose bytes are pinned by sha256 must come out the same on a Pi as here.
 */

const TWO_PI = 2 * Math.PI;
const LN2 = Math.LN2;

/** cos and sin of 2π·num/den (integers, den > 0). */
export function cosSinOfTurn(num: number, den: number): [number, number] {
  // The angle's octant from integers alone; what is left is at most π/4.
  const r = ((num % den) + den) % den;
  const octant = Math.floor((8 * r) / den);
  let rest = 8 * r - octant * den; // in [0, den): the angle within its octant is 2π·rest/(8·den)
  // Odd octants measure from their far end, so the series always runs on [0, π/4].
  if (octant % 2 === 1) rest = den - rest;
  const x = (TWO_PI * rest) / (8 * den);
  const [c, s] = cosSinSeries(x);
  switch (octant) {
    case 0:
      return [c, s];
    case 1:
      return [s, c];
    case 2:
      return [-s, c];
    case 3:
      return [-c, s];
    case 4:
      return [-c, -s];
    case 5:
      return [-s, -c];
    case 6:
      return [s, -c];
    default:
      return [c, -s];
  }
}

/** Taylor series of cos and sin for |x| <= π/4: 14 terms leave less than 1e-30. */
function cosSinSeries(x: number): [number, number] {
  const x2 = x * x;
  let c = 1;
  let s = 1;
  for (let k = 28; k >= 2; k -= 2) {
    c = 1 - (c * x2) / (k * (k - 1));
    s = 1 - (s * x2) / ((k + 1) * k);
  }
  return [c, s * x];
}

/** Natural log of x > 0. */
export function portableLog(x: number): number {
  if (!(x > 0)) throw new RangeError(`log of ${x}`);
  let m = x;
  let e = 0;
  while (m >= 1) {
    m /= 2;
    e++;
  }
  while (m < 0.5) {
    m *= 2;
    e--;
  }
  // ln m = 2 atanh(z), z = (m - 1) / (m + 1), |z| <= 1/3.
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  let sum = 0;
  for (let k = 61; k >= 1; k -= 2) sum = 1 / k + z2 * sum;
  return 2 * z * sum + e * LN2;
}

/** e^x. */
export function portableExp(x: number): number {
  const k = Math.round(x / LN2);
  const r = x - k * LN2;
  let sum = 1;
  for (let n = 24; n >= 1; n--) sum = 1 + (r * sum) / n;
  let scale = 1;
  for (let i = 0; i < Math.abs(k); i++) scale *= 2;
  return k >= 0 ? sum * scale : sum / scale;
}

/** x^y for x >= 0 and y > 0 (0^y is taken as 0). */
export function portablePow(x: number, y: number): number {
  return x === 0 ? 0 : portableExp(y * portableLog(x));
}
