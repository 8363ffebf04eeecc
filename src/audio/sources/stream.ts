import type { Readable } from "node:stream";
import { setTimeout as sleep, setImmediate as yieldToLoop } from "node:timers/promises";
import type { Logger } from "../../util/log.js";
import { parseWavHeader, WavFormatError } from "../wav.js";
import { PcmDecoder, type RawFormat, s16leFormat } from "./pcm.js";
import {
  AudioInputError,
  type AudioListener,
  type AudioSource,
  type AudioSourceStatus,
  type EndListener,
  SOURCE_SAMPLE_RATE,
  SourceEmitter,
} from "./source.js";

export type InputFormat = "auto" | "wav" | "raw";

/** Unpaced delivery returns to the event loop at least this often. */
const YIELD_EVERY_MS = 10;
/** Largest unpaced delivery (0.5 s): bounds how long one chunk holds the pipeline. */
const MAX_BURST_SAMPLES = 8192;

export interface StreamSourceOptions {
  /** "auto": WAV when the input starts with "RIFF", else raw. */
  format?: InputFormat;
  /** Layout of raw s16le input (WAV carries its own). Default 16 kHz mono. */
  raw?: Partial<RawFormat>;
  /** Deliver at the wall-clock pace of live capture instead of as fast as the listeners take it. */
  realtime?: boolean;
  /** Samples per delivered chunk (16 kHz), or per unit of a larger unpaced delivery. Default 512 = 32 ms, one VAD window. */
  chunkSamples?: number;
  logger: Logger;
}

/**
 * A finite byte stream (file, stdin) as an AudioSource. Reads only as fast as listeners accept
 * audio (async iteration + awaited delivery), so nothing is dropped however slow the pipeline is.
 */
export class StreamAudioSource implements AudioSource {
  private readonly emitter: SourceEmitter;
  private readonly abort = new AbortController();
  private input: Readable | undefined;
  private pumping: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Settles when the input format is known (or found to be bad). */
  protected formatKnown: Promise<void> = Promise.resolve();
  private resolveFormat: () => void = () => {};
  private rejectFormat: (err: Error) => void = () => {};
  private pending: Float32Array[] = [];
  private pendingLength = 0;
  private delivered = 0;
  private startedAt = 0;
  private lastYield = 0;

  constructor(
    readonly kind: "file" | "stdin",
    private readonly open: () => Promise<Readable>,
    private readonly options: StreamSourceOptions,
  ) {
    this.emitter = new SourceEmitter(options.logger);
  }

  onAudio(listener: AudioListener): () => void {
    return this.emitter.onAudio(listener);
  }

  onEnd(listener: EndListener): () => void {
    return this.emitter.onEnd(listener);
  }

  status(): AudioSourceStatus {
    return this.emitter.status();
  }

  /** Opens the input and starts delivering; resolves once reading has begun. */
  async start(): Promise<void> {
    if (this.pumping || this.stopping) return;
    this.emitter.setState("starting");
    this.formatKnown = new Promise<void>((resolve, reject) => {
      this.resolveFormat = resolve;
      this.rejectFormat = reject;
    });
    // Observed by subclasses that choose to wait; never an unhandled rejection otherwise.
    this.formatKnown.catch(() => {});
    try {
      this.input = await this.open();
    } catch (err) {
      const error = err instanceof AudioInputError ? err : new AudioInputError(String(err), { cause: err });
      this.emitter.setState("ended", error.message);
      throw error;
    }
    this.emitter.setState("running");
    this.startedAt = performance.now();
    this.pumping = this.pump(this.input);
  }

  stop(): Promise<void> {
    this.stopping ??= this.halt();
    return this.stopping;
  }

  private async halt(): Promise<void> {
    this.abort.abort();
    this.input?.destroy();
    // A listener that never settles must not hold shutdown hostage.
    if (this.pumping) await Promise.race([this.pumping, sleep(1000, undefined, { ref: false })]);
    if (this.emitter.state !== "ended") this.emitter.setState("stopped");
  }

  private async pump(input: Readable): Promise<void> {
    let error: Error | undefined;
    try {
      await this.read(input);
    } catch (err) {
      if (!this.abort.signal.aborted) {
        error =
          err instanceof AudioInputError
            ? err
            : new AudioInputError(`reading ${this.kind} input failed: ${String(err)}`, { cause: err });
      }
    }
    this.rejectFormat(error ?? new AudioInputError(`${this.kind} input ended before any audio`));
    if (this.abort.signal.aborted) return;
    if (error) this.options.logger.error("audio input failed", { source: this.kind, error: error.message });
    this.emitter.setState("ended", error?.message);
    this.emitter.end(error);
  }

