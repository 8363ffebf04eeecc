import type { Component } from "../../util/lifecycle.js";
import type { Logger } from "../../util/log.js";

/** Every source delivers 16 kHz mono float32 in [-1, 1], whatever it captures or reads. */
export const SOURCE_SAMPLE_RATE = 16_000;

/**
 * Receives audio in order. Returning a promise is backpressure: the source delivers nothing more until
 * it settles (file/stdin read nothing further; the microphone pauses its pipe, which buffers ~2 s).
 */
export type AudioListener = (chunk: Float32Array) => void | Promise<void>;
/** A finite source ran out (error undefined) or failed for good (error set). Not called on stop(). */
export type EndListener = (error?: Error) => void;

export type AudioSourceState = "starting" | "running" | "retrying" | "stopped" | "ended";

export interface AudioSourceStatus {
  state: AudioSourceState;
  /** The last thing that went wrong (recorder exit, unreadable input), kept after recovery. */
  lastError?: string;
  /** Times the recorder was restarted after failing. */
  restarts: number;
  /** When the current state began (ms since the epoch). */
  since: number;
}

export interface AudioSource extends Component {
  readonly kind: "microphone" | "command" | "file" | "stdin";
  /** Adds a listener; returns a function that removes it. */
  onAudio(listener: AudioListener): () => void;
  onEnd(listener: EndListener): () => void;
  status(): AudioSourceStatus;
}

/** Input that cannot be used as audio (missing file, malformed or unsupported WAV). */
export class AudioInputError extends Error {
  readonly code = "audio_input";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AudioInputError";
  }
}

/**
 * Listener bookkeeping and status shared by the sources (composition, not a base class). Listener
 * failures are logged, never thrown back into the capture loop: one bad consumer must not stop audio.
 */
export class SourceEmitter {
  private readonly audioListeners = new Set<AudioListener>();
  private readonly endListeners = new Set<EndListener>();
  private current: AudioSourceStatus = { state: "stopped", restarts: 0, since: Date.now() };

  constructor(private readonly logger: Logger) {}

  onAudio(listener: AudioListener): () => void {
    this.audioListeners.add(listener);
    return () => this.audioListeners.delete(listener);
  }

  onEnd(listener: EndListener): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  status(): AudioSourceStatus {
    return { ...this.current };
  }

  get state(): AudioSourceState {
    return this.current.state;
  }

  setState(state: AudioSourceState, lastError?: string): void {
    const next = { ...this.current, lastError: lastError ?? this.current.lastError };
    if (state !== this.current.state) {
      next.state = state;
      next.since = Date.now();
    }
    this.current = next;
  }

  countRestart(): void {
    this.current = { ...this.current, restarts: this.current.restarts + 1 };
  }

  /** Calls every listener; returns a promise only if some listener asked to be awaited. */
  deliver(chunk: Float32Array): Promise<void> | undefined {
    let pending: Promise<void>[] | undefined;
    for (const listener of this.audioListeners) {
      try {
        const result = listener(chunk);
        if (result && typeof result.then === "function") {
          pending ??= [];
          pending.push(result.catch((err: unknown) => this.listenerFailed(err)));
        }
      } catch (err) {
        this.listenerFailed(err);
      }
    }
    return pending ? Promise.all(pending).then(() => undefined) : undefined;
  }

  end(error?: Error): void {
    for (const listener of this.endListeners) {
      try {
        listener(error);
      } catch (err) {
        this.listenerFailed(err);
      }
    }
  }

  private listenerFailed(err: unknown): void {
    this.logger.error("audio listener failed", { error: err instanceof Error ? err.message : String(err) });
  }
}
