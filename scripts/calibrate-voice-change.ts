/**
 * `npm run calibrate:voice-change`: what the speaker tracker's voice-change model rests on, measured on
 * the odd-numbered half of the shared LibriSpeech speakers (the even half is bench:diarize's), clean and
 * through the room microphone, with the encoder's 1.6 s windows every 0.2 s:
 * - how a window compares with the voiceprint of its turn so far, from the windows that do not overlap
 *   it (cosine), when the voice is the same and when it is another: the normal fits in
 *   src/identify/voice-change.ts;
 * - how a window's likeness (to the new voice minus to the old) grows with its share of the new voice:
 *   linear, half-way at a share of one half, which is what placeChange fits;
 * - how far from the true change placeChange puts it when the change is placed 1.2 s after it (the
 *   latest window still half the old voice) or 2 s after (a window wholly the new voice exists), and
 *   what placing costs;
 * - what naming a turn by its voiceprint (the mean of its windows) risks with its length of speech: each
 *   speaker enrolled on the first half of their file in a household of 10 (themselves and 9 others), their
 *   turns cut from the second half (named right: their score is the best, reaches the threshold, and beats
 *   the runner-up by the tracker's margin), and the same turns against 10 others as a visitor (named
 *   wrongly). At the encoder's threshold (Resemblyzer 0.82) and around it: the table shows what moving it
 *   with the length would do.
 * `--encoder ID` measures another encoder (default Resemblyzer).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { normalizeVolume } from "../src/audio/volume.js";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { ENCODER_IDS, isEncoderId } from "../src/embedding/encoder.js";
import { defaultThresholdOf } from "../src/embedding/encoder-models.js";
import { ModelStack } from "../src/embedding/stack.js";
import { DEFAULT_TRACKER_OPTIONS } from "../src/identify/speaker-tracker.js";
import { type PlacedWindow, placeChange } from "../src/identify/voice-change.js";
import { centroidOf, cosine } from "../src/registry/matcher.js";
import { sharedAudio } from "../test/helpers/paths.js";
import { percentile } from "./bench/live.js";
import { mulberry32 } from "./bench/prng.js";
import {
  BenchSetupError,
  librispeechFiles,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { fixed, formatTable, heading, pct } from "./bench/table.js";
import { AUDIO_DIRS, type Audio, SAMPLE_RATE } from "./bench/turn-streams.js";

const USAGE = `usage: npm run calibrate:voice-change [-- --encoder ID]  (${ENCODER_IDS.join(", ")})`;
const HOP = 0.2 * SAMPLE_RATE;
/** Turns of this many windows (1.6 s of speech, then 0.2 s more per window). */
const TURN_WINDOWS = [1, 2, 3, 5, 8, 13];
/** Naming thresholds tried: the encoder's default and around it. */
const NAMING_OFFSETS = [-0.06, -0.04, -0.02, 0, 0.02, 0.04];
const HOUSEHOLD = 10;

/** Named: the best of `scores` (speaker index, cosine) reaches `threshold` and beats the runner-up by the margin. */
function named(scores: [number, number][], threshold: number): number | null {
  const [best, second] = [...scores].sort((x, y) => y[1] - x[1]);
  return best[1] >= threshold && best[1] - second[1] >= DEFAULT_TRACKER_OPTIONS.minMargin ? best[0] : null;
}

const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
const sd = (x: number[]) => Math.sqrt(mean(x.map((v) => (v - mean(x)) ** 2)));

