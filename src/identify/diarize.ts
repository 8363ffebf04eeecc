import type { SpeechPipelineOptions } from "../daemon/speech-pipeline.js";
import { SpeechPipeline } from "../daemon/speech-pipeline.js";
import { centroidOf, cosine } from "../registry/matcher.js";
import type { Decision, DecisionReason } from "./decision.js";
import type { TrackedWindow } from "./speaker-tracker.js";
import { clusterVoices, DEFAULT_VOICE_CLUSTERS, type VoiceClusterOptions } from "./voice-clusters.js";

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

export type DiarizeOptions = Omit<SpeechPipelineOptions, "onDecision" | "onWindow"> & {
  voiceClusters?: VoiceClusterOptions;
};

const SAMPLE_RATE = 16_000;
/** Windows per piece clustered (at the 0.2 s hop, 1.6 s of new speech each), for at most MAX_PIECES. */
const PIECE_WINDOWS = 8;
const MAX_PIECES = 600;
/**
 * Re-segmentation: a window's log-odds for a voice is this × its cosine to the voice, and a change of
 * voice costs SWITCH_COST (as the live tracker's evidence scale and switch bar).
 */
const LIKENESS_SCALE = 20;
const SWITCH_COST = 3;

/**
 * Who spoke when in a recording. The daemon's speech path runs over the whole file (VAD, windows, live
 * tracker): enrolled people's turns are kept as it named them. The rest, voices nobody enrolled, is
 * diarized offline from the windows' voiceprints: cut into pieces, grouped into voices (clusterVoices,
 * as many as separate best), and each window given its voice by a Viterbi pass that charges every
 * change, so boundaries fall where the windows turn and two strangers taking turns stay apart.
 */
export async function diarize(samples: Float32Array, options: DiarizeOptions): Promise<DiarizedTurn[]> {
  const { voiceClusters = DEFAULT_VOICE_CLUSTERS, ...pipelineOptions } = options;
  const { turns, windows } = await trackedTurns(samples, pipelineOptions);
  const named = turns.filter((t) => t.speakerId !== null);
  const unknown = turns.filter((t) => t.speakerId === null);
  return [...named, ...diarizeUnknown(unknown, windows, voiceClusters)].sort((a, b) => a.start - b.start);
}

/** The live path over a whole recording: its turns as finally reported (too short ones left out) and its windows. */
export async function trackedTurns(
  samples: Float32Array,
  options: Omit<DiarizeOptions, "voiceClusters">,
): Promise<{ turns: DiarizedTurn[]; windows: TrackedWindow[] }> {
  const decisions: Decision[] = [];
  const windows: TrackedWindow[] = [];
  const pipeline = new SpeechPipeline({
    ...options,
    // Offline: every window is judged; the quiet gate only saves a live daemon's idle CPU.
    quietGate: false,
    idleBatchSamples: 0,
    onDecision: (d) => decisions.push(d),
    onWindow: (w) => windows.push(w),
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
 */
export function diarizeUnknown(
  turns: readonly DiarizedTurn[],
  windows: readonly TrackedWindow[],
  clusterOptions: VoiceClusterOptions,
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
  const total = inTurn.reduce((n, ws) => n + ws.length, 0);
  const size = Math.max(PIECE_WINDOWS, Math.ceil(total / MAX_PIECES));
  const pieces: Float32Array[] = [];
  const pieceWindows: TrackedWindow[][] = [];
  for (const ws of inTurn) {
    for (let i = 0; i < ws.length; ) {
      // A short remainder joins the piece before it.
      const take = ws.length - i < 1.5 * size ? ws.length - i : size;
      const piece = ws.slice(i, i + take);
      pieces.push(centroidOf(piece.map((w) => w.embedding))!);
      pieceWindows.push(piece);
      i += take;
    }
  }
  const voiceOfPiece = clusterVoices(pieces, clusterOptions);
  const voices = Math.max(0, ...voiceOfPiece) + 1;
  const centroids = Array.from(
    { length: voices },
    (_, v) =>
      centroidOf(
        pieceWindows
          .filter((_, p) => voiceOfPiece[p] === v)
          .flat()
          .map((w) => w.embedding),
      )!,
  );
  const out: DiarizedTurn[] = [];
  const firstSeen = new Map<number, number>();
  const label = (voice: number) => {
    if (!firstSeen.has(voice)) firstSeen.set(voice, firstSeen.size + 1);
    return `unknown-${firstSeen.get(voice)}`;
  };
  turns.forEach((turn, t) => {
    const ws = inTurn[t];
    if (ws.length === 0 || voices === 0) {
      out.push({ ...turn, label: label(0) });
      return;
    }
    const path = viterbi(ws, centroids);
    let from = turn.start;
    for (let i = 0; i < ws.length; i++) {
      if (i + 1 < ws.length && path[i + 1] === path[i]) continue;
      // A change falls between the centres of the last window of one voice and the first of the next.
      const to =
        i + 1 < ws.length
          ? (ws[i].start + ws[i].end + ws[i + 1].start + ws[i + 1].end) / 4 / SAMPLE_RATE
          : turn.end;
      out.push({ ...turn, start: from, end: to, label: label(path[i]) });
      from = to;
    }
  });
  return out;
}

/** The voice of each window that best fits their likeness, each change of voice costing SWITCH_COST. */
function viterbi(windows: readonly TrackedWindow[], voices: readonly Float32Array[]): number[] {
  const k = voices.length;
  let score = voices.map((v) => LIKENESS_SCALE * cosine(windows[0].embedding, v));
  const from: number[][] = [];
  for (let i = 1; i < windows.length; i++) {
    const best = Math.max(...score);
    const bestVoice = score.indexOf(best);
    const back = new Array<number>(k);
    score = voices.map((v, s) => {
      const stay = score[s];
      const change = best - SWITCH_COST;
      back[s] = stay >= change ? s : bestVoice;
      return Math.max(stay, change) + LIKENESS_SCALE * cosine(windows[i].embedding, v);
    });
    from.push(back);
  }
  const path = new Array<number>(windows.length);
  path[windows.length - 1] = score.indexOf(Math.max(...score));
  for (let i = windows.length - 1; i > 0; i--) path[i - 1] = from[i - 1][path[i]];
  return path;
}
