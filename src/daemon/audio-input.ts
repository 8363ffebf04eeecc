import { type AudioSourceDeps, createAudioSource } from "../audio/sources/factory.js";
import {
  type AudioListener,
  type AudioSource,
  type AudioSourceStatus,
  type EndListener,
  SourceEmitter,
} from "../audio/sources/source.js";
import { type AudioConfig, LIVE_SOURCES } from "../config/schema.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";

export interface AudioInputStatus extends Omit<AudioSourceStatus, "state"> {
  state: AudioSourceStatus["state"] | "muted";
}

/**
 * The daemon's audio input: the configured source, which can be muted. Muting a microphone (or a command)
 * stops the recorder (nothing is captured) and unmuting starts a fresh one; a file or stdin cannot be paused and
 * resumed, so while muted its audio is read and thrown away, never processed.
 */
export class AudioInput implements Component {
  private readonly emitter: SourceEmitter;
  private readonly mutex = new AsyncMutex();
  private source: AudioSource | null = null;
  private running = false;
  /** Restarts counted by sources replaced on unmute. */
  private earlierRestarts = 0;

  constructor(
    private readonly config: AudioConfig,
    private readonly deps: AudioSourceDeps,
    logger: Logger,
    /** Starts muted (the switch was off when the daemon stopped). */
    private muted = false,
  ) {
    this.emitter = new SourceEmitter(logger);
  }

  onAudio(listener: AudioListener): () => void {
    return this.emitter.onAudio(listener);
  }

  onEnd(listener: EndListener): () => void {
    return this.emitter.onEnd(listener);
  }

  /** Starts capturing, unless muted. */
  start(): Promise<void> {
    return this.mutex.run(async () => {
      if (this.running) return;
      this.running = true;
      if (!this.muted) await this.open();
    });
  }

  stop(): Promise<void> {
    return this.mutex.run(async () => {
      this.running = false;
      await this.close();
    });
  }

  setMuted(muted: boolean): Promise<void> {
    return this.mutex.run(async () => {
      if (muted === this.muted) return;
      this.muted = muted;
      if (!this.running) return;
      // Only a live source stops: a file or stdin keeps being read and its audio is dropped (see above).
      if (muted && LIVE_SOURCES.has(this.config.source)) await this.close();
      else if (!muted && !this.source) await this.open();
    });
  }

  status(): AudioInputStatus {
    const restarts = this.earlierRestarts + (this.source?.status().restarts ?? 0);
    if (this.muted) return { state: "muted", restarts, since: Date.now() };
    if (!this.source) return { state: this.running ? "starting" : "stopped", restarts, since: Date.now() };
    return { ...this.source.status(), restarts };
  }

  private async open(): Promise<void> {
    const source = createAudioSource(this.config, this.deps);
    source.onAudio((chunk) => (this.muted ? undefined : this.emitter.deliver(chunk)));
    source.onEnd((error) => this.emitter.end(error));
    this.source = source;
    await source.start();
  }

  private async close(): Promise<void> {
    const source = this.source;
    if (!source) return;
    this.source = null;
    this.earlierRestarts += source.status().restarts;
    await source.stop();
  }
}
