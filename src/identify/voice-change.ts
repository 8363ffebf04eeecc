/**
 * How a window's voiceprint compares with the voiceprint of the turn so far, from the turn's windows that
 * do not overlap it (cosine), when the voice is the same and when it is another: normal fits, per encoder,
 * from `npm run calibrate:voice-change` (the odd-numbered half of the shared LibriSpeech speakers, clean
 * and room recordings pooled; the other half is left for bench:diarize).
 */
export interface VoiceChangeModel {
  same: { mean: number; sd: number };
  other: { mean: number; sd: number };
}

const MODELS: Record<string, VoiceChangeModel> = {
  // calibrate:voice-change, clean / room: same 0.812 ± 0.078 / 0.800 ± 0.072; other 0.529 ± 0.079 / 0.601 ± 0.083.
  "resemblyzer-0.1.4": { same: { mean: 0.806, sd: 0.075 }, other: { mean: 0.565, sd: 0.089 } },
  // Not measured (no ECAPA-TDNN weights on the machine that calibrated): Resemblyzer's fits against the
  // whole turn, moved to ECAPA-TDNN's scale (below).
  "ecapa-voxceleb": { same: { mean: 0.45, sd: 0.11 }, other: { mean: -0.13, sd: 0.18 } },
  // calibrate:voice-change --encoder campplus-zh-en, clean / room: same 0.694 ± 0.139 / 0.572 ± 0.141;
  // other 0.080 ± 0.108 / 0.113 ± 0.103.
  "campplus-zh-en": { same: { mean: 0.633, sd: 0.153 }, other: { mean: 0.097, sd: 0.107 } },
};

export function voiceChangeModel(modelId: string): VoiceChangeModel {
  return MODELS[modelId] ?? MODELS["resemblyzer-0.1.4"];
}

/**
 * Where one voice's windows sit against the voiceprint of their whole turn so far (overlapping windows
 * included), and how widely, per encoder: the scale that margins written in Resemblyzer's cosines are
 * moved by. calibrate:voice-change measured these before the voice-change model compared windows only
 * with those they do not overlap (clean / room: Resemblyzer 0.860 ± 0.058 / 0.850 ± 0.051, CAM++ 0.776 ±
 * 0.106 / 0.682 ± 0.114); ECAPA-TDNN's are Resemblyzer's moved to its threshold (0.25 against 0.82) and
 * its cosines' spread, about twice as wide.
 */
const SCALES: Record<string, { mean: number; sd: number }> = {
  "resemblyzer-0.1.4": { mean: 0.855, sd: 0.055 },
  "ecapa-voxceleb": { mean: 0.45, sd: 0.11 },
  "campplus-zh-en": { mean: 0.729, sd: 0.12 },
};

function scaleOf(modelId: string): { mean: number; sd: number } {
  return SCALES[modelId] ?? SCALES["resemblyzer-0.1.4"];
}

/**
 * How much wider than Resemblyzer's an encoder's cosines spread around a voice (its same-voice standard
 * deviation over Resemblyzer's): margins written in Resemblyzer's cosines are this many times wider.
 */
export function cosineSpread(modelId: string): number {
  return scaleOf(modelId).sd / SCALES["resemblyzer-0.1.4"].sd;
}

/**
 * A cosine written for Resemblyzer, moved to another encoder's scale: as far below that encoder's
 * same-voice mean, in its spread, as it is below Resemblyzer's.
 */
export function onEncoderScale(resemblyzerCosine: number, modelId: string): number {
  const resemblyzer = SCALES["resemblyzer-0.1.4"].mean;
  return scaleOf(modelId).mean - (resemblyzer - resemblyzerCosine) * cosineSpread(modelId);
}

/** One window's log-likelihood ratio is held within this: a cough or a door is one odd window, not proof. */
const MAX_WINDOW_EVIDENCE = 4;

/** Log-likelihood ratio (natural log) that a window of this similarity to its turn is another voice. */
export function voiceChangeEvidence(similarity: number, model: VoiceChangeModel): number {
  const logNormal = (x: number, { mean, sd }: { mean: number; sd: number }) =>
    -0.5 * ((x - mean) / sd) ** 2 - Math.log(sd);
  const llr = logNormal(similarity, model.other) - logNormal(similarity, model.same);
  return Math.max(-MAX_WINDOW_EVIDENCE, Math.min(MAX_WINDOW_EVIDENCE, llr));
}

/** A window's voiceprint at its stream extent (samples). */
export interface PlacedWindow {
  start: number;
  end: number;
  embedding: Float32Array;
}

