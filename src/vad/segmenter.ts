import { VAD_WINDOW_SAMPLES } from "./detector.js";

/** The VAD pipeline runs at 16 kHz; all sample positions below are at this rate. */
export const VAD_SAMPLE_RATE = 16_000;

/** Field names are mirrored by the config schema; keep them in sync. */
export interface SegmenterConfig {
  /** Probability at or above which silence turns into speech. */
  startThreshold: number;
  /** Probability below which speech turns into (candidate) silence. Must be <= startThreshold. */
  stopThreshold: number;
  /** Segments with less speech than this (onset to last speech window) end with `discarded: true`. */
  minSpeechMs: number;
  /** Silence needed before a segment ends. */
  hangoverMs: number;
  /** Audio kept before the detected onset (clipped at stream start and at the previous segment's end). */
  preRollMs: number;
  /** Audio kept after the last speech window (clipped at the stream position when the segment ends). */
  postRollMs: number;
  /** Longest segment (pre-roll included); longer speech is split and continues in a new segment. */
  maxSegmentMs: number;
}

export const DEFAULT_SEGMENTER_CONFIG: Readonly<SegmenterConfig> = Object.freeze({
  startThreshold: 0.5,
  stopThreshold: 0.35,
  minSpeechMs: 250,
  hangoverMs: 400,
  preRollMs: 200,
  postRollMs: 100,
  maxSegmentMs: 30_000,
});

export class SegmenterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SegmenterConfigError";
  }
}

/** Merges `partial` over the defaults and checks the result; throws SegmenterConfigError. */
export function resolveSegmenterConfig(partial: Partial<SegmenterConfig> = {}): SegmenterConfig {
  const config: SegmenterConfig = { ...DEFAULT_SEGMENTER_CONFIG };
  for (const [key, value] of Object.entries(partial) as [keyof SegmenterConfig, number | undefined][]) {
    if (value !== undefined) config[key] = value;
  }
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new SegmenterConfigError(`segmenter ${key} must be a finite number >= 0, got ${String(value)}`);
    }
  }
  if (config.startThreshold > 1 || config.stopThreshold > 1) {
    throw new SegmenterConfigError("segmenter thresholds must be within [0, 1]");
  }
  if (config.stopThreshold > config.startThreshold) {
    throw new SegmenterConfigError(
      `segmenter stopThreshold (${config.stopThreshold}) must not exceed startThreshold (${config.startThreshold})`,
    );
  }
  if (config.maxSegmentMs <= config.preRollMs + config.minSpeechMs) {
    throw new SegmenterConfigError(
      `segmenter maxSegmentMs (${config.maxSegmentMs}) must exceed preRollMs + minSpeechMs (${config.preRollMs + config.minSpeechMs})`,
    );
  }
  return config;
}

export function msToSamples(ms: number): number {
  return Math.round((ms * VAD_SAMPLE_RATE) / 1000);
}

export type SpeechEndReason = "silence" | "max-length" | "flush";

/**
 * Emitted on the first window at/above startThreshold, so "talking" can be published at once.
 * A burst that turns out too short ends with `discarded: true`; wait for `speech-confirmed` to be sure.
 */
export interface SpeechStartEvent {
  type: "speech-start";
  segment: number;
  /** First sample of the segment: onset minus pre-roll, clipped. */
  startSample: number;
  /** First sample of the window that crossed startThreshold (or the split point of a continuation). */
  onsetSample: number;
  /** True when this segment continues speech split at maxSegmentMs (no pre-roll, already confirmed). */
  continued: boolean;
  /** Stream position (samples consumed) when the event was emitted. */
  atSample: number;
}

/** The segment now holds at least minSpeechMs of speech: it will not be discarded. */
export interface SpeechConfirmedEvent {
  type: "speech-confirmed";
  segment: number;
  startSample: number;
  atSample: number;
}

export interface SpeechEndEvent {
  type: "speech-end";
  segment: number;
  startSample: number;
  /** Exclusive end: last speech window end plus post-roll, clipped to the stream position. */
  endSample: number;
  reason: SpeechEndReason;
  /** Less than minSpeechMs of speech: the caller should drop it (and retract "talking"). */
  discarded: boolean;
  /** Samples from onset to the end of the last speech window (no roll, no hangover). */
  speechSamples: number;
  atSample: number;
}

export type SegmenterEvent = SpeechStartEvent | SpeechConfirmedEvent | SpeechEndEvent;

/** A stretch inside a segment judged silence that was too short to end it: [start, end) samples. */
export interface SpeechPause {
  start: number;
  end: number;
}

export class SegmenterInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SegmenterInputError";
  }
}

interface OpenSegment {
  id: number;
  startSample: number;
  onsetSample: number;
  /** Exclusive end of the last window judged speech. */
  lastSpeechEnd: number;
  /** Silence accumulated since lastSpeechEnd (0 while speaking). */
  silenceSamples: number;
  confirmed: boolean;
}

/**
 * Pure speech segmentation state machine: one speech probability per 512-sample window in,
 * events with sample-accurate stream positions out. No I/O, no timers, no model.
 *
 * Hysteresis: silence becomes speech at >= startThreshold; speech becomes candidate silence at
 * < stopThreshold and stays silence until a window reaches startThreshold again. The segment ends
 * when candidate silence lasts hangoverMs.
 */
export class SpeechSegmenter {
  readonly config: Readonly<SegmenterConfig>;
  private readonly preRoll: number;
  private readonly postRoll: number;
  private readonly minSpeech: number;
  private readonly hangover: number;
  private readonly maxSegment: number;

  private consumed = 0;
  private nextId = 0;
  /** End of the last kept segment; the next pre-roll does not reach back before it. */
  private lastKeptEnd = 0;
  private open: OpenSegment | null = null;
  /** Pauses inside the open segment since the last takePauses(). */
  private pauses: SpeechPause[] = [];

