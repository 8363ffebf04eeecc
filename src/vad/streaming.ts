import { VAD_WINDOW_SAMPLES, type VoiceActivityDetector } from "./detector.js";
import { VadUsageError } from "./errors.js";
import {
  msToSamples,
  type SegmenterConfig,
  type SpeechConfirmedEvent,
  type SpeechEndEvent,
  type SpeechPause,
  SpeechSegmenter,
  type SpeechStartEvent,
} from "./segmenter.js";

export interface StreamingVadOptions {
  /** Per-window speech probabilities (SileroVad in the daemon). reset() is forwarded to it. */
  detector: Pick<VoiceActivityDetector, "process" | "reset">;
  segmenter?: Partial<SegmenterConfig>;
  /** Called with every window's probability, e.g. for metrics or debugging. */
  onWindow?: (probability: number, windowStartSample: number) => void;
}

/**
 * The events carry the segment's audio, in order and without gaps: the start event its first samples
 * (pre-roll included), "speech-audio" events what follows as it is judged speech (a pause in progress is
 * held back until speech resumes or the segment ends), the end event the rest up to its end (post-roll).
 * Together they are exactly the stream's samples [startSample, endSample). A discarded segment's end
 * carries null (its audio was a click, not speech).
 */
export type StreamingSpeechStartEvent = SpeechStartEvent & { samples: Float32Array };
export interface SpeechAudioEvent {
  type: "speech-audio";
  segment: number;
  /** Stream position of samples[0]. */
  start: number;
  samples: Float32Array;
  /** Short pauses inside these samples (too short to end the segment), stream positions, in order. */
  pauses: SpeechPause[];
}
export type StreamingSpeechEndEvent = SpeechEndEvent & { samples: Float32Array | null };
export type StreamingVadEvent =
  | StreamingSpeechStartEvent
  | SpeechConfirmedEvent
  | SpeechAudioEvent
  | StreamingSpeechEndEvent;

/**
 * Drives a detector and a SpeechSegmenter from arbitrary-size 16 kHz float32 chunks: re-blocks them
 * into 512-sample windows and keeps a ring buffer of recent audio (max segment + pre-roll + two
 * windows) so segment audio can be cut out. Calls must not overlap: await each push()/flush().
 * If the detector throws, the stream state is undefined: call reset() before continuing.
 */
export class StreamingVad {
  readonly segmenter: SpeechSegmenter;
  private readonly detector: Pick<VoiceActivityDetector, "process" | "reset">;
  private readonly onWindow: ((probability: number, windowStartSample: number) => void) | undefined;
  private readonly ring: Float32Array;
  private readonly frame = new Float32Array(VAD_WINDOW_SAMPLES);
  private frameFill = 0;
  private received = 0;
  /** Stream position up to which the open segment's audio went out with events. */
  private released = 0;
  private busy = false;

  constructor(options: StreamingVadOptions) {
    this.detector = options.detector;
    this.onWindow = options.onWindow;
    this.segmenter = new SpeechSegmenter(options.segmenter);
    const { maxSegmentMs, preRollMs } = this.segmenter.config;
    this.ring = new Float32Array(msToSamples(maxSegmentMs) + msToSamples(preRollMs) + 2 * VAD_WINDOW_SAMPLES);
  }

  /** Samples received so far (stream position of the next sample). */
  get receivedSamples(): number {
    return this.received;
  }

  /** Samples judged by the detector so far (whole windows only). */
  get processedSamples(): number {
    return this.segmenter.position;
  }

