/**
 * Cuts the speech of a conversation into overlapping windows for the encoder: every `hop` samples of
 * speech, the last `window` samples of speech. Speech of consecutive VAD segments is joined with the
 * silence between them left out (as Resemblyzer trims silences before embedding), so a pause does not
 * cost a window's worth of waiting; a silence longer than `maxGap` starts a new run.
 * Pure: no model. Positions are stream samples.
 */

export interface SpeechWindow {
  /** The window's audio (speech only, `window` samples; zero-padded when a short run ended). */
  samples: Float32Array;
  /** Stream position of its first and (exclusive) last sample. */
  start: number;
  end: number;
}

export interface SpeechWindowsOptions {
  window: number;
  hop: number;
  /** A silence longer than this (samples) starts a new run: windows never reach across it. */
  maxGap: number;
  /** A run that ends with less speech than a window yields one padded window if it has this much. */
  minPadded: number;
  /** Speech kept behind the latest for `speechFrom` (samples; at least a window's worth is). */
  keep?: number;
}

/** Speech kept per run: enough for a window, plus slack so appends rarely copy. */
const KEEP_WINDOWS = 2;

export class SpeechWindows {
  private buffer: Float32Array;
  /** Speech samples in the buffer. */
  private length = 0;
  /** Speech samples of the run dropped off the front of the buffer. */
  private dropped = 0;
  /** Stream position of each piece of speech: [speech offset in the run, stream position], ascending. */
  private pieces: Array<[number, number]> = [];
  /** Speech offset (in the run) where the next window ends. */
  private nextEnd: number;
  private windowsInRun = 0;
  /** Stream position where the run's speech last ended (null while in speech or before any). */
  private silenceFrom: number | null = null;

  /** Speech samples kept behind the latest. */
  private readonly kept: number;

  constructor(private readonly options: SpeechWindowsOptions) {
    this.kept = Math.max(options.window, options.keep ?? 0);
    this.buffer = new Float32Array(this.kept + options.window * KEEP_WINDOWS);
    this.nextEnd = options.window;
  }

  /** Speech in the current run so far, samples. */
  get runSpeech(): number {
    return this.dropped + this.length;
  }

  /** Speech (re)starts at stream position `at`; a long silence before it starts a new run. */
  speechStarted(at: number): void {
    if (this.silenceFrom === null || at - this.silenceFrom > this.options.maxGap) this.newRun();
    this.silenceFrom = null;
    this.pieces.push([this.runSpeech, at]);
  }

  /**
   * The run's speech from stream position `from` (a position in a silence counts from the speech after
   * it) to the latest, as one piece with its stream extent; null when the run began after `from` or that
   * speech is no longer kept.
   */
  speechFrom(from: number): SpeechWindow | null {
    const first = this.pieces[0];
    if (!first || from < first[1]) return null;
    let offset = this.runSpeech;
    for (const [i, [pieceOffset, position]] of this.pieces.entries()) {
      const pieceEnd = this.pieces[i + 1]?.[0] ?? this.runSpeech;
      if (from < position + (pieceEnd - pieceOffset)) {
        offset = pieceOffset + Math.max(0, from - position);
        break;
      }
    }
    if (offset < this.dropped || offset >= this.runSpeech) return null;
    return {
      samples: this.buffer.slice(offset - this.dropped, this.length),
      start: this.streamPosition(offset),
      end: this.streamPosition(this.runSpeech - 1) + 1,
    };
  }

  /** Appends speech that continues the current piece; returns the windows it completes. */
  push(samples: Float32Array): SpeechWindow[] {
    this.append(samples);
    const out: SpeechWindow[] = [];
    while (this.runSpeech >= this.nextEnd) {
      out.push(this.windowEndingAt(this.nextEnd));
      this.nextEnd += this.options.hop;
    }
    return out;
  }

  /**
   * Speech ended at stream position `at`. Returns a last window over the end of the speech when more
   * than half a hop was left uncovered, or one zero-padded window when the run is shorter than a window.
   */
  speechEnded(at: number): SpeechWindow[] {
    this.silenceFrom = at;
    const speech = this.runSpeech;
    const covered = this.nextEnd - this.options.hop;
    if (speech < this.options.window) {
      if (this.windowsInRun > 0 || speech < this.options.minPadded) return [];
      // Speech that follows within the run is windowed whole once a window's worth is in.
      this.nextEnd = this.options.window;
      return [this.padded()];
    }
    if (speech - covered <= this.options.hop / 2) return [];
    const last = this.windowEndingAt(speech);
    this.nextEnd = speech + this.options.hop;
    return [last];
  }

  private newRun(): void {
    this.length = 0;
    this.dropped = 0;
    this.pieces = [];
    this.nextEnd = this.options.window;
    this.windowsInRun = 0;
  }

  private append(samples: Float32Array): void {
    const capacity = this.buffer.length;
    if (this.length + samples.length > capacity) {
      // Keep the last window's worth (or what speechFrom may ask for): older speech is never windowed again.
      const keep = Math.min(this.length, this.kept);
      const drop = this.length - keep;
      if (keep + samples.length > capacity) {
        const grown = new Float32Array(keep + samples.length + this.options.window);
        grown.set(this.buffer.subarray(drop, this.length));
        this.buffer = grown;
      } else {
        this.buffer.copyWithin(0, drop, this.length);
      }
      this.length = keep;
      this.dropped += drop;
      // Pieces wholly before the kept speech map nothing any more: a long conversation keeps a few.
      while (this.pieces.length > 1 && this.pieces[1][0] <= this.dropped) this.pieces.shift();
    }
    this.buffer.set(samples, this.length);
    this.length += samples.length;
  }

  /** The window of speech [end - window, end) (run offsets), with its stream extent. */
  private windowEndingAt(end: number): SpeechWindow {
    const from = end - this.options.window - this.dropped;
    this.windowsInRun++;
    return {
      samples: this.buffer.slice(from, from + this.options.window),
      start: this.streamPosition(end - this.options.window),
      end: this.streamPosition(end - 1) + 1,
    };
  }

  private padded(): SpeechWindow {
    const samples = new Float32Array(this.options.window);
    samples.set(this.buffer.subarray(0, this.length));
    this.windowsInRun++;
    return {
      samples,
      start: this.streamPosition(this.dropped),
      end: this.streamPosition(this.runSpeech - 1) + 1,
    };
  }

  /** Stream position of the run's speech sample at `offset`. */
  private streamPosition(offset: number): number {
    let piece = this.pieces[0];
    for (const p of this.pieces) {
      if (p[0] > offset) break;
      piece = p;
    }
    return piece[1] + (offset - piece[0]);
  }
}
