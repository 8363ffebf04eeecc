import type { Logger } from "../util/log.js";
import { silentLogger } from "../util/log.js";
import type { SpeakerEncoder } from "./encoder.js";

/**
 * An encoder whose model is in memory only while it is used: start() loads it once to prove it works
 * and lets it go, the first voiceprint loads it again (tens of milliseconds; the first window of a turn
 * needs 1.6 s of speech anyway), and it is let go after `idleMs` without a voiceprint. A daemon listening
 * to an empty room then holds no encoder (about 7 MB for Resemblyzer, npm run bench:daemon).
 */
export class OnDemandEncoder implements SpeakerEncoder {
  private loaded = false;
  /** Loads and unloads, one at a time. */
  private transition: Promise<void> = Promise.resolve();
  private inflight = 0;
  private lastUsed = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly inner: SpeakerEncoder,
    private readonly idleMs: number,
    private readonly log: Logger = silentLogger,
  ) {}

  get modelId(): string {
    return this.inner.modelId;
  }
  get dim(): number {
    return this.inner.dim;
  }
  get provider(): SpeakerEncoder["provider"] {
    return this.inner.provider;
  }
  get defaultThreshold(): number {
    return this.inner.defaultThreshold;
  }
  get windowSamples(): number {
    return this.inner.windowSamples;
  }
  get hopSamples(): number {
    return this.inner.hopSamples;
  }

  async start(): Promise<void> {
    if (this.running) return;
    // A missing or broken model is reported now, not at the first voice.
    await this.serially(async () => {
      await this.inner.start();
      await this.inner.stop();
    });
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.serially(() => this.unload());
  }

  embedUtterance(samples: Float32Array): Promise<Float32Array> {
    return this.using(() => this.inner.embedUtterance(samples));
  }

  embedWindows(windows: Float32Array[]): Promise<Float32Array[]> {
    return this.using(() => this.inner.embedWindows(windows));
  }

  private async using<T>(work: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      if (!this.loaded) await this.serially(() => this.load());
      return await work();
    } finally {
      this.inflight--;
      this.lastUsed = performance.now();
      this.scheduleRelease(this.idleMs);
    }
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    const t0 = performance.now();
    await this.inner.start();
    this.loaded = true;
    this.log.debug("encoder loaded", { model: this.modelId, ms: Math.round(performance.now() - t0) });
  }

  private async unload(): Promise<void> {
    if (!this.loaded) return;
    this.loaded = false;
    await this.inner.stop();
  }

  private scheduleRelease(afterMs: number): void {
    if (this.timer || !this.running) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const idleFor = performance.now() - this.lastUsed;
        if (this.inflight > 0 || idleFor < this.idleMs) {
          this.scheduleRelease(this.idleMs - idleFor);
          return;
        }
        void this.serially(async () => {
          // A voiceprint may have started while this waited its turn.
          if (this.inflight > 0) return;
          await this.unload();
          this.log.debug("encoder released", {
            model: this.modelId,
            idleSeconds: Math.round(idleFor / 1000),
          });
        }).catch((err: unknown) =>
          this.log.warn("cannot release the encoder", {
            error: err instanceof Error ? err.message : String(err),
          }),
        );
      },
      Math.max(0, afterMs),
    );
    // Never what keeps the process alive.
    this.timer.unref();
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const next = this.transition.then(step);
    this.transition = next.catch(() => undefined);
    return next;
  }
}
