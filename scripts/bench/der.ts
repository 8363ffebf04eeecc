/**
 * Diarization error rate as NIST md-eval scores it, on a 10 ms grid: (missed speech + false alarm +
 * speaker confusion) / reference speech, with a collar around every reference boundary left unscored
 * and overlapped reference speech scored (a single-speaker hypothesis misses the second voice). The
 * hypothesis labels are mapped to reference speakers one-to-one, the mapping that agrees most.
 */

export interface LabelledTurn {
  start: number;
  end: number;
  label: string;
}

export interface DiarizationError {
  der: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  /** Scored reference speech, seconds. */
  speechSeconds: number;
  /** Hypothesis label -> reference speaker. */
  mapping: Record<string, string>;
}

const STEP = 0.01;

export function diarizationError(
  reference: readonly LabelledTurn[],
  hypothesis: readonly LabelledTurn[],
  collar = 0.25,
): DiarizationError {
  const end = Math.max(...reference.map((r) => r.end), ...hypothesis.map((h) => h.end));
  const boundaries = reference.flatMap((r) => [r.start, r.end]);
  const frames: { ref: Set<string>; hyp: string | null }[] = [];
  for (let t = STEP / 2; t < end; t += STEP) {
    if (boundaries.some((b) => Math.abs(t - b) < collar)) continue;
    const ref = new Set(reference.filter((r) => t >= r.start && t < r.end).map((r) => r.label));
    const hyp = hypothesis.find((h) => t >= h.start && t < h.end)?.label ?? null;
    frames.push({ ref, hyp });
  }
  const refLabels = [...new Set(reference.map((r) => r.label))];
  const hypLabels = [...new Set(hypothesis.map((h) => h.label))];
  const mapping = bestMapping(hypLabels, refLabels, frames);
  let speech = 0;
  let missed = 0;
  let falseAlarm = 0;
  let confusion = 0;
  for (const { ref, hyp } of frames) {
    const nRef = ref.size;
    const nHyp = hyp === null ? 0 : 1;
    const correct = hyp !== null && mapping[hyp] !== undefined && ref.has(mapping[hyp]) ? 1 : 0;
    speech += nRef;
    missed += Math.max(0, nRef - nHyp);
    falseAlarm += Math.max(0, nHyp - nRef);
    confusion += Math.min(nRef, nHyp) - correct;
  }
  return {
    der: (missed + falseAlarm + confusion) / speech,
    missed: missed / speech,
    falseAlarm: falseAlarm / speech,
    confusion: confusion / speech,
    speechSeconds: speech * STEP,
    mapping,
  };
}

/** The one-to-one mapping of hypothesis labels to reference speakers with the most agreeing frames. */
function bestMapping(
  hyp: string[],
  ref: string[],
  frames: { ref: Set<string>; hyp: string | null }[],
): Record<string, string> {
  const agree = new Map<string, number>();
  for (const f of frames) {
    if (f.hyp === null) continue;
    for (const r of f.ref) agree.set(`${f.hyp}\u0000${r}`, (agree.get(`${f.hyp}\u0000${r}`) ?? 0) + 1);
  }
  let best: Record<string, string> = {};
  let bestScore = -1;
  const search = (i: number, used: Set<string>, current: Record<string, string>, score: number) => {
    if (i === hyp.length) {
      if (score > bestScore) {
        bestScore = score;
        best = { ...current };
      }
      return;
    }
    search(i + 1, used, current, score); // this label maps to nobody
    for (const r of ref) {
      if (used.has(r)) continue;
      used.add(r);
      current[hyp[i]] = r;
      search(i + 1, used, current, score + (agree.get(`${hyp[i]}\u0000${r}`) ?? 0));
      delete current[hyp[i]];
      used.delete(r);
    }
  };
  search(0, new Set(), {}, 0);
  return best;
}
