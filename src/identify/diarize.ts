import type { SpeechPipelineOptions } from "../daemon/speech-pipeline.js";
import { SpeechPipeline } from "../daemon/speech-pipeline.js";
import { centroidOf, cosine } from "../registry/matcher.js";
import type { Decision, DecisionReason } from "./decision.js";
import type { TrackedWindow } from "./speaker-tracker.js";
import { cosineSpread, onEncoderScale } from "./voice-change.js";
import { clusterVoices } from "./voice-clusters.js";

/** One stretch of the timeline: who spoke from `start` to `end` (seconds). */
export interface DiarizedTurn {
  start: number;
  end: number;
  /** An enrolled person's id, or "unknown-1", "unknown-2", ... for voices nobody enrolled. */
  label: string;
  /** The enrolled person's display name, or null. */
  speaker: string | null;
  speakerId: string | null;
  /** Why nobody was named (null when named). */
  reason: DecisionReason | null;
  score: number | null;
}

export type DiarizeOptions = Omit<SpeechPipelineOptions, "onDecision" | "onTrackerInput"> & {
  voiceSeparation?: VoiceSeparationOptions;
};

/** When the voices found in the windows are one voice (cosines on the running encoder's scale). */
export interface VoiceSeparationOptions {
  /** Two voices whose clean windows' voiceprints are at least this alike (cosine) are one voice. */
  mergeSimilarity: number;
  /**
   * A voice needs this many clean windows (0.2 s of new speech each) to be judged by them alone; a smaller
   * one (a cough, windows straddling a change, or someone whose turns are all short) joins the voice it is
   * most like, unless it has `minWindows` in all and is less than `joinSimilarity` like every voice.
   */
  minCleanWindows: number;
  /**
   * Which windows are clean: "no-overlap", those no window of another voice overlaps; "no-change", those
   * no change of voice falls inside (a change lies between the centres of the windows either side, where
   * diarizeUnknown reports it). "no-overlap" asks a window's length more of one voice around each, and a
   * quick exchange's voice can keep or lose its few clean windows on a 0.05 s shift of where the VAD starts.
   */
  clean: "no-overlap" | "no-change";
  /** A voice with fewer windows than this in all (2 s: a cough, a door) joins its nearest, however unlike. */
  minWindows: number;
  /**
   * Below this likeness to every other voice, a voice of short turns is someone else, not a stray piece of
   * one. 0.65 (CAM++ 0.28) is where its calibration streams (bench:diarize's, tracked once and regrouped)
   * found the right number of voices most often: room 27 of 36 from 0.28 to 0.30 on CAM++'s scale, 26 at
   * 0.25 and 0.31-0.33 (and when every such voice was joined), 24 at 0.40; dry 32 of 36 throughout. Strays
   * straddling a change sit 0.5 or more from a neighbour; a reader whose turns were all 2 s had been
   * joined to a voice 0.21 like it.
   */
  joinSimilarity: number;
  /**
   * The first grouping of the pieces splits generously (average linkage at this, where two pieces of one
   * LibriSpeech reader often part): the voices are then merged by their clean windows, which pieces
   * straddling a change of voice no longer blur.
   */
  firstGrouping: number;
  /**
   * Re-segmentation: a window's log-odds for a voice is this × its cosine to the voice, and a change of
   * voice costs SWITCH_COST (as the live tracker's evidence scale and switch bar).
   */
  likenessScale: number;
  /**
   * A recording's two closest voices are one voice, though less alike than `mergeSimilarity`, when they
   * are at least `similarity` alike and by `margin` more alike than any other two voices there (three
   * voices or more). In a room one reader's voice splits at 0.50-0.59 (CAM++) where different people in
   * the same streams are at most 0.40 alike, yet a two-person conversation's pair is 0.55 alike: no one
   * cut serves both, but the split pair stands out from the rest of its recording. null: not calibrated
   * for the encoder (off).
   */
  closestPair: { similarity: number; margin: number } | null;
}

/**
 * Chosen by `npm run bench:diarize -- --calibrate` on streams of 1 to 5 of the LibriSpeech speakers left
 * out of the test streams (dry and room): the merge similarity that keeps voices apart longest while
 * still finding the right number of voices in at least 80 % of those streams (0.84: 83 %; 0.86: 67 %).
 * Splitting one voice in two is the cheaper mistake: naming both parts joins them, while two people
 * merged into one voice cannot be told apart later.
 */
