import { readFileSync } from "node:fs";
import path from "node:path";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { QuietGate } from "../../src/vad/quiet-gate.js";
import type { SileroVad } from "../../src/vad/silero.js";
import { StreamingVad } from "../../src/vad/streaming.js";

const RATE = 16_000;

export interface GateFigures {
  set: string;
  files: number;
  /** Speech samples the ungated VAD found that the gated one found too. */
  recall: number;
  /** Gated minus ungated first speech-start, ms (positive: later). */
  onsetDeltaMeanMs: number;
  onsetDeltaMaxMs: number;
  /** Files whose first onset moved at all. */
  onsetsMoved: number;
  /** Windows the gate kept from the model. */
  skippedShare: number;
}

type Segment = [number, number];

async function segments(
  vad: SileroVad,
  samples: Float32Array,
  gated: boolean,
): Promise<{ segs: Segment[]; skipped: number; windows: number }> {
  vad.reset();
  const gate = gated ? new QuietGate(vad) : null;
  const streaming = new StreamingVad({ detector: gate ?? vad });
  const segs: Segment[] = [];
  let open: number | null = null;
  const take = (events: Awaited<ReturnType<StreamingVad["push"]>>) => {
    for (const e of events) {
      if (e.type === "speech-start") open = e.startSample;
      else if (e.type === "speech-end" && open !== null) {
        if (!e.discarded) segs.push([open, e.endSample]);
        open = null;
      }
    }
  };
  for (let i = 0; i < samples.length; i += 2048) take(await streaming.push(samples.subarray(i, i + 2048)));
  take(await streaming.flush());
  return { segs, skipped: gate?.skipped ?? 0, windows: Math.floor(samples.length / 512) };
}

function overlap(a: Segment[], b: Segment[]): number {
  let total = 0;
  for (const [s, e] of a) for (const [s2, e2] of b) total += Math.max(0, Math.min(e, e2) - Math.max(s, s2));
  return total;
}

/** Deterministic uniform noise of the given RMS (dBFS). */
function noise(seconds: number, dbfs: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const amplitude = 10 ** (dbfs / 20) * Math.sqrt(3);
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) out[i] = (2 * random() - 1) * amplitude;
  return out;
}

/**
 * The VAD with and without the QuietGate over real speech: each file between 2 s of -60 dBFS noise (an
 * empty room the gate has settled on), so every onset comes out of skipped quiet.
 */
export async function gateFigures(
  vad: SileroVad,
  set: string,
  dir: string,
  files: string[],
): Promise<GateFigures> {
  let speech = 0;
  let kept = 0;
  const deltas: number[] = [];
  let skipped = 0;
  let windows = 0;
  for (const [i, file] of files.entries()) {
    const clip = readWavAs16kMono(readFileSync(path.join(dir, file)));
    const lead = noise(2, -60, 2 * i + 1);
    const stream = new Float32Array(lead.length + clip.length + 2 * RATE);
    stream.set(lead);
    stream.set(clip, lead.length);
    stream.set(noise(2, -60, 2 * i + 2), lead.length + clip.length);
    const plain = await segments(vad, stream, false);
    const gated = await segments(vad, stream, true);
    speech += plain.segs.reduce((t, [s, e]) => t + e - s, 0);
    kept += overlap(plain.segs, gated.segs);
    if (plain.segs.length > 0 && gated.segs.length > 0)
      deltas.push(((gated.segs[0][0] - plain.segs[0][0]) / RATE) * 1000);
    skipped += gated.skipped;
    windows += gated.windows;
  }
  return {
    set,
    files: files.length,
    recall: speech > 0 ? kept / speech : 1,
    onsetDeltaMeanMs: deltas.reduce((a, b) => a + b, 0) / Math.max(1, deltas.length),
    onsetDeltaMaxMs: deltas.reduce((a, b) => Math.max(a, Math.abs(b)), 0),
    onsetsMoved: deltas.filter((d) => d !== 0).length,
    skippedShare: skipped / windows,
  };
}