async function main(): Promise<number> {
  const v = parseBenchArgs({ encoder: { type: "string" } }, USAGE);
  if (!v) return 0;
  const encoderId = v.encoder ?? ENCODER_IDS[0];
  if (!isEncoderId(encoderId)) throw new BenchSetupError(`unknown encoder "${encoderId}"\n${USAGE}`);
  const thresholds = NAMING_OFFSETS.map((o) => Math.round((defaultThresholdOf(encoderId) + o) * 100) / 100);
  const models = requireModels();
  const stack = new ModelStack({ modelsDir: models.modelsDir, encoder: encoderId });
  await stack.start();
  try {
    const encoder = stack.encoder;
    const windowLength = encoder.windowSamples;
    const windowsOf = async (samples: Float32Array): Promise<PlacedWindow[]> => {
      const extents: [number, number][] = [];
      for (let end = windowLength; end <= samples.length; end += HOP) extents.push([end - windowLength, end]);
      const embeddings = await encoder.embedWindows(
        extents.map(([s, e]) => normalizeVolume(samples.slice(s, e), -30, { increaseOnly: true })),
      );
      return extents.map(([start, end], i) => ({ start, end, embedding: embeddings[i] }));
    };
    const files = librispeechFiles().filter((_, i) => i % 2 === 1);
    const fits: (string | null)[][] = [];
    const shares: (string | null)[][] = [];
    const placements: (string | null)[][] = [];
    const placingMs: number[] = [];
    const naming: (string | null)[][] = [];
    for (const kind of ["dry", "room"] as Audio[]) {
      progress(`${kind}: windows of ${files.length} speakers`);
      const read = (file: string) =>
        readWavAs16kMono(readFileSync(path.join(sharedAudio, AUDIO_DIRS[kind], file)));
      const audio = files.map((f) => read(f.file));
      const windows = await Promise.all(audio.map((a) => windowsOf(a)));
      // Each window against the voiceprint of the turn so far, from the windows that do not overlap it
      // (as the tracker compares them): its own speaker's, and another's.
      const random = mulberry32(7);
      const same: number[] = [];
      const other: number[] = [];
      windows.forEach((own, a) => {
        for (let i = 3; i < own.length; i++) {
          const before = own.slice(0, i).filter((w) => w.end <= own[i].start);
          if (before.length === 0) continue;
          const turn = centroidOf(before.map((w) => w.embedding))!;
          same.push(cosine(own[i].embedding, turn));
          const b = windows[(a + 1 + Math.floor(random() * (windows.length - 1))) % windows.length];
          other.push(cosine(b[Math.floor(random() * b.length)].embedding, turn));
        }
      });
      fits.push([
        kind,
        fixed(mean(same)),
        fixed(sd(same)),
        fixed(mean(other)),
        fixed(sd(other)),
        String(same.length),
      ]);
      // Changes of voice: 5 s of one speaker straight into 5 s of the next.
      const byShare = new Map<number, number[]>();
      const errors: Record<string, number[]> = { "1.2": [], "2.0": [] };
      for (let a = 0; a + 1 < audio.length; a += 2) {
        // Files shorter than 5 s (one is 2 s) are left out.
        if (audio[a].length < 5 * SAMPLE_RATE || audio[a + 1].length < 5 * SAMPLE_RATE) continue;
        const first = audio[a].subarray(0, 5 * SAMPLE_RATE);
        const second = audio[a + 1].subarray(0, 5 * SAMPLE_RATE);
        const joined = new Float32Array(first.length + second.length);
        joined.set(first);
        joined.set(second, first.length);
        const change = first.length;
        const ws = await windowsOf(joined);
        const oldVoice = centroidOf(
          ws.filter((w) => w.end <= change - 0.5 * SAMPLE_RATE).map((w) => w.embedding),
        )!;
        const newVoice = centroidOf(
          ws.filter((w) => w.start >= change + 0.5 * SAMPLE_RATE).map((w) => w.embedding),
        )!;
        for (const w of ws) {
          const share = Math.min(1, Math.max(0, (w.end - change) / windowLength));
          if (share === 0 || share === 1) continue;
          const key = Math.round(share * 8) / 8;
          byShare.set(key, [
            ...(byShare.get(key) ?? []),
            cosine(w.embedding, newVoice) - cosine(w.embedding, oldVoice),
          ]);
        }
        // As the tracker places it: the old voice from the windows before the rise (0.8 s before the
        // change), the new voice from the latest window.
        for (const after of ["1.2", "2.0"]) {
          const now = change + Number(after) * SAMPLE_RATE;
          const since = change - 0.8 * SAMPLE_RATE;
          const recent = ws.filter((w) => w.end <= now && w.end > now - 4 * SAMPLE_RATE);
          const old =
            centroidOf(recent.filter((w) => w.end <= since).map((w) => w.embedding)) ?? recent[0].embedding;
          const latest = recent.at(-1)!.embedding;
          const started = performance.now();
          const placed = placeChange(
            recent,
            (w) => cosine(w.embedding, latest) - cosine(w.embedding, old),
            { gaps: [], pauses: [] },
            { from: recent[0].start, to: now },
            { reach: 0, lengthWeight: 0 },
          );
          placingMs.push(performance.now() - started);
          errors[after].push(Math.abs(placed.start - change) / SAMPLE_RATE);
        }
      }
      naming.push(
        ...(await namingRisk(kind, audio, windows, thresholds, (a) => stack.extractor.fromSamples(a))),
      );
      shares.push([kind, ...[...byShare].sort((x, y) => x[0] - y[0]).map(([, d]) => fixed(mean(d)))]);
      for (const after of ["1.2", "2.0"]) {
        placements.push([
          `${kind}, placed ${after} s after`,
          fixed(percentile(errors[after], 0.5) ?? null, 2),
          fixed(percentile(errors[after], 0.9) ?? null, 2),
        ]);
      }
    }
    console.log(heading(`${encoderId}: a window against its turn's voiceprint (cosine)`));
    console.log(formatTable(["recording", "same: mean", "sd", "another: mean", "sd", "windows"], fits));
    console.log(heading("likeness to the new voice minus the old, by the window's share of the new voice"));
    console.log(formatTable(["recording", ...[1, 2, 3, 4, 5, 6, 7].map((k) => `${k}/8`)], shares));
    console.log(heading("placeChange's error at a change without a pause (seconds)"));
    console.log(formatTable(["recording", "p50", "p90"], placements));
    console.log(
      heading("naming a turn by its length of speech: named right / named as someone else, by threshold"),
    );
    console.log(
      formatTable(["recording", "speech", "turns", ...thresholds.map((t) => `at ${t.toFixed(2)}`)], naming),
    );
    console.log(
      `placing a change (4 s of windows, 32 ms steps) takes ${fixed(percentile(placingMs, 0.5) ?? null, 2)} ms ` +
        `(p50), ${fixed(percentile(placingMs, 0.95) ?? null, 2)} ms (p95) of CPU, once per change of voice`,
    );
    return 0;
  } finally {
    await stack.stop();
  }
}

