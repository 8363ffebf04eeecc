import type { SpeakerEncoder } from "../embedding/encoder.js";
import type { Decision } from "../identify/decision.js";
import { LiveIdentifier, type LiveIdentifierOptions } from "../identify/live-identifier.js";
import type { EndedTurn, TrackerInput, UnknownVoices } from "../identify/speaker-tracker.js";
import type { MatchCandidate } from "../registry/matcher.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import type { VoiceActivityDetector } from "../vad/detector.js";
import { QuietGate, type QuietGateOptions, type SkippableDetector } from "../vad/quiet-gate.js";
import type { SegmenterConfig } from "../vad/segmenter.js";
import { StreamingVad } from "../vad/streaming.js";

export interface SpeechPipelineOptions {
  vad: VoiceActivityDetector & SkippableDetector;
  /** Skip the model on a quiet background (QuietGate); false: judge every window. Default on. */
  quietGate?: QuietGateOptions | false;
  encoder: SpeakerEncoder;
  /** The enrolled people to compare with (read at every window: enrolments apply at once). */
  candidates: () => readonly MatchCandidate[];
  segmenter: Partial<SegmenterConfig>;
  identification: LiveIdentifierOptions;
  /** Receives every decision, in order. */
  onDecision: (decision: Decision) => void;
  /** Every turn as it ends, with its voiceprint (for learning the room). */
  onTurnEnded?: (turn: EndedTurn) => void;
  /** Everything the speaker tracker is told, in order (diarize keeps the windows; bench:stream records it). */
  onTrackerInput?: (input: TrackerInput) => void;
  /** Keeps and recognises the voices nobody enrolled; absent, unknown turns are forgotten. */
  voices?: UnknownVoices;

  /** Per-stage timings, for metrics. */
  onTiming?: (stage: "vad" | "encoder" | "match", seconds: number) => void;
  /**
   * Outside speech, audio is run through the VAD in batches of this many samples (default 2048,
   * 128 ms) instead of per 32 ms chunk: one wake-up of the model per batch is what makes idle
   * listening cheap. Inside a turn every chunk is processed at once, so the end of speech is
   * never reported later; a start of speech is seen at most one batch later (the first decision
   * waits for a window of speech anyway). 0 or 512 turns batching off.
   */
  idleBatchSamples?: number;
  logger: Logger;
}

export const DEFAULT_IDLE_BATCH_SAMPLES = 2048;

export interface SpeechPipelineStatus {
  /** Samples processed since start. */
  processedSamples: number;
  inSpeech: boolean;
  lastError: string | null;
}

/**
 * Audio in, decisions out, in one forward flow: Silero VAD segments the stream and its events carry
 * the speech audio to the live identifier, which names the voices. Chunks are processed strictly in
 * order; `accept()` resolves when a chunk is done, which the audio sources use as backpressure.
 */
export class SpeechPipeline implements Component {
  private streaming: StreamingVad | null = null;
  private identifier: LiveIdentifier | null = null;
  private queue: Promise<void> = Promise.resolve();
  private lastError: string | null = null;
  private running = false;
  /** Audio held back while idle (see idleBatchSamples). */
  private held: Float32Array[] = [];
  private heldSamples = 0;

  constructor(private readonly options: SpeechPipelineOptions) {}

  /**
   * The audio between two stream positions while the VAD still holds it (its last 30 s, in memory), or
   * null: where a kept voice's clip is cut from.
   */
  recentAudio(start: number, end: number): Float32Array | null {
    try {
      return this.streaming?.audio(start, end) ?? null;
    } catch {
      return null;
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { vad, quietGate = {} } = this.options;
    const detector = quietGate === false ? vad : new QuietGate(vad, quietGate);
    this.streaming = new StreamingVad({ detector, segmenter: this.options.segmenter });
    this.identifier = this.newIdentifier();
    this.held = [];
    this.heldSamples = 0;
    this.running = true;
  }

  /** Ends the open turn (its final decision is emitted) and waits for queued audio. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.finish();
    this.running = false;
  }

  status(): SpeechPipelineStatus {
    return {
      processedSamples: this.streaming?.processedSamples ?? 0,
      inSpeech: this.identifier?.inTurn ?? false,
      lastError: this.lastError,
    };
  }

  /** Feeds 16 kHz mono audio; resolves once it has been processed. */
  accept(chunk: Float32Array): Promise<void> {
    if (!this.running) return Promise.resolve();
    return this.enqueue(async () => {
      const idle = this.streaming!.segmenter.openSegmentStart === null && !this.identifier!.inTurn;
      const batch = this.options.idleBatchSamples ?? DEFAULT_IDLE_BATCH_SAMPLES;
      if (idle && this.heldSamples + chunk.length < batch) {
        // Copied: a caller may reuse its buffer once accept() resolved.
        this.held.push(chunk.slice());
        this.heldSamples += chunk.length;
        return;
      }
      await this.process(this.takeHeld(chunk));
    });
  }

  /** End of stream (a file or stdin ran out): the open turn ends. */
  finish(): Promise<void> {
    if (!this.running) return this.queue;
    return this.enqueue(async () => {
      if (this.heldSamples > 0) await this.process(this.takeHeld(new Float32Array(0)));
      const streaming = this.streaming!;
      for (const event of await streaming.flush()) await this.identifier!.handle(event);
      await this.identifier!.finish(streaming.processedSamples);
    });
  }

  private async process(audio: Float32Array): Promise<void> {
    const streaming = this.streaming!;
    const identifier = this.identifier!;
    const t0 = performance.now();
    const events = await streaming.push(audio);
    this.options.onTiming?.("vad", (performance.now() - t0) / 1000);
    for (const event of events) await identifier.handle(event);
    await identifier.advance(streaming.processedSamples);
  }

  /** The held audio followed by `chunk`, as one array; empties the hold. */
  private takeHeld(chunk: Float32Array): Float32Array {
    if (this.heldSamples === 0) return chunk;
    const out = new Float32Array(this.heldSamples + chunk.length);
    let at = 0;
    for (const h of this.held) {
      out.set(h, at);
      at += h.length;
    }
    out.set(chunk, at);
    this.held = [];
    this.heldSamples = 0;
    return out;
  }

  private newIdentifier(): LiveIdentifier {
    const { encoder, candidates, identification, onDecision, onTiming, onTurnEnded, onTrackerInput, voices } =
      this.options;
    return new LiveIdentifier(encoder, candidates, identification, {
      onDecision: (d) => onDecision(d),
      onTiming,
      onTurnEnded,
      onTrackerInput,
      voices,
    });
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work).catch(async (err: unknown) => {
      // A failed window must not wedge the stream: log, close the open turn, start afresh, go on.
      this.lastError = err instanceof Error ? err.message : String(err);
      this.options.logger.error("speech pipeline failed on a chunk; resetting", { error: this.lastError });
      await this.identifier?.finish(this.streaming?.processedSamples ?? 0).catch(() => {});
      this.streaming?.reset();
      this.identifier = this.newIdentifier();
      this.held = [];
      this.heldSamples = 0;
    });
    this.queue = run;
    return run;
  }
}
