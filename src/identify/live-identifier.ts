import { normalizeVolume } from "../audio/volume.js";
import type { SpeakerEncoder } from "../embedding/encoder.js";
import type { MatchCandidate } from "../registry/matcher.js";
import type { StreamingVadEvent } from "../vad/streaming.js";
import type { Decision } from "./decision.js";
import {
  type EndedTurn,
  SpeakerTracker,
  type SpeakerTrackerOptions,
  type TrackerInput,
  type UnknownVoices,
} from "./speaker-tracker.js";
import { type SpeechWindow, SpeechWindows } from "./speech-windows.js";

export interface LiveIdentifierOptions {
  tracker: SpeakerTrackerOptions;
  /** Seconds of speech between the starts of two windows. */
  hopSeconds: number;
}

export type DecisionListener = (decision: Decision) => void | Promise<void>;
/** Seconds spent per stage: "encoder" turns windows into voiceprints, "match" is the tracker's work. */
export type IdentifyTimingListener = (stage: "encoder" | "match", seconds: number) => void;

/** Who hears what the identifier works out, besides the decisions. */
export interface LiveIdentifierListeners {
  onDecision: DecisionListener;
  onTiming?: IdentifyTimingListener;
  /** Every turn as it ends, with its voiceprint. */
  onTurnEnded?: (turn: EndedTurn) => void;
  /**
   * Everything the tracker is told, in order: `diarize` keeps the windows' voiceprints to cluster
   * afterwards, bench:stream records it all to replay tracker changes without the models.
   */
  onTrackerInput?: (input: TrackerInput) => void;
  /** Keeps and recognises the voices nobody enrolled (the daemon's store). */
  voices?: UnknownVoices;
}

/**
 * The VAD's events in, decisions out: speech is cut into overlapping windows (SpeechWindows), each
 * window becomes a voiceprint (the encoder), and the SpeakerTracker follows who talks. A segment counts
 * once the VAD confirmed it (a click never starts a turn). Calls must be awaited in order.
 */
export class LiveIdentifier {
  private readonly windows: SpeechWindows;
  private readonly tracker: SpeakerTracker;
  /** Events of a segment the VAD has not confirmed yet. */
  private unconfirmed: StreamingVadEvent[] | null = null;

  constructor(
    private readonly encoder: SpeakerEncoder,
    candidates: () => readonly MatchCandidate[],
    options: LiveIdentifierOptions,
    private readonly listeners: LiveIdentifierListeners,
  ) {
    const rate = options.tracker.sampleRate;
    const whole = options.tracker.wholeTurn;
    this.windows = new SpeechWindows({
      window: encoder.windowSamples,
      hop: Math.round(options.hopSeconds * rate),
      maxGap: Math.round(options.tracker.pauseSeconds * rate),
      minPadded: Math.round(options.tracker.minSpeechSeconds * rate),
      keep: whole ? Math.round((whole.until + whole.every) * rate) : 0,
    });
    this.tracker = new SpeakerTracker(options.tracker, candidates, listeners.onTurnEnded, listeners.voices);
  }

  /** In speech, or in a pause that may still continue a turn. */
  get inTurn(): boolean {
    return this.tracker.inTurn || this.unconfirmed !== null;
  }

  async handle(event: StreamingVadEvent): Promise<void> {
    switch (event.type) {
      case "speech-start":
        this.unconfirmed = [event];
        return;
      case "speech-confirmed": {
        const held = this.unconfirmed ?? [];
        this.unconfirmed = null;
        for (const e of held) await this.accept(e);
        return;
      }
      case "speech-audio":
        if (this.unconfirmed) this.unconfirmed.push(event);
        else await this.accept(event);
        return;
      case "speech-end":
        if (this.unconfirmed || event.discarded) {
          // A click or a breath: never speech, nothing to say.
          this.unconfirmed = null;
          return;
        }
        await this.accept(event);
    }
  }

  /** The stream reached `position`: a pause that outlasted the turn ends it. */
  async advance(position: number): Promise<void> {
    await this.emit(this.track({ type: "advance", position }));
  }

  /** End of the input at `position`: the open turn ends. */
  async finish(position: number): Promise<void> {
    this.unconfirmed = null;
    await this.emit(this.track({ type: "finish", position }));
  }

  private async accept(event: StreamingVadEvent): Promise<void> {
    if (event.type === "speech-start") {
      this.windows.speechStarted(event.startSample);
      await this.emit(this.track({ type: "speechStarted", at: event.startSample }));
      await this.embed(this.windows.push(event.samples));
    } else if (event.type === "speech-audio") {
      for (const silence of event.pauses) this.track({ type: "pause", silence });
      await this.embed(this.windows.push(event.samples));
    } else if (event.type === "speech-end" && event.samples) {
      await this.embed([...this.windows.push(event.samples), ...this.windows.speechEnded(event.endSample)]);
      await this.emit(
        this.track({
          type: "speechEnded",
          at: event.endSample,
          speech: event.speechSamples,
          decidedAt: event.atSample,
        }),
      );
    }
  }

  private async embed(windows: SpeechWindow[]): Promise<void> {
    if (windows.length === 0) return;
    const t0 = performance.now();
    const embeddings = await this.encoder.embedWindows(
      windows.map((w) => normalizeVolume(w.samples, -30, { increaseOnly: true })),
    );
    this.listeners.onTiming?.("encoder", (performance.now() - t0) / 1000);
    for (const [i, w] of windows.entries()) {
      const t1 = performance.now();
      const window = { start: w.start, end: w.end, embedding: embeddings[i] };
      const decisions = this.track({ type: "window", window });
      this.listeners.onTiming?.("match", (performance.now() - t1) / 1000);
      await this.emit(decisions);
    }
    await this.hearWholeTurn();
  }

  /** The turn's speech so far as one utterance, when the tracker wants it (a turn not yet named). */
  private async hearWholeTurn(): Promise<void> {
    const from = this.tracker.wantedSpeech();
    if (from === null) return;
    const speech = this.windows.speechFrom(from);
    if (!speech || speech.samples.length < this.encoder.windowSamples) return;
    const t0 = performance.now();
    const embedding = await this.encoder.embedUtterance(
      normalizeVolume(speech.samples, -30, { increaseOnly: true }),
    );
    this.listeners.onTiming?.("encoder", (performance.now() - t0) / 1000);
    // From where the tracker asked (a position in a silence before the turn's first words included).
    await this.emit(this.track({ type: "wholeTurn", speech: { start: from, end: speech.end, embedding } }));
  }

  private track(input: TrackerInput): Decision[] {
    this.listeners.onTrackerInput?.(input);
    return this.tracker.apply(input);
  }

  private async emit(decisions: Decision[]): Promise<void> {
    for (const d of decisions) await this.listeners.onDecision(d);
  }
}
