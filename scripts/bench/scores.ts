/** Verification scoring: error rates at a threshold, equal error rate, score distributions. */

export interface ErrorRates {
  threshold: number;
  /** Impostor scores accepted (score >= threshold) / impostor trials. */
  falseAcceptRate: number;
  /** Genuine scores rejected (score < threshold) / genuine trials. */
  falseRejectRate: number;
}

export interface EqualErrorRate extends ErrorRates {
  /** Mean of FAR and FRR at the threshold where they are closest. */
  eer: number;
}

/** Number of values in the ascending `sorted` that are < x. */
function countBelow(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** Accept when score >= threshold, as matchVoiceprint does. */
export function errorRates(
  genuine: readonly number[],
  impostor: readonly number[],
  threshold: number,
): ErrorRates {
  const g = sortedCopy(genuine);
  const i = sortedCopy(impostor);
  return {
    threshold,
    falseRejectRate: countBelow(g, threshold) / g.length,
    falseAcceptRate: (i.length - countBelow(i, threshold)) / i.length,
  };
}

/**
 * Equal error rate: every observed score is tried as a threshold; the one where FAR and FRR are
 * closest wins (the lower threshold on ties) and the EER is their mean there.
 */
export function equalErrorRate(genuine: readonly number[], impostor: readonly number[]): EqualErrorRate {
  if (genuine.length === 0 || impostor.length === 0) {
    throw new RangeError("equalErrorRate needs genuine and impostor scores");
  }
  const g = sortedCopy(genuine);
  const i = sortedCopy(impostor);
  const candidates = sortedCopy([...genuine, ...impostor]);
  let best: EqualErrorRate | null = null;
  for (const t of candidates) {
    const frr = countBelow(g, t) / g.length;
    const far = (i.length - countBelow(i, t)) / i.length;
    if (best === null || Math.abs(far - frr) < Math.abs(best.falseAcceptRate - best.falseRejectRate)) {
      best = { threshold: t, falseAcceptRate: far, falseRejectRate: frr, eer: (far + frr) / 2 };
    }
  }
  return best!;
}

export interface Distribution {
  count: number;
  mean: number;
  min: number;
  max: number;
  /** 1st and 99th percentiles (nearest rank). */
  p01: number;
  p99: number;
}

export function distribution(values: readonly number[]): Distribution {
  const s = sortedCopy(values);
  const rank = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    mean: sum / s.length,
    min: s[0],
    max: s[s.length - 1],
    p01: rank(0.01),
    p99: rank(0.99),
  };
}
