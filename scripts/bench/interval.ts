/**
 * How far a figure pooled over a few streams can be trusted. Seconds inside one stream are not independent
 * (one hard speaker colours a whole stream), so the streams are the samples: the pooled share is a ratio
 * estimator over clusters, with its variance from how the streams' own shares scatter around it
 * (linearisation) and Student's t for the few streams there are.
 */

export interface StreamShare {
  /** The stream's own share (of its speech, say). */
  share: number;
  /** What the share is of (seconds of speech): its weight in the pooled share. */
  weight: number;
}

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/** Student's t, 0.95 quantile (a two-sided 90 % interval), for 1 to 30 degrees of freedom. */
const T95 = [
  6.314, 2.92, 2.353, 2.132, 2.015, 1.943, 1.895, 1.86, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761, 1.753,
  1.746, 1.74, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
];
/** The normal's 0.95 quantile, and the first term of t's expansion around it for more degrees of freedom. */
const Z95 = 1.6449;
const t95 = (df: number) => (df <= T95.length ? T95[df - 1] : Z95 + (Z95 ** 3 + Z95) / (4 * df));

/** The pooled share of the streams and its 90 % interval, within 0-1 (a point when there is one stream). */
export function pooledInterval(streams: readonly StreamShare[]): Interval {
  const total = streams.reduce((n, s) => n + s.weight, 0);
  const estimate = streams.reduce((n, s) => n + s.share * s.weight, 0) / total;
  const n = streams.length;
  if (n < 2) return { estimate, low: estimate, high: estimate };
  const scatter = streams.reduce((sum, s) => sum + (s.weight * (s.share - estimate)) ** 2, 0);
  const standardError = Math.sqrt((n / (n - 1)) * scatter) / total;
  const half = t95(n - 1) * standardError;
  return { estimate, low: Math.max(0, estimate - half), high: Math.min(1, estimate + half) };
}

/**
 * The least-squares slope of y over x and its 90 % interval (Student's t on n − 2 degrees of freedom):
 * for readings averaged in blocks long enough that neighbours are about independent. Needs 3 points.
 */
export function slopeInterval(points: readonly { x: number; y: number }[]): Interval {
  const n = points.length;
  if (n < 3) throw new RangeError(`a slope's interval needs 3 points or more, not ${n}`);
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const slope = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  const residuals = points.reduce((s, p) => s + (p.y - my - slope * (p.x - mx)) ** 2, 0);
  const half = t95(n - 2) * Math.sqrt(residuals / (n - 2) / sxx);
  return { estimate: slope, low: slope - half, high: slope + half };
}

/**
 * A goal judged on an interval: PASS or MISS only when the whole interval is on one side of it, UNSURE
 * when it straddles the goal (more streams would tell).
 */
export function intervalVerdict(
  interval: Interval,
  goal: number,
  direction: "at least" | "at most",
): "PASS" | "MISS" | "UNSURE" {
  const meets = (x: number) => (direction === "at least" ? x >= goal : x <= goal);
  if (meets(interval.low) && meets(interval.high)) return "PASS";
  if (!meets(interval.low) && !meets(interval.high)) return "MISS";
  return "UNSURE";
}