export const DEFAULT_VOICE_SEPARATION: VoiceSeparationOptions = {
  mergeSimilarity: 0.84,
  minCleanWindows: 10,
  minWindows: 10,
  clean: "no-overlap",
  joinSimilarity: 0.65,
  firstGrouping: 0.8,
  likenessScale: 20,
  closestPair: null,
};

/**
 * Per encoder: Resemblyzer's settings above, moved to the encoder's scale (onEncoderScale; the likeness
 * over its spread), with the merge similarity `bench:diarize -- --calibrate --encoder ID` chose where it
 * was measured (the highest with the right number of voices in 80 % of each kind's calibration streams,
 * or, where none reaches that, the most in its worse kind). CAM++ (36 streams per kind): none reaches
 * 80 % in the room, where its voices are far less alike to themselves than dry; with voices of short
 * turns kept apart (joinSimilarity), 0.565 finds the right number in 78 % of room streams, 0.609 in 75 %,
 * 0.653 in 58 %; dry 89 % for all three. The shared conversation's two people are 0.546 alike on CAM++:
 * below that they would be one voice.
 */
const MERGE_SIMILARITY: Record<string, number> = {
  "resemblyzer-0.1.4": DEFAULT_VOICE_SEPARATION.mergeSimilarity,
  "campplus-zh-en": 0.565,
};

/**
 * `closestPair` where `bench:diarize -- --calibrate --encoder ID` chose it: the most calibration streams
 * right over both kinds (of equals the lowest DER). CAM++ (36 streams per kind, at the merge and join
 * similarities above): 0.369 / 0.153 finds the right number in 83 % of room streams and 89 % of dry ones,
 * against 78 % and 89 % without; 0.35-0.43 with margins of 0.11-0.18 find 78-83 % in the room. Not
 * calibrated for Resemblyzer (off).
 */
const CLOSEST_PAIR: Record<string, VoiceSeparationOptions["closestPair"]> = {
  "campplus-zh-en": { similarity: 0.369, margin: 0.153 },
};

/**
 * Clean windows by "no-change" where `bench:diarize`'s calibration streams, tracked once and regrouped,
 * find as many right with it. CAM++ (36 per kind): 18 clean windows (a stretch of 5.2 s, as 10 asked by
 * "no-overlap") find the right number in 32 dry and 30 room streams as "no-overlap" does (DER 7.9 / 13.2 %
 * against 7.9 / 12.9 %; 16: room 29, 20: room 27), and the shared conversation two voices at every
 * pre-roll from 100 to 400 ms in steps of 50 (against 3 of those 7). Resemblyzer keeps "no-overlap": with
 * "no-change" and 18 its test streams were worse (room right 69 -> 64 %) and the conversation one voice.
 */
const CLEAN_WINDOWS: Record<string, Pick<VoiceSeparationOptions, "clean" | "minCleanWindows">> = {
  "campplus-zh-en": { clean: "no-change", minCleanWindows: 18 },
};

export function voiceSeparationFor(modelId: string): VoiceSeparationOptions {
  const d = DEFAULT_VOICE_SEPARATION;
  const { clean, minCleanWindows } = CLEAN_WINDOWS[modelId] ?? d;
  return {
    mergeSimilarity: MERGE_SIMILARITY[modelId] ?? onEncoderScale(d.mergeSimilarity, modelId),
    minCleanWindows,
    minWindows: d.minWindows,
    clean,
    joinSimilarity: onEncoderScale(d.joinSimilarity, modelId),
    firstGrouping: onEncoderScale(d.firstGrouping, modelId),
    likenessScale: d.likenessScale / cosineSpread(modelId),
    closestPair: CLOSEST_PAIR[modelId] ?? null,
  };
}

const SAMPLE_RATE = 16_000;
/** Windows per piece first grouped (at the 0.2 s hop, 0.8 s of new speech each), for at most MAX_PIECES. */
const PIECE_WINDOWS = 4;
const MAX_PIECES = 600;
/** Re-assignments without a merge before the voices are taken as settled (one that changes nothing ends it sooner). */
const MAX_REFINEMENTS = 10;
/** What a change of voice costs in the re-segmentation (the live tracker's switch bar). */
const SWITCH_COST = 3;

