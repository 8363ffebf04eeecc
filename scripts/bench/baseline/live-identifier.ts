/**
 * The live identification voiceid had before issue 7 (one label per turn, turns split by window
 * preference), kept only as the reference bench:stream compares the tracker with.
 */
import { normalizeVolume } from "../../../src/audio/volume.js";
import type { SpeakerEncoder } from "../../../src/embedding/encoder.js";
import type { MatchResult } from "../../../src/registry/matcher.js";
import { type Partial, TurnTracker, type TurnTrackerOptions } from "./turn-tracker.js";

const SAMPLE_RATE = 16_000;

/** What the matcher says about one voiceprint (see src/registry/matcher.ts). */
export interface MatchOutcome {
  speakerId: string | null;
  speaker: string | null;
  score: number | null;
  margin: number | null;
  threshold: number;
  nearestSpeaker: string | null;
  reason: null | "unknown" | "uncertain" | "no_speakers";
  /**
   * Cosine to every enrolled speaker, keyed by a unique key (the matcher uses display names). When
   * given, turns inside a segment are also split by which enrolled speaker each window prefers.
   */
  scores?: Readonly<Record<string, number>>;
}

export type DetectionReason = null | "unknown" | "uncertain" | "too_short";

/** One turn of one speaker inside a VAD segment, as the daemon reports it. */
export interface Detection {
  type: "started" | "updated" | "stopped";
  /** Increments per speaker turn over the daemon's life. */
  turnId: number;
  segmentId: number;
  speakerId: string | null;
  speaker: string | null;
  reason: DetectionReason;
  score: number | null;
  margin: number | null;
  threshold: number;
  nearestSpeaker: string | null;
  /** Stream position of the turn's start, seconds since the audio source started. */
  startS: number;
  /** Seconds of speech in the turn so far (final on "stopped"). */
  durationS: number;
  /** Partial windows the decision rests on. */
  windows: number;
}

export interface LiveIdentifierOptions extends TurnTrackerOptions {
  /** Speech needed before the first decision (Resemblyzer's partial is 1.6 s). */
  firstDecisionSeconds: number;
  /** Segments shorter than this are reported with reason "too_short". */
  minSpeechSeconds: number;
  /** Window decisions that must agree before a speaker is announced. */
  consistentWindows: number;
}

export type MatchFn = (embedding: Float32Array) => MatchOutcome;
export type DetectionListener = (detection: Detection) => void | Promise<void>;

interface Turn {
  id: number;
  start: number;
  announced: boolean;
  lastKey: string | null;
  agreeing: number;
  decision: MatchOutcome | null;
}

/**
 * Incremental identification of the speech segments the VAD finds: a voiceprint per partial
 * window as audio arrives, a decision from the turn's running mean as soon as the first window is
 * in, refined with every window, split into turns when the voice changes, final at segment end.
 * Calls into the encoder are awaited in order, so callers must await each method.
 */
export class LiveIdentifier {
  private audio = new Float32Array(SAMPLE_RATE * 4);
  private length = 0;
  /** Stream position of audio[0]. */
  private origin = 0;
  private nextWindow = 0;
  private segmentId = 0;
  private turnSeq = 0;
  private turn: Turn | null = null;
  private active = false;
  private readonly tracker: TurnTracker;

  constructor(
    private readonly encoder: SpeakerEncoder,
    private readonly match: MatchFn,
    private readonly options: LiveIdentifierOptions,
    private readonly listener: DetectionListener,
  ) {
    this.tracker = new TurnTracker(options);
  }

  get inSegment(): boolean {
    return this.active;
  }

  /** A segment starts at stream sample `start`; `audio` holds its samples so far (pre-roll included). */
  async segmentStarted(start: number, audio: Float32Array): Promise<void> {
    if (this.active) await this.segmentEnded(start);
    this.active = true;
    this.segmentId++;
    this.origin = start;
    this.length = 0;
    this.nextWindow = 0;
    this.tracker.reset();
    this.turn = this.newTurn(start);
    await this.append(audio);
  }

  async segmentAudio(chunk: Float32Array): Promise<void> {
    if (!this.active) return;
    await this.append(chunk);
  }

  /** The VAD dropped the segment as too short to be speech: nothing is reported. */
  segmentAborted(): void {
    this.active = false;
    this.turn = null;
    this.length = 0;
  }