  /** Feeds the next chunk of the stream; returns the events it caused, in order. */
  async push(chunk: Float32Array): Promise<StreamingVadEvent[]> {
    if (!(chunk instanceof Float32Array)) {
      throw new VadUsageError("StreamingVad.push() needs a Float32Array of 16 kHz mono samples");
    }
    this.enter();
    try {
      const events: StreamingVadEvent[] = [];
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(VAD_WINDOW_SAMPLES - this.frameFill, chunk.length - offset);
        const piece = chunk.subarray(offset, offset + take);
        this.frame.set(piece, this.frameFill);
        this.writeRing(piece);
        this.frameFill += take;
        offset += take;
        if (this.frameFill === VAD_WINDOW_SAMPLES) {
          this.frameFill = 0;
          const windowStart = this.segmenter.position;
          const probability = await this.detector.process(this.frame);
          this.onWindow?.(probability, windowStart);
          // Speech judged before this window goes out before the window's events (same segment, in order).
          const segment = this.segmenter.openSegmentId;
          const speechEnd = this.segmenter.openSpeechEnd;
          const fresh = this.segmenter.push(probability);
          if (fresh.length > 0) {
            this.releaseSpeech(events, segment, speechEnd);
            for (const event of fresh) events.push(this.withAudio(event));
          }
        }
      }
      this.releaseSpeech(events, this.segmenter.openSegmentId, this.segmenter.openSpeechEnd);
      return events;
    } finally {
      this.busy = false;
    }
  }

  /**
   * End of stream: ends the open segment. A trailing partial window (< 512 samples, < 32 ms) is not
   * judged and not included. The stream can continue afterwards; call reset() for a new one.
   */
  async flush(): Promise<StreamingVadEvent[]> {
    this.enter();
    try {
      return this.segmenter.flush().map((event) => this.withAudio(event));
    } finally {
      this.busy = false;
    }
  }

  /** Starts a new stream at position 0 (also resets the detector). */
  reset(): void {
    this.segmenter.reset();
    this.detector.reset();
    this.frameFill = 0;
    this.received = 0;
  }

  /** Copy of stream samples [startSample, endSample); throws if they are no longer (or not yet) buffered. */
  audio(startSample: number, endSample: number): Float32Array {
    const oldest = Math.max(0, this.received - this.ring.length);
    if (!(startSample >= oldest && startSample <= endSample && endSample <= this.received)) {
      throw new VadUsageError(
        `samples [${startSample}, ${endSample}) are not buffered (buffer holds [${oldest}, ${this.received}))`,
      );
    }
    const out = new Float32Array(endSample - startSample);
    const capacity = this.ring.length;
    const from = startSample % capacity;
    const firstPart = Math.min(out.length, capacity - from);
    out.set(this.ring.subarray(from, from + firstPart));
    if (firstPart < out.length) out.set(this.ring.subarray(0, out.length - firstPart), firstPart);
    return out;
  }

  private enter(): void {
    if (this.busy) {
      throw new VadUsageError(
        "StreamingVad called while a previous push()/flush() is running; await each call",
      );
    }
    this.busy = true;
  }

  private writeRing(piece: Float32Array): void {
    const capacity = this.ring.length;
    const at = this.received % capacity;
    const firstPart = Math.min(piece.length, capacity - at);
    this.ring.set(piece.subarray(0, firstPart), at);
    if (firstPart < piece.length) this.ring.set(piece.subarray(firstPart), 0);
    this.received += piece.length;
  }

  /** Speech of the open `segment` up to `until` not handed out yet, as a "speech-audio" event. */
  private releaseSpeech(events: StreamingVadEvent[], segment: number | null, until: number | null): void {
    if (until === null || segment === null || until <= this.released) return;
    events.push({
      type: "speech-audio",
      segment,
      start: this.released,
      samples: this.audio(this.released, until),
      pauses: this.segmenter.takePauses(),
    });
    this.released = until;
  }

  private withAudio(event: SpeechStartEvent | SpeechConfirmedEvent | SpeechEndEvent): StreamingVadEvent {
    if (event.type === "speech-start") {
      const until = Math.max(event.startSample, this.segmenter.openSpeechEnd ?? event.startSample);
      this.released = until;
      return { ...event, samples: this.audio(event.startSample, until) };
    }
    if (event.type !== "speech-end") return event;
    const samples = event.discarded
      ? null
      : this.audio(Math.min(this.released, event.endSample), event.endSample);
    this.released = event.endSample;
    return { ...event, samples };
  }
}