/**
 * Who spoke when in a recording. The daemon's speech path runs over the whole file (VAD, windows, live
 * tracker): enrolled people's turns are kept as it named them. The rest, voices nobody enrolled, is
 * diarized offline from the windows' voiceprints (diarizeUnknown): voices found, and each window given
 * its voice by a Viterbi pass that charges every change, so boundaries fall where the windows turn and
 * two strangers taking turns stay apart.
 */
export async function diarize(samples: Float32Array, options: DiarizeOptions): Promise<DiarizedTurn[]> {
  const { voiceSeparation = voiceSeparationFor(options.encoder.modelId), ...pipelineOptions } = options;
  return regrouped(await trackedTurns(samples, pipelineOptions), voiceSeparation);
}

/** The live path's turns as diarize reports them: those it named kept, the rest diarized (diarizeUnknown). */
export function regrouped(
  { turns, windows }: { turns: readonly DiarizedTurn[]; windows: readonly TrackedWindow[] },
  voiceSeparation: VoiceSeparationOptions,
): DiarizedTurn[] {
  const named = turns.filter((t) => t.speakerId !== null);
  const unknown = turns.filter((t) => t.speakerId === null);
  return [...named, ...diarizeUnknown(unknown, windows, voiceSeparation)].sort((a, b) => a.start - b.start);
}

/** The live path over a whole recording: its turns as finally reported (too short ones left out) and its windows. */
export async function trackedTurns(
  samples: Float32Array,
  options: Omit<DiarizeOptions, "voiceSeparation">,
): Promise<{ turns: DiarizedTurn[]; windows: TrackedWindow[] }> {
  const decisions: Decision[] = [];
  const windows: TrackedWindow[] = [];
  const pipeline = new SpeechPipeline({
    ...options,
    // Offline: every window is judged; the quiet gate only saves a live daemon's idle CPU.
    quietGate: false,
    idleBatchSamples: 0,
    onDecision: (d) => decisions.push(d),
    onTrackerInput: (input) => {
      if (input.type === "window") windows.push(input.window);
    },
  });
  await pipeline.start();
  const chunk = 16_384;
  for (let i = 0; i < samples.length; i += chunk) await pipeline.accept(samples.subarray(i, i + chunk));
  await pipeline.stop();
  const turns: DiarizedTurn[] = decisions
    .filter((d) => d.type === "stopped" && d.reason !== "too_short")
    .map((d) => ({
      start: d.startS,
      end: d.startS + d.durationS,
      label: d.speakerId ?? "",
      speaker: d.speaker,
      speakerId: d.speakerId,
      reason: d.reason,
      score: d.score,
    }));
  return { turns, windows };
}

/**
 * The turns nobody was named in (in stream order), split and labelled by voice (unknown-1, unknown-2, … by first
 * appearance), from the windows' voiceprints. Pure.
 *
 * Pieces of a few windows are grouped generously, then each window gets its voice by a Viterbi pass, and
 * the voices are compared by their clean windows only (`clean` says which; none straddles a change): two
 * voices alike by `mergeSimilarity` become one, a voice with fewer than `minCleanWindows` clean windows
 * joins its nearest (unless it is less than `joinSimilarity` like every voice and has `minWindows` in
 * all), and the pass runs again, until nothing changes. Windows that straddle a change
 * of voice (in a quick exchange, most of them) would otherwise pull two close voices together.
 */
