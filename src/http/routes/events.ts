import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { DetectionEvent, HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";

const DEFAULT_HEARTBEAT_SECONDS = 15;
/** A household has a few pages open at most; every stream holds a socket and a timer. */
export const DEFAULT_MAX_EVENT_STREAMS = 16;
/** A client this far behind is too slow to follow; further events are dropped for it until it catches up. */
const MAX_PENDING_WRITES = 256;

/**
 * GET /api/events: live detections as server-sent events (`event: detection`, JSON data), a `ready` event
 * once subscribed, and keep-alive comments. `shutdown` ends every open stream (server close).
 */
export function eventsRoutes(deps: HttpDeps, shutdown: AbortSignal): Hono {
  const app = new Hono();
  const log = deps.logger;
  const heartbeatMs = (deps.config.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000;
  const maxStreams = deps.config.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
  let open = 0;
  // One listener on the shared shutdown signal for all streams: one per stream would pass Node's limit of
  // ten and print a MaxListenersExceededWarning, which reads like a leak.
  const endOnShutdown = new Set<() => void>();
  shutdown.addEventListener("abort", () => {
    for (const end of endOnShutdown) end();
  });

  app.get("/", (c) => {
    if (open >= maxStreams) {
      throw new ApiError(429, "too_many_streams", `${maxStreams} event streams are open already; close one`, {
        "Retry-After": "10",
      });
    }
    const clientGone = c.req.raw.signal;
    open += 1;
    return streamSSE(c, async (stream) => {
      try {
        await follow(stream, clientGone);
      } finally {
        open -= 1;
      }
    });
  });

  const follow = async (stream: SSEStreamingApi, clientGone: AbortSignal): Promise<void> => {
    if (shutdown.aborted || clientGone.aborted) return;
    const writer = new OrderedWriter(stream);
    let id = 0;
    const unsubscribe = deps.detections.subscribe((event: DetectionEvent) => {
      id += 1;
      if (!writer.push({ event: "detection", data: JSON.stringify(event), id: String(id) })) {
        log.warn("SSE client too slow; dropped a detection event");
      }
    });
    const heartbeat = setInterval(() => writer.pushRaw(": keep-alive\n\n"), heartbeatMs);
    let end = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    stream.onAbort(end);
    clientGone.addEventListener("abort", end);
    endOnShutdown.add(end);
    try {
      writer.push({ event: "ready", data: "{}", retry: 3000 });
      await ended;
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
      clientGone.removeEventListener("abort", end);
      endOnShutdown.delete(end);
      log.debug("SSE stream ended", { shutdown: shutdown.aborted });
    }
  };
  return app;
}

/** Serialises writes to one SSE stream (writes wait for the client to read) and bounds the backlog. */
class OrderedWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly stream: SSEStreamingApi) {}

  push(message: { event: string; data: string; id?: string; retry?: number }): boolean {
    return this.enqueue(() => this.stream.writeSSE(message));
  }

  pushRaw(text: string): boolean {
    return this.enqueue(() => this.stream.write(text));
  }

  private enqueue(write: () => Promise<unknown>): boolean {
    if (this.stream.aborted || this.stream.closed) return false;
    if (this.pending >= MAX_PENDING_WRITES) return false;
    this.pending += 1;
    this.tail = this.tail
      .then(write)
      .catch(() => {})
      .finally(() => {
        this.pending -= 1;
      });
    return true;
  }
}
