import type { Logger } from "../util/log.js";
import type { DetectionEvent, DetectionFeed } from "./deps.js";

/**
 * Fan-out of live detections to /api/events subscribers: the daemon publish()es each event, every
 * subscriber gets it synchronously. A throwing subscriber is logged and does not affect the others.
 */
export class DetectionHub implements DetectionFeed {
  private readonly listeners = new Set<(event: DetectionEvent) => void>();

  constructor(private readonly logger?: Logger) {}

  get subscriberCount(): number {
    return this.listeners.size;
  }

  subscribe(listener: (event: DetectionEvent) => void): () => void {
    // Wrapped, so the same function subscribed twice gets two independent subscriptions.
    const entry = (event: DetectionEvent) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  publish(event: DetectionEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger?.warn("detection subscriber failed", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }
}