  private async read(input: Readable): Promise<void> {
    const format = this.options.format ?? "auto";
    const raw = s16leFormat({ sampleRate: SOURCE_SAMPLE_RATE, channels: 1, ...this.options.raw });
    let decoder: PcmDecoder | undefined;
    /** Bytes seen before the format is known: a WAV header may arrive in pieces. */
    let head: Buffer = Buffer.alloc(0);
    let isWav = format === "wav";
    /** Sample bytes left in a WAV data chunk of declared size. */
    let remaining: number | undefined;

    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (this.abort.signal.aborted) return;
      // Nothing else buffered: this chunk was just read, on a turn of the event loop; a pipe that delivers
      // a microphone's periods then costs no extra wake-up to yield (idle CPU).
      if (input.readableLength === 0) this.lastYield = performance.now();
      let bytes: Buffer = chunk;
      if (!decoder) {
        head = head.length > 0 ? Buffer.concat([head, bytes]) : bytes;
        if (format === "auto") {
          // Four bytes tell "RIFF"/"RF64" from raw samples.
          if (head.length < 4) continue;
          isWav = ["RIFF", "RF64"].includes(head.toString("latin1", 0, 4));
        }
        if (isWav) {
          const header = parseHeader(head);
          if (!header) continue;
          decoder = new PcmDecoder(header.format);
          remaining = header.dataLength ?? undefined;
          bytes = head.subarray(header.dataOffset);
        } else {
          decoder = new PcmDecoder(raw);
          bytes = head;
        }
        head = Buffer.alloc(0);
        this.resolveFormat();
      }
      if (remaining !== undefined) {
        // Stop at the end of the data chunk; trailing chunks (LIST, id3) are not audio.
        if (bytes.length > remaining) bytes = bytes.subarray(0, remaining);
        remaining -= bytes.length;
      }
      await this.emit(decoder.push(bytes), false);
      if (remaining === 0) break;
    }
    if (!decoder && !isWav && head.length > 0) {
      // Fewer than four bytes in all: raw.
      decoder = new PcmDecoder(raw);
      this.resolveFormat();
      await this.emit(decoder.push(head), false);
    }
    if (!decoder) {
      throw new AudioInputError(
        isWav && head.length > 0 ? "WAV input ended inside its header" : `${this.kind} input is empty`,
      );
    }
    await this.emit(decoder.flush(), true);
  }

  /**
   * Cuts decoded audio into chunks and delivers them. Paced (realtime): one chunk of `chunkSamples` at the
   * end of its time span, as live capture would. Unpaced: as much as has been read, in whole chunks of up
   * to MAX_BURST_SAMPLES, so a pipe that delivers a microphone's periods costs one delivery per period.
   */
  private async emit(samples: Float32Array, final: boolean): Promise<void> {
    if (samples.length > 0) {
      this.pending.push(samples);
      this.pendingLength += samples.length;
    }
    const size = this.options.chunkSamples ?? 512;
    while (this.pendingLength >= size || (final && this.pendingLength > 0)) {
      if (this.abort.signal.aborted) return;
      const whole = Math.min(this.pendingLength - (this.pendingLength % size), MAX_BURST_SAMPLES);
      const n = this.options.realtime
        ? Math.min(size, this.pendingLength)
        : whole > 0
          ? whole
          : this.pendingLength;
      const chunk = this.take(n);
      if (this.options.realtime) {
        // Live capture hands a chunk over once it has been recorded: at the end of its time span.
        const due = this.startedAt + ((this.delivered + chunk.length) / SOURCE_SAMPLE_RATE) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => {});
        if (this.abort.signal.aborted) return;
      } else if (performance.now() - this.lastYield > YIELD_EVERY_MS) {
        // A file read as fast as it goes must not starve the event loop (HTTP, MQTT); a pipe that delivers
        // a period at a time already returns to it between reads, and an extra wake-up per read is idle CPU.
        await yieldToLoop();
        this.lastYield = performance.now();
      }
      this.delivered += chunk.length;
      await this.emitter.deliver(chunk);
    }
  }

  private take(n: number): Float32Array {
    const out = new Float32Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.pending[0];
      const need = n - filled;
      if (head.length <= need) {
        out.set(head, filled);
        filled += head.length;
        this.pending.shift();
      } else {
        out.set(head.subarray(0, need), filled);
        this.pending[0] = head.subarray(need);
        filled += need;
      }
    }
    this.pendingLength -= n;
    return out;
  }
}

/** src/audio/wav.ts's streaming header parser, its errors as AudioInputError. */
function parseHeader(bytes: Buffer): ReturnType<typeof parseWavHeader> {
  try {
    return parseWavHeader(bytes);
  } catch (err) {
    if (err instanceof WavFormatError) throw new AudioInputError(err.message, { cause: err });
    throw err;
  }
}
