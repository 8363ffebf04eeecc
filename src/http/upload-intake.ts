import type { Context } from "hono";
import { ApiError } from "./errors.js";

/** Uploads worked on at once: each holds its body (up to bodyLimitBytes) until the models are done with it. */
const DEFAULT_MAX_UPLOADS_IN_FLIGHT = 4;
/** An upload body must keep arriving at this rate (after the grace period): any home network does far better. */
const DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND = 64 * 1024;
/** Time every body gets before the rate counts: connection set-up, a phone waking its radio. */
export const DEFAULT_UPLOAD_GRACE_MS = 5000;

/** For a refusal in the middle of a body: the rest is not read, so the connection cannot carry another request. */
const CLOSE = { Connection: "close" };

export interface UploadIntakeOptions {
  /** Largest body accepted. */
  maxBodyBytes: number;
  /** Uploads worked on at once (default 4). */
  maxInFlight?: number;
  minBytesPerSecond?: number;
  graceMs?: number;
}

/**
 * How uploads come in. A body is read whole before it takes one of the few slots for the models: a client
 * that trickles its body holds a socket, never a slot, and is cut off once it falls behind the minimum rate
 * (`graceMs` + received / `minBytesPerSecond`). Memory is bounded by the bytes actually received, at most
 * `maxInFlight` full bodies across everything being read or worked on, so slow clients, which hold almost
 * nothing, cannot keep a real upload out either.
 */
export class UploadIntake {
  private readonly maxBodyBytes: number;
  private readonly maxInFlight: number;
  private readonly maxHeldBytes: number;
  private readonly minBytesPerSecond: number;
  private readonly graceMs: number;
  private inFlight = 0;
  private heldBytes = 0;

  constructor(options: UploadIntakeOptions) {
    this.maxBodyBytes = options.maxBodyBytes;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_UPLOADS_IN_FLIGHT;
    this.maxHeldBytes = this.maxInFlight * this.maxBodyBytes;
    this.minBytesPerSecond = options.minBytesPerSecond ?? DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND;
    this.graceMs = options.graceMs ?? DEFAULT_UPLOAD_GRACE_MS;
  }

  /** Receives the request's whole body, then runs `work` on it in a slot; 413, 408 or 429 otherwise. */
  async take<T>(c: Context, work: (body: Uint8Array) => Promise<T>): Promise<T> {
    const declared = Number(c.req.header("content-length") ?? 0);
    if (declared > this.maxBodyBytes) throw this.tooLarge();
    // Every slot busy with an upload that has arrived: not worth holding another body for (checked again
    // once it is in, since a slot taken now may be free by then, and one free now may not be).
    if (this.inFlight >= this.maxInFlight) throw this.busy();
    const held = { bytes: 0 };
    try {
      const body = await this.receive(c, held);
      if (this.inFlight >= this.maxInFlight) throw this.busy();
      this.inFlight++;
      try {
        return await work(body);
      } finally {
        this.inFlight--;
      }
    } finally {
      this.heldBytes -= held.bytes;
    }
  }

  private async receive(c: Context, held: { bytes: number }): Promise<Uint8Array> {
    const stream = c.req.raw.body;
    if (stream === null) return new Uint8Array(0);
    const reader = stream.getReader();
    const started = performance.now();
    const chunks: Uint8Array[] = [];
    let timer: NodeJS.Timeout | undefined;
    let tooSlow: (err: ApiError) => void = () => {};
    const deadline = new Promise<never>((_, reject) => {
      tooSlow = reject;
    });
    // The deadline moves with every chunk: a body may take as long as its bytes justify at the minimum rate.
    const armDeadline = () => {
      clearTimeout(timer);
      const due = started + this.graceMs + (held.bytes / this.minBytesPerSecond) * 1000;
      timer = setTimeout(
        () => tooSlow(this.slow(held.bytes, performance.now() - started)),
        due - performance.now(),
      );
    };
    try {
      for (;;) {
        armDeadline();
        const { done, value } = await Promise.race([reader.read(), deadline]);
        if (done) break;
        if (held.bytes + value.length > this.maxBodyBytes) throw this.tooLarge(CLOSE);
        if (this.heldBytes + value.length > this.maxHeldBytes) throw this.busy(CLOSE);
        held.bytes += value.length;
        this.heldBytes += value.length;
        chunks.push(value);
      }
    } catch (err) {
      // Nothing more is read: the answer closes the connection (CLOSE).
      reader.cancel().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return concatenate(chunks, held.bytes);
  }

  private tooLarge(headers: Record<string, string> = {}): ApiError {
    return new ApiError(
      413,
      "payload_too_large",
      `the request body exceeds the limit of ${this.maxBodyBytes} bytes`,
      headers,
    );
  }

  private busy(headers: Record<string, string> = {}): ApiError {
    return new ApiError(
      429,
      "too_many_uploads",
      `${this.maxInFlight} uploads are being processed; try again shortly`,
      { ...headers, "Retry-After": "5" },
    );
  }

  private slow(received: number, elapsedMs: number): ApiError {
    const rate = Math.round(this.minBytesPerSecond / 1024);
    return new ApiError(
      408,
      "upload_too_slow",
      `the upload arrived too slowly (${received} bytes in ${(elapsedMs / 1000).toFixed(1)} s); ` +
        `it must keep coming at ${rate} KiB/s or more`,
      CLOSE,
    );
  }
}

function concatenate(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