export function diarizeUnknown(
  turns: readonly DiarizedTurn[],
  windows: readonly TrackedWindow[],
  options: VoiceSeparationOptions,
): DiarizedTurn[] {
  // Each turn's windows (by their centre), in one pass: turns and windows are both in stream order.
  const inTurn = turns.map((): TrackedWindow[] => []);
  let current = 0;
  for (const w of windows) {
    const centre = (w.start + w.end) / 2 / SAMPLE_RATE;
    while (current < turns.length && centre >= turns[current].end) current++;
    if (current === turns.length) break;
    if (centre >= turns[current].start) inTurn[current].push(w);
  }
  const label = byFirstAppearance();
  const voices = separateVoices(inTurn, options);
  if (voices.length === 0) return turns.map((turn) => ({ ...turn, label: label(0) }));
  const out: DiarizedTurn[] = [];
  turns.forEach((turn, t) => {
    const ws = inTurn[t];
    if (ws.length === 0) {
      out.push({ ...turn, label: label(0) });
      return;
    }
    const path = viterbi(ws, voices, options.likenessScale);
    let from = turn.start;
    for (let i = 0; i < ws.length; i++) {
      if (i + 1 < ws.length && path[i + 1] === path[i]) continue;
      const to = i + 1 < ws.length ? changeBetween(ws[i], ws[i + 1]) / SAMPLE_RATE : turn.end;
      out.push({ ...turn, start: from, end: to, label: label(path[i]) });
      from = to;
    }
  });
  return out;
}

/** Where the voice changes between two windows given different voices: between their centres (samples). */
function changeBetween(last: TrackedWindow, next: TrackedWindow): number {
  return (last.start + last.end + next.start + next.end) / 4;
}

/** Labels unknown-1, unknown-2, … for voice numbers, in the order they are first asked for. */
function byFirstAppearance(): (voice: number) => string {
  const seen = new Map<number, number>();
  return (voice) => {
    if (!seen.has(voice)) seen.set(voice, seen.size + 1);
    return `unknown-${seen.get(voice)}`;
  };
}

/** The voiceprints of the voices in the turns' windows (none when there are no windows). */
function separateVoices(inTurn: readonly TrackedWindow[][], options: VoiceSeparationOptions): Float32Array[] {
  const total = inTurn.reduce((n, ws) => n + ws.length, 0);
  if (total === 0) return [];
  const size = Math.max(PIECE_WINDOWS, Math.ceil(total / MAX_PIECES));
  const pieces: TrackedWindow[][] = [];
  for (const ws of inTurn) {
    for (let i = 0; i < ws.length; ) {
      // A short remainder joins the piece before it.
      const take = ws.length - i < 1.5 * size ? ws.length - i : size;
      pieces.push(ws.slice(i, i + take));
      i += take;
    }
  }
  const voiceOfPiece = clusterVoices(
    pieces.map((p) => centroidOf(p.map((w) => w.embedding))!),
    { minSimilarity: options.firstGrouping, minMembers: 2 },
  );
  let voices = Array.from(
    { length: Math.max(...voiceOfPiece) + 1 },
    (_, v) =>
      centroidOf(
        pieces
          .filter((_, p) => voiceOfPiece[p] === v)
          .flat()
          .map((w) => w.embedding),
      )!,
  );
  let refinements = 0;
  let previous = "";
  while (voices.length > 1 && refinements < MAX_REFINEMENTS) {
    const paths = inTurn.map((ws) => (ws.length > 0 ? viterbi(ws, voices, options.likenessScale) : []));
    const clean = cleanWindows(inTurn, paths, voices.length, options.clean);
    const prints = clean.map((ws, v) => centroidOf(ws.map((w) => w.embedding)) ?? voices[v]);
    const windowsOf = voices.map(() => 0);
    for (const path of paths) for (const v of path) windowsOf[v]++;
    const merge = voicesToMerge(prints, clean, windowsOf, options);
    if (merge) {
      const [keep, drop] = merge;
      const joined = centroidOf([...clean[keep], ...clean[drop]].map((w) => w.embedding)) ?? prints[keep];
      voices = prints.flatMap((p, v) => (v === drop ? [] : [v === keep ? joined : p]));
      refinements = 0;
      previous = "";
      continue;
    }
    const assignment = paths.map((p) => p.join(",")).join(";");
    if (assignment === previous) break;
    previous = assignment;
    voices = prints;
    refinements++;
  }
  return voices;
}

/** Per voice, the windows given to it that are clean (VoiceSeparationOptions.clean says which). */
function cleanWindows(
  inTurn: readonly TrackedWindow[][],
  paths: readonly number[][],
  voices: number,
  by: VoiceSeparationOptions["clean"],
): TrackedWindow[][] {
  const clean = Array.from({ length: voices }, (): TrackedWindow[] => []);
  inTurn.forEach((ws, t) => {
    const path = paths[t];
    const isClean = by === "no-change" ? noChangeInside(ws, path) : noOtherVoiceOverlaps(ws, path);
    ws.forEach((w, i) => {
      if (isClean(w, i)) clean[path[i]].push(w);
    });
  });
  return clean;
}