/**
 * Per turn length: named right (a member's turn) and named as someone else (a visitor's turn) at each
 * threshold, as "right % / wrong %" cells.
 */
async function namingRisk(
  kind: Audio,
  audio: Float32Array[],
  windows: PlacedWindow[][],
  thresholds: number[],
  enrol: (samples: Float32Array) => Promise<{ embedding: Float32Array }>,
): Promise<(string | null)[][]> {
  const enrolled: Float32Array[] = [];
  for (const a of audio) enrolled.push((await enrol(a.subarray(0, a.length >> 1))).embedding);
  const random = mulberry32(5);
  const rows: (string | null)[][] = [];
  const households = audio.map((_, a) => {
    const others: number[] = [];
    while (others.length < HOUSEHOLD) {
      const b = Math.floor(random() * audio.length);
      if (b !== a && !others.includes(b)) others.push(b);
    }
    return others;
  });
  // Turns are cut from the second half of each file (the first is the enrolment).
  const heard = windows.map((own, speaker) => own.filter((w) => w.start >= audio[speaker].length >> 1));
  for (const k of TURN_WINDOWS) {
    const right = new Array<number>(thresholds.length).fill(0);
    const wrong = new Array<number>(thresholds.length).fill(0);
    let turns = 0;
    heard.forEach((second, speaker) => {
      // Turns three windows apart: overlapping, but each a different stretch of speech.
      for (let s = 0; s + k <= second.length; s += 3) {
        const voiceprint = centroidOf(second.slice(s, s + k).map((w) => w.embedding))!;
        const score = (i: number): [number, number] => [i, cosine(voiceprint, enrolled[i])];
        const member = [speaker, ...households[speaker].slice(0, HOUSEHOLD - 1)].map(score);
        const visitor = households[speaker].map(score);
        turns++;
        thresholds.forEach((t, i) => {
          if (named(member, t) === speaker) right[i]++;
          if (named(visitor, t) !== null) wrong[i]++;
        });
      }
    });
    rows.push([
      kind,
      `${(1.6 + 0.2 * (k - 1)).toFixed(1)} s`,
      String(turns),
      ...thresholds.map((_, i) => `${pct(right[i] / turns, 1)} / ${pct(wrong[i] / turns, 1)}`),
    ]);
  }
  return rows;
}

runMain(main);