/** A stretch of the stream without speech: [start, end) samples. */
export interface Silence {
  start: number;
  end: number;
}

/** Where a change of voice is placed: the old voice's speech ends at `end`, the new one's starts at `start`. */
export interface ChangePoint {
  end: number;
  start: number;
  /** The estimate landed on a pause the VAD saw (the boundary is the pause). */
  snapped: boolean;
}

/** Candidate boundaries are tried this far apart (samples): the VAD's window, 32 ms. */
const STEP = 512;

/**
 * Places a change of voice among `windows` (in stream order, overlapping): the point where the windows'
 * likeness turns from the old voice to the new one. `likeness(w)` is how much more a window is like the
 * new voice than the old; it grows linearly with the share of the window's speech after the change
 * (measured by calibrate:voice-change), so the change is the point whose shares fit it best (least
 * squares). Pauses the VAD saw within `snap.reach` samples of speech of that
 * point are better places: the one that fits the windows best is taken, each pause's fit error lessened by
 * `snap.lengthWeight` times the log of its length in VAD windows (a voice hands over to another in a
 * pause more often than in a stop of a few tens of milliseconds inside a word); none that ends before
 * `range.from` (the change would lie outside its range). `gaps` are the silences
 * between VAD segments, which the windows skip (their speech is joined).
 */
export function placeChange(
  windows: readonly PlacedWindow[],
  likeness: (w: PlacedWindow) => number,
  silences: { gaps: readonly Silence[]; pauses: readonly Silence[] },
  range: { from: number; to: number },
  snap: { reach: number; lengthWeight: number },
): ChangePoint {
  const shares = new Float64Array(windows.length);
  const y = windows.map(likeness);
  const fitError = (at: number) => {
    windows.forEach((w, i) => {
      shares[i] = shareAfter(w, at, silences.gaps);
    });
    return linearFitError(shares, y);
  };
  let best = range.from;
  let bestError = Number.POSITIVE_INFINITY;
  for (let b = range.from; b <= range.to; b += STEP) {
    const error = fitError(b);
    if (error < bestError) {
      bestError = error;
      best = b;
    }
  }
  let pause: Silence | null = null;
  let pauseError = Number.POSITIVE_INFINITY;
  for (const s of [...silences.gaps, ...silences.pauses]) {
    if (s.end < range.from || speechDistance(best, s, silences.gaps) > snap.reach) continue;
    const error =
      fitError(Math.round((s.start + s.end) / 2)) -
      snap.lengthWeight * Math.log(Math.max(1, (s.end - s.start) / STEP));
    if (error < pauseError) {
      pause = s;
      pauseError = error;
    }
  }
  return pause
    ? { end: pause.start, start: pause.end, snapped: true }
    : { end: best, start: best, snapped: false };
}

/** Speech (samples) in [from, to): the gaps between VAD segments are not speech. */
function speechBetween(from: number, to: number, gaps: readonly Silence[]): number {
  let n = to - from;
  for (const g of gaps) n -= Math.max(0, Math.min(to, g.end) - Math.max(from, g.start));
  return Math.max(0, n);
}

/** Speech (samples) between `at` and the silence `s` (0 inside it). */
function speechDistance(at: number, s: Silence, gaps: readonly Silence[]): number {
  return at < s.start ? speechBetween(at, s.start, gaps) : at > s.end ? speechBetween(s.end, at, gaps) : 0;
}

/** The share of a window's speech after `at`. */
function shareAfter(w: PlacedWindow, at: number, gaps: readonly Silence[]): number {
  if (at <= w.start) return 1;
  if (at >= w.end) return 0;
  const total = speechBetween(w.start, w.end, gaps);
  return total > 0 ? speechBetween(at, w.end, gaps) / total : 0;
}

/**
 * Residual sum of squares of y ≈ b·(x − ½) with b ≥ 0: a window half of either voice is as like one as
 * the other (calibrate:voice-change measured the crossing at a share of 0.50 clean, 0.53 in the room),
 * and the new voice's likeness grows with its share. A fit that needs b < 0 is scored as none.
 */
function linearFitError(x: Float64Array, y: readonly number[]): number {
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < y.length; i++) {
    const centred = x[i] - 0.5;
    sxx += centred * centred;
    sxy += centred * y[i];
    syy += y[i] * y[i];
  }
  if (sxx === 0 || sxy <= 0) return syy;
  return syy - (sxy * sxy) / sxx;
}
