/**
 * What was actually spoken in a stretch of a clean recording: the reference that bench:stream scores
 * against. LibriSpeech files hold pauses (16 % of their time is in pauses of 0.3 s or more, some of
 * 2 s at a file's start), which nobody can name. Energy every 10 ms against the file's own noise
 * floor and level; pauses under 0.3 s are bridged, as NIST's diarization scoring does, and spans
 * under 0.1 s dropped.
 */
import { SAMPLE_RATE } from "../../src/embedding/voiceprint.js";

/** Levels of 30 ms every 10 ms: a 10 ms frame of steady noise strays a few dB either way. */
const HOP = 160;
const FRAME = 480;
/** Above the file's noise floor by this much... */
const ABOVE_FLOOR_DB = 10;
/** ...and within this much of its loud frames. */
const BELOW_PEAK_DB = 40;
const BRIDGE_S = 0.3;
/** A lone click or breath is not speech. */
const MIN_SPAN_S = 0.1;

/** dB of each 10 ms step, over the 30 ms around it. */
function frameLevels(samples: Float32Array): number[] {
  const levels: number[] = [];
  for (let at = 0; at + HOP <= samples.length; at += HOP) {
    const from = Math.max(0, at + HOP / 2 - FRAME / 2);
    const to = Math.min(samples.length, from + FRAME);
    let energy = 0;
    for (let i = from; i < to; i++) energy += samples[i] * samples[i];
    levels.push(10 * Math.log10(energy / (to - from) + 1e-12));
  }
  return levels;
}

/** The level above which a frame of this file is speech, dB. */
export function speechLevel(file: Float32Array): number {
  const sorted = frameLevels(file).sort((a, b) => a - b);
  const floor = sorted[Math.floor(sorted.length * 0.05)];
  const loud = sorted[Math.floor(sorted.length * 0.95)];
  return Math.max(floor + ABOVE_FLOOR_DB, loud - BELOW_PEAK_DB);
}

/** Spoken spans of `piece` (from a file whose speech level is `level`), as [from, to] s after `offsetS`. */
export function spokenSpans(piece: Float32Array, level: number, offsetS: number): [number, number][] {
  const spans: [number, number][] = [];
  frameLevels(piece).forEach((dB, i) => {
    if (dB <= level) return;
    const from = (i * HOP) / SAMPLE_RATE;
    const last = spans.at(-1);
    if (last && from - (last[1] - offsetS) < BRIDGE_S) last[1] = offsetS + from + HOP / SAMPLE_RATE;
    else spans.push([offsetS + from, offsetS + from + HOP / SAMPLE_RATE]);
  });
  return spans.filter(([from, to]) => to - from >= MIN_SPAN_S);
}
