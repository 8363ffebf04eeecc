import type { VoiceActivityDetector } from "./detector.js";

/** A detector whose context can follow audio it did not judge (SileroVad's 64-sample context). */
export interface SkippableDetector extends Pick<VoiceActivityDetector, "process" | "reset"> {
  /** Takes `frame` as the latest audio without running the model; the recurrent state is kept. */
  skip(frame: Float32Array): void;
}

export interface QuietGateOptions {
  /** A window counts as quiet when its level is within this many dB of the noise floor (default 6). */
  marginDb?: number;
  /** Nothing louder than this (dBFS, window RMS) is ever skipped (default -45). */
  ceilingDbfs?: number;
  /**
   * Quiet windows still judged by the model after anything louder (default 32 = 1 s: pauses inside a
   * conversation stay judged; with 0.5 s, bench:stream named the wrong person slightly more often).
   */
  hangoverWindows?: number;
}

/** The floor follows a falling level at once and a rising one by this much per window (~1 dB/s). */
const FLOOR_RISE_DB_PER_WINDOW = 0.03;
/** Digital silence has no level in dB; anything below this counts as this. */
const LEVEL_MIN_DB = -120;

/**
 * Spares the model the steady background of an empty room: a window that is no louder than the noise
 * floor (plus a margin, and below an absolute ceiling) after a second of such windows is not run
 * through the model and counts as probability 0. The model still judges every window for a second
 * after anything louder, so its recurrent state has settled on the quiet before it is left alone, and
 * its context keeps following the audio, so the first louder window is judged as if nothing was
 * skipped. Onsets and recall against the ungated detector are measured by `npm run bench:daemon`.
 */
export class QuietGate implements Pick<VoiceActivityDetector, "process" | "reset"> {
  private readonly marginDb: number;
  private readonly ceilingDbfs: number;
  private readonly hangoverWindows: number;
  private floorDb: number | null = null;
  private quietWindows = 0;
  /** Windows not run through the model since start (for figures). */
  skipped = 0;

  constructor(
    private readonly detector: SkippableDetector,
    options: QuietGateOptions = {},
  ) {
    this.marginDb = options.marginDb ?? 6;
    this.ceilingDbfs = options.ceilingDbfs ?? -45;
    this.hangoverWindows = options.hangoverWindows ?? 32;
  }

  process(frame: Float32Array): Promise<number> {
    const level = levelDb(frame);
    this.floorDb = this.floorDb === null ? level : Math.min(level, this.floorDb + FLOOR_RISE_DB_PER_WINDOW);
    const quiet = level < Math.min(this.floorDb + this.marginDb, this.ceilingDbfs);
    this.quietWindows = quiet ? this.quietWindows + 1 : 0;
    if (this.quietWindows > this.hangoverWindows) {
      this.detector.skip(frame);
      this.skipped++;
      return Promise.resolve(0);
    }
    return this.detector.process(frame);
  }

  reset(): void {
    this.detector.reset();
    this.floorDb = null;
    this.quietWindows = 0;
  }
}

/** RMS level of a window in dBFS. */
export function levelDb(frame: Float32Array): number {
  let energy = 0;
  for (let i = 0; i < frame.length; i++) energy += frame[i] * frame[i];
  const rms = Math.sqrt(energy / frame.length);
  return rms > 0 ? Math.max(LEVEL_MIN_DB, 20 * Math.log10(rms)) : LEVEL_MIN_DB;
}
