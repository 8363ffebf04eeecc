import type { SpeakerEncoder } from "../embedding/encoder.js";
import {
  type Detection,
  LiveIdentifier,
  type LiveIdentifierOptions,
  type MatchFn,
} from "../identify/live-identifier.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import type { VoiceActivityDetector } from "../vad/detector.js";
import type { SegmenterConfig } from "../vad/segmenter.js";
import { StreamingVad, type StreamingVadEvent } from "../vad/streaming.js";

export interface SpeechPipelineOptions {
  vad: VoiceActivityDetector;
  encoder: SpeakerEncoder;
  match: MatchFn;
  segmenter: Partial<SegmenterConfig>;
  identification: LiveIdentifierOptions;
  /** Receives every detection, in order. */
  onDetection: (detection: Detection) => void;
  /** Per-stage timings, for metrics. */
  onTiming?: (stage: "vad" | "identify", seconds: number) => void;
  /**
   * Outside speech, audio is run through the VAD in batches of this many samples (default 2048,
   * 128 ms) instead of per 32 ms chunk: one wake-up of the model per batch is what makes idle
   * listening cheap. Inside a segment every chunk is processed at once, so the end of speech is
   * never reported later; a start of speech is seen at most one batch later (the first decision
   * waits for 1.6 s of speech anyway). 0 or 512 turns batching off.
   */
  idleBatchSamples?: number;
  logger: Logger;
}

export const DEFAULT_IDLE_BATCH_SAMPLES = 2048;

export interface SpeechPipelineStatus {
  /** Samples processed since start. */
  processedSamples: number;
  inSegment: boolean;
  lastError: string | null;
}

/**
 * Audio in, detections out: Silero VAD segments the stream, the live identifier names the voices
 * inside each segment. Chunks are processed strictly in order; `accept()` resolves when a chunk
 * is done, which the audio sources use as backpressure.
 */
export class SpeechPipeline implements Component {
  private streaming: StreamingVad | null = null;
  private identifier: LiveIdentifier | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** Stream position up to which audio went to the identifier. */
  private fed = 0;
  private lastError: string | null = null;
  private running = false;
  /** Audio held back while idle (see idleBatchSamples). */
  private held: Float32Array[] = [];
  private heldSamples = 0;

  constructor(private readonly options: SpeechPipelineOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    const { vad, encoder, match, identification, segmenter } = this.options;
    this.streaming = new StreamingVad({ detector: vad, segmenter });
    this.identifier = new LiveIdentifier(encoder, match, identification, (d) => this.options.onDetection(d));
    this.fed = 0;
    this.held = [];
    this.heldSamples = 0;
    this.running = true;
  }

  /** Ends the open segment (its final detection is emitted) and waits for queued audio. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.finish();
    this.running = false;
  }

  status(): SpeechPipelineStatus {
    return {
      processedSamples: this.streaming?.processedSamples ?? 0,
      inSegment: this.identifier?.inSegment ?? false,
      lastError: this.lastError,
    };
  }

  /** Feeds 16 kHz mono audio; resolves once it has been processed. */
  accept(chunk: Float32Array): Promise<void> {
    if (!this.running) return Promise.resolve();
    return this.enqueue(async () => {
      const idle = this.streaming!.segmenter.openSegmentStart === null;
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

  /** End of stream (a file or stdin ran out): flush the open segment. */
  finish(): Promise<void> {
    if (!this.running) return this.queue;
    return this.enqueue(async () => {
      if (this.heldSamples > 0) await this.process(this.takeHeld(new Float32Array(0)));
      await this.handle(await this.streaming!.flush());
    });
  }

  private async process(audio: Float32Array): Promise<void> {
    const t0 = performance.now();
    const events = await this.streaming!.push(audio);
    this.options.onTiming?.("vad", (performance.now() - t0) / 1000);
    await this.handle(events);
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

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work).catch((err: unknown) => {
      // A failed window must not wedge the stream: log, start the stream state afresh, go on.
      this.lastError = err instanceof Error ? err.message : String(err);
      this.options.logger.error("speech pipeline failed on a chunk; resetting", { error: this.lastError });
      this.streaming?.reset();
      this.fed = 0;
      this.held = [];
      this.heldSamples = 0;
    });
    this.queue = run;
    return run;
  }

  private async handle(events: StreamingVadEvent[]): Promise<void> {
    const streaming = this.streaming!;
    const identifier = this.identifier!;
    const t0 = performance.now();
    for (const event of events) {
      if (event.type === "speech-start") {
        await identifier.segmentStarted(
          event.startSample,
          streaming.audio(event.startSample, event.atSample),
        );
        this.fed = event.atSample;
      } else if (event.type === "speech-end") {
        if (event.discarded) {
          // A click or a breath shorter than minSpeechMs: not a speech segment.
          identifier.segmentAborted();
          continue;
        }
        if (this.fed < event.endSample)
          await identifier.segmentAudio(streaming.audio(this.fed, event.endSample));
        this.fed = event.endSample;
        await identifier.segmentEnded(event.endSample);
      }
    }
    if (identifier.inSegment && this.fed < streaming.processedSamples) {
      await identifier.segmentAudio(streaming.audio(this.fed, streaming.processedSamples));
      this.fed = streaming.processedSamples;
    }
    if (events.length > 0 || identifier.inSegment)
      this.options.onTiming?.("identify", (performance.now() - t0) / 1000);
  }
}