function noOtherVoiceOverlaps(ws: readonly TrackedWindow[], path: readonly number[]) {
  return (w: TrackedWindow, i: number): boolean => {
    for (let j = i - 1; j >= 0 && ws[j].end > w.start; j--) if (path[j] !== path[i]) return false;
    for (let j = i + 1; j < ws.length && ws[j].start < w.end; j++) if (path[j] !== path[i]) return false;
    return true;
  };
}

function noChangeInside(ws: readonly TrackedWindow[], path: readonly number[]) {
  const changes: number[] = [];
  for (let i = 0; i + 1 < ws.length; i++) {
    if (path[i] !== path[i + 1]) changes.push(changeBetween(ws[i], ws[i + 1]));
  }
  return (w: TrackedWindow): boolean => !changes.some((c) => c > w.start && c < w.end);
}

/**
 * The next two voices to make one, [kept, joined], or null: a voice with fewer than minCleanWindows clean
 * windows, smallest first, into the one it is most like (unless it is someone else: minWindows in
 * all, and less than joinSimilarity like every voice); else the most alike pair at mergeSimilarity or more,
 * or standing out from the rest as closestPair says.
 */
function voicesToMerge(
  prints: readonly Float32Array[],
  clean: readonly TrackedWindow[][],
  windowsOf: readonly number[],
  options: VoiceSeparationOptions,
): [number, number] | null {
  const small = prints
    .map((_, v) => v)
    .filter((v) => clean[v].length < options.minCleanWindows)
    .sort((a, b) => clean[a].length - clean[b].length);
  for (const v of small) {
    let nearest = -1;
    let nearestSimilarity = Number.NEGATIVE_INFINITY;
    for (let u = 0; u < prints.length; u++) {
      const similarity = u === v ? Number.NEGATIVE_INFINITY : cosine(prints[u], prints[v]);
      if (similarity > nearestSimilarity) [nearest, nearestSimilarity] = [u, similarity];
    }
    if (nearestSimilarity >= options.joinSimilarity || windowsOf[v] < options.minWindows) return [nearest, v];
  }
  // The pairs, most alike first: the closest merges at mergeSimilarity, or when it stands out from the
  // next closest as closestPair says (three voices or more).
  const pairs: { similarity: number; pair: [number, number] }[] = [];
  for (let a = 0; a < prints.length; a++) {
    for (let b = a + 1; b < prints.length; b++)
      pairs.push({ similarity: cosine(prints[a], prints[b]), pair: [a, b] });
  }
  pairs.sort((x, y) => y.similarity - x.similarity);
  const [closest, next] = pairs;
  if (!closest) return null;
  if (closest.similarity >= options.mergeSimilarity) return closest.pair;
  const { closestPair } = options;
  return closestPair &&
    next &&
    closest.similarity >= closestPair.similarity &&
    closest.similarity - next.similarity >= closestPair.margin
    ? closest.pair
    : null;
}

/** The voice of each window that best fits their likeness, each change of voice costing SWITCH_COST. */
function viterbi(
  windows: readonly TrackedWindow[],
  voices: readonly Float32Array[],
  likenessScale: number,
): number[] {
  const k = voices.length;
  let score = voices.map((v) => likenessScale * cosine(windows[0].embedding, v));
  const from: number[][] = [];
  for (let i = 1; i < windows.length; i++) {
    const best = Math.max(...score);
    const bestVoice = score.indexOf(best);
    const back = new Array<number>(k);
    score = voices.map((v, s) => {
      const stay = score[s];
      const change = best - SWITCH_COST;
      back[s] = stay >= change ? s : bestVoice;
      return Math.max(stay, change) + likenessScale * cosine(windows[i].embedding, v);
    });
    from.push(back);
  }
  const path = new Array<number>(windows.length);
  path[windows.length - 1] = score.indexOf(Math.max(...score));
  for (let i = windows.length - 1; i > 0; i--) path[i - 1] = from[i - 1][path[i]];
  return path;
}