  /** The segment ended at stream sample `end` (audio past it, the VAD's hangover, is dropped). */
  async segmentEnded(end: number): Promise<void> {
    if (!this.active || !this.turn) return;
    this.active = false;
    this.length = Math.max(0, Math.min(this.length, end - this.origin));
    let turn = this.turn;
    this.turn = null;
    const turnStart = turn.start - this.origin;
    const speech = this.length - turnStart;
    // Resemblyzer keeps a last partial that is at least 75 % covered; so do we, zero-padded.
    const tail = this.length - this.nextWindow;
    const windowSamples = this.encoder.windowSamples;
    if (speech >= this.options.minSpeechSeconds * SAMPLE_RATE) {
      if (this.tracker.partialCount === 0 || tail >= 0.75 * windowSamples) {
        const start = this.tracker.partialCount === 0 ? turnStart : this.nextWindow;
        const window = new Float32Array(windowSamples);
        window.set(this.audio.subarray(start, Math.min(this.length, start + windowSamples)));
        const [embedding] = await this.encoder.embedWindows([
          normalizeVolume(window, -30, { increaseOnly: true }),
        ]);
        const partial = {
          start: this.origin + start,
          end: this.origin + this.length,
          embedding,
          scores: this.match(embedding).scores,
        };
        const change = this.tracker.push(partial);
        if (change.kind === "split") {
          // The last words were someone else's: close the running turn and report theirs.
          await this.closeTurn(turn, change.at, this.match(change.previousMean));
          turn = this.newTurn(change.at);
        }
      }
      turn.decision = this.decide();
    }
    const final = this.detection("stopped", turn, this.origin + this.length);
    const turnSpeech = this.origin + this.length - turn.start;
    if (turnSpeech < this.options.minSpeechSeconds * SAMPLE_RATE && !turn.announced)
      final.reason = "too_short";
    if (!turn.announced) await this.listener({ ...final, type: "started" });
    await this.listener(final);
  }

  /** Ends a turn that a change of voice cut short, with the decision on its own partials. */
  private async closeTurn(turn: Turn, end: number, decision: MatchOutcome): Promise<void> {
    turn.decision = decision;
    const ended = this.detection("stopped", turn, end);
    if (!turn.announced) await this.listener({ ...ended, type: "started" });
    await this.listener(ended);
  }

  private newTurn(start: number): Turn {
    return { id: ++this.turnSeq, start, announced: false, lastKey: null, agreeing: 0, decision: null };
  }

  private async append(chunk: Float32Array): Promise<void> {
    if (this.length + chunk.length > this.audio.length) {
      const grown = new Float32Array(Math.max(this.audio.length * 2, this.length + chunk.length));
      grown.set(this.audio.subarray(0, this.length));
      this.audio = grown;
    }
    this.audio.set(chunk, this.length);
    this.length += chunk.length;
    const { windowSamples, hopSamples } = this.encoder;
    while (this.active && this.length - this.nextWindow >= windowSamples) {
      const start = this.nextWindow;
      this.nextWindow += hopSamples;
      const window = normalizeVolume(this.audio.slice(start, start + windowSamples), -30, {
        increaseOnly: true,
      });
      const [embedding] = await this.encoder.embedWindows([window]);
      await this.onPartial({
        start: this.origin + start,
        end: this.origin + start + windowSamples,
        embedding,
      });
    }
  }

  private async onPartial(partial: Partial): Promise<void> {
    const turn = this.turn!;
    const change = this.tracker.push({ ...partial, scores: this.match(partial.embedding).scores });
    if (change.kind === "split") {
      await this.closeTurn(turn, change.at, this.match(change.previousMean));
      this.turn = this.newTurn(change.at);
    }
    const current = this.turn!;
    const speech = this.origin + this.length - current.start;
    if (speech < this.options.firstDecisionSeconds * SAMPLE_RATE) return;
    const decision = this.decide();
    const key = decision.speakerId ?? `:${decision.reason}`;
    current.agreeing = key === current.lastKey ? current.agreeing + 1 : 1;
    const changed = current.decision !== null && key !== keyOf(current.decision);
    current.lastKey = key;
    current.decision = decision;
    if (!current.announced) {
      if (current.agreeing < this.options.consistentWindows) return;
      current.announced = true;
      await this.listener(this.detection("started", current, this.origin + this.length));
    } else if (changed) {
      await this.listener(this.detection("updated", current, this.origin + this.length));
    }
  }

  private decide(): MatchOutcome {
    const mean = this.tracker.mean();
    if (!mean) {
      return {
        speakerId: null,
        speaker: null,
        score: null,
        margin: null,
        threshold: 0,
        nearestSpeaker: null,
        reason: "unknown",
      };
    }
    return this.match(mean);
  }

  private detection(type: Detection["type"], turn: Turn, end: number): Detection {
    const d = turn.decision;
    return {
      type,
      turnId: turn.id,
      segmentId: this.segmentId,
      speakerId: d?.speakerId ?? null,
      speaker: d?.speaker ?? null,
      reason: d ? (d.reason === "no_speakers" ? "unknown" : d.reason) : "too_short",
      score: d?.score ?? null,
      margin: d?.margin ?? null,
      threshold: d?.threshold ?? 0,
      nearestSpeaker: d?.nearestSpeaker ?? null,
      startS: turn.start / SAMPLE_RATE,
      durationS: Math.max(0, end - turn.start) / SAMPLE_RATE,
      windows: this.tracker.partialCount,
    };
  }
}

function keyOf(d: MatchOutcome): string {
  return d.speakerId ?? `:${d.reason}`;
}

/** The matcher's answer in the shape the live identifier works with. */
export function outcomeOf(m: MatchResult): MatchOutcome {
  return {
    speakerId: m.speaker?.id ?? null,
    speaker: m.speaker?.name ?? null,
    score: m.score,
    margin: m.margin,
    threshold: m.threshold,
    nearestSpeaker: m.nearest?.name ?? null,
    reason: m.reason,
    scores: m.scores,
  };
}