  constructor(config: Partial<SegmenterConfig> = {}) {
    this.config = Object.freeze(resolveSegmenterConfig(config));
    this.preRoll = msToSamples(this.config.preRollMs);
    this.postRoll = msToSamples(this.config.postRollMs);
    this.minSpeech = msToSamples(this.config.minSpeechMs);
    this.hangover = msToSamples(this.config.hangoverMs);
    this.maxSegment = msToSamples(this.config.maxSegmentMs);
  }

  /** Samples consumed so far (windows pushed x 512). */
  get position(): number {
    return this.consumed;
  }

  /** Start sample of the open segment, or null when idle. */
  get openSegmentStart(): number | null {
    return this.open ? this.open.startSample : null;
  }

  /** Id of the open segment, or null when idle. */
  get openSegmentId(): number | null {
    return this.open ? this.open.id : null;
  }

  /** End of the open segment's speech so far (a pause in progress not included), or null when idle. */
  get openSpeechEnd(): number | null {
    return this.open ? this.open.lastSpeechEnd : null;
  }

  /** The pauses inside segments that ended since the last call (speech resumed after them), in order. */
  takePauses(): SpeechPause[] {
    const out = this.pauses;
    this.pauses = [];
    return out;
  }

  /** Feeds the probability of the next window; returns the events it causes, in order. */
  push(probability: number): SegmenterEvent[] {
    if (!Number.isFinite(probability) || probability < 0 || probability > 1) {
      throw new SegmenterInputError(`speech probability must be within [0, 1], got ${probability}`);
    }
    const { startThreshold, stopThreshold } = this.config;
    const windowStart = this.consumed;
    this.consumed += VAD_WINDOW_SAMPLES;
    const events: SegmenterEvent[] = [];
    const seg = this.open;

    if (!seg) {
      if (probability >= startThreshold) {
        const startSample = Math.max(0, this.lastKeptEnd, windowStart - this.preRoll);
        this.openSegment(startSample, windowStart, false, events);
      }
    } else if (seg.silenceSamples === 0) {
      if (probability >= stopThreshold) seg.lastSpeechEnd = this.consumed;
      else seg.silenceSamples = VAD_WINDOW_SAMPLES;
    } else if (probability >= startThreshold) {
      // Speech resumes: the silence was a pause inside the segment (where a change of voice may sit).
      this.pauses.push({ start: seg.lastSpeechEnd, end: windowStart });
      seg.silenceSamples = 0;
      seg.lastSpeechEnd = this.consumed;
    } else {
      seg.silenceSamples += VAD_WINDOW_SAMPLES;
    }

    const current = this.open;
    if (!current) return events;
    this.confirmIfLongEnough(current, events);
    if (current.silenceSamples >= this.hangover) {
      this.closeSegment(Math.min(current.lastSpeechEnd + this.postRoll, this.consumed), "silence", events);
    } else if (this.consumed - current.startSample >= this.maxSegment) {
      this.splitSegment(current, events);
    }
    return events;
  }

  /** End of stream: ends the open segment (reason "flush"). The segmenter stays usable. */
  flush(): SegmenterEvent[] {
    const events: SegmenterEvent[] = [];
    if (this.open) {
      this.closeSegment(Math.min(this.open.lastSpeechEnd + this.postRoll, this.consumed), "flush", events);
    }
    return events;
  }

  /** Back to a fresh stream at position 0. */
  reset(): void {
    this.consumed = 0;
    this.nextId = 0;
    this.lastKeptEnd = 0;
    this.open = null;
    this.pauses = [];
  }

  private openSegment(startSample: number, onsetSample: number, continued: boolean, out: SegmenterEvent[]) {
    const seg: OpenSegment = {
      id: this.nextId++,
      startSample,
      onsetSample,
      lastSpeechEnd: this.consumed,
      silenceSamples: 0,
      // A continuation carries on speech that was already confirmed.
      confirmed: continued,
    };
    this.open = seg;
    out.push({
      type: "speech-start",
      segment: seg.id,
      startSample,
      onsetSample,
      continued,
      atSample: this.consumed,
    });
    if (continued) {
      out.push({ type: "speech-confirmed", segment: seg.id, startSample, atSample: this.consumed });
    }
  }

  private confirmIfLongEnough(seg: OpenSegment, out: SegmenterEvent[]): void {
    if (seg.confirmed || seg.lastSpeechEnd - seg.onsetSample < this.minSpeech) return;
    seg.confirmed = true;
    out.push({
      type: "speech-confirmed",
      segment: seg.id,
      startSample: seg.startSample,
      atSample: this.consumed,
    });
  }

  private closeSegment(endSample: number, reason: SpeechEndReason, out: SegmenterEvent[]): void {
    const seg = this.open!;
    this.open = null;
    if (seg.confirmed) this.lastKeptEnd = endSample;
    out.push({
      type: "speech-end",
      segment: seg.id,
      startSample: seg.startSample,
      endSample,
      reason,
      discarded: !seg.confirmed,
      speechSamples: Math.min(seg.lastSpeechEnd, endSample) - seg.onsetSample,
      atSample: this.consumed,
    });
  }

  /** maxSegmentMs reached: cut exactly at the limit; if still speaking, continue in a new segment. */
  private splitSegment(seg: OpenSegment, out: SegmenterEvent[]): void {
    const splitAt = seg.startSample + this.maxSegment;
    if (seg.silenceSamples > 0) {
      this.closeSegment(Math.min(seg.lastSpeechEnd + this.postRoll, splitAt), "max-length", out);
      return;
    }
    this.closeSegment(splitAt, "max-length", out);
    this.openSegment(splitAt, splitAt, true, out);
  }
}
