import { connect, type Socket } from "node:net";
import {
  DEFAULT_WYOMING_LIMITS,
  encodeEvent,
  WyomingDecoder,
  type WyomingEvent,
  type WyomingLimits,
  WyomingProtocolError,
} from "./codec.js";

/** No event came within the time next() was given. */
export class WyomingTimeoutError extends Error {
  constructor(ms: number) {
    super(`no event within ${ms} ms`);
    this.name = "WyomingTimeoutError";
  }
}

/** Events read ahead of the reader before the socket is paused (backpressure on a fast sender). */
const READ_AHEAD_EVENTS = 64;

/**
 * One Wyoming connection (either side): events in order through next(), events out through send().
 * A malformed peer ends next() with a WyomingProtocolError; the socket closing ends it with null.
 */
export class WyomingPeer {
  private readonly decoder: WyomingDecoder;
  private readonly queue: WyomingEvent[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;

  constructor(
    readonly socket: Socket,
    limits: WyomingLimits = DEFAULT_WYOMING_LIMITS,
  ) {
    this.decoder = new WyomingDecoder(limits);
    socket.on("data", (bytes: Buffer) => this.received(bytes));
    socket.on("end", () => this.finish(null));
    socket.on("close", () => this.finish(null));
    socket.on("error", (err) => this.finish(err));
  }

  /** Connects to `tcp://host:port`. */
  static connect(uri: string, timeoutMs: number, limits?: WyomingLimits): Promise<WyomingPeer> {
    const { host, port } = parseTcpUri(uri);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${uri} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new WyomingPeer(socket, limits));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${uri}: ${err.message}`));
      });
    });
  }

  /** The next event; null once the peer closed. Throws WyomingProtocolError on a malformed peer. */
  async next(timeoutMs?: number): Promise<WyomingEvent | null> {
    for (;;) {
      const event = this.queue.shift();
      if (event) {
        if (this.queue.length < READ_AHEAD_EVENTS / 2) this.socket.resume();
        return event;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            this.waiter = null;
            reject(new WyomingTimeoutError(timeoutMs));
          }, timeoutMs);
        }
      });
    }
  }

  /** Writes one event; resolves when the socket took it (waits for drain when its buffer is full). */
  send(event: WyomingEvent): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.socket.write(encodeEvent(event))) resolve();
      else {
        const done = () => {
          this.socket.off("drain", done);
          this.socket.off("close", done);
          resolve();
        };
        this.socket.once("drain", done);
        this.socket.once("close", done);
      }
    });
  }

  /** Says why (an `error` event, as the reference's Error) and closes. */
  async fail(text: string, code: string): Promise<void> {
    await this.send({ type: "error", data: { text, code }, payload: null });
    this.close();
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    // A peer that never reads must not keep the socket open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private received(bytes: Buffer): void {
    if (this.failure) return;
    try {
      this.queue.push(...this.decoder.push(bytes));
    } catch (err) {
      this.failure = err instanceof Error ? err : new WyomingProtocolError(String(err));
      this.socket.pause();
    }
    if (this.queue.length >= READ_AHEAD_EVENTS) this.socket.pause();
    this.wake();
  }

  private finish(err: Error | null): void {
    if (err && !this.failure) this.failure = err;
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** `tcp://host:port` -> host and port (the only transport Home Assistant uses). */
export function parseTcpUri(uri: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`"${uri}" is not a tcp://host:port address`);
  }
  const port = Number(url.port);
  if (url.protocol !== "tcp:" || !url.hostname || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`"${uri}" is not a tcp://host:port address`);
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port };
}
