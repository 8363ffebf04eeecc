/**
 * The Wyoming protocol's framing, as the reference implementation (PyPI `wyoming`, event.py) writes it:
 * one JSON header line `{"type", "data"?, "data_length"?, "payload_length"?, "version"?}\n`, then
 * `data_length` bytes of JSON merged into `data`, then `payload_length` bytes of payload (audio).
 *
 * The reader is strict and bounded: a peer cannot make it buffer more than the limits, whatever it
 * sends; anything malformed is a WyomingProtocolError, and the caller closes the connection.
 */

/** Protocol version written in every header (the reference writes its package version). */
export const WYOMING_VERSION = "1.10.2";

export interface WyomingEvent {
  type: string;
  data: Record<string, unknown>;
  payload: Uint8Array | null;
}

export interface WyomingLimits {
  /** Longest header line, bytes (newline excluded). */
  maxHeaderBytes: number;
  /** Largest `data_length`. */
  maxDataBytes: number;
  /** Largest `payload_length` (one audio chunk). */
  maxPayloadBytes: number;
}

/** Generous for what satellites and Home Assistant send (headers ~100 B, chunks of a few KiB). */
export const DEFAULT_WYOMING_LIMITS: WyomingLimits = {
  maxHeaderBytes: 16 * 1024,
  maxDataBytes: 64 * 1024,
  maxPayloadBytes: 1024 * 1024,
};

export class WyomingProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WyomingProtocolError";
  }
}

const NEWLINE = 0x0a;
const EVENT_TYPE = /^[a-z][a-z0-9-]{0,63}$/;

/** Encodes one event as the reference does: data travels after the header, counted by data_length. */
export function encodeEvent(event: WyomingEvent): Buffer {
  const header: Record<string, unknown> = { type: event.type, version: WYOMING_VERSION };
  const data = Object.keys(event.data).length > 0 ? Buffer.from(JSON.stringify(event.data), "utf8") : null;
  if (data) header.data_length = data.length;
  const payload = event.payload && event.payload.length > 0 ? event.payload : null;
  if (payload) header.payload_length = payload.length;
  const parts: Uint8Array[] = [Buffer.from(`${JSON.stringify(header)}\n`, "utf8")];
  if (data) parts.push(data);
  if (payload) parts.push(payload);
  return Buffer.concat(parts);
}

interface PendingHeader {
  type: string;
  data: Record<string, unknown>;
  dataLength: number;
  payloadLength: number;
}

/**
 * Bytes in any chunking -> events. push() returns the events completed so far and throws a
 * WyomingProtocolError on the first malformed or oversized one (the decoder is then unusable).
 */
export class WyomingDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending: PendingHeader | null = null;
  private failed: WyomingProtocolError | null = null;

  constructor(private readonly limits: WyomingLimits = DEFAULT_WYOMING_LIMITS) {}

  /** Bytes received but not yet part of a whole event. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(bytes: Uint8Array): WyomingEvent[] {
    if (this.failed) throw this.failed;
    if (bytes.length > 0) {
      this.chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
      this.buffered += bytes.length;
    }
    const out: WyomingEvent[] = [];
    try {
      for (;;) {
        const event = this.next();
        if (!event) break;
        out.push(event);
      }
    } catch (err) {
      this.failed = err instanceof WyomingProtocolError ? err : new WyomingProtocolError(String(err));
      this.chunks = [];
      this.buffered = 0;
      throw this.failed;
    }
    return out;
  }

  private next(): WyomingEvent | null {
    if (!this.pending) {
      const line = this.takeLine();
      if (line === null) return null;
      this.pending = parseHeader(line, this.limits);
    }
    const { dataLength, payloadLength } = this.pending;
    if (this.buffered < dataLength + payloadLength) return null;
    const header = this.pending;
    this.pending = null;
    const data = { ...header.data };
    if (dataLength > 0) Object.assign(data, parseObject(this.take(dataLength), "data"));
    const payload = payloadLength > 0 ? new Uint8Array(this.take(payloadLength)) : null;
    return { type: header.type, data, payload };
  }

  /** The next header line without its newline, or null while incomplete (bounded by maxHeaderBytes). */
  private takeLine(): Buffer | null {
    let seen = 0;
    for (const chunk of this.chunks) {
      const at = chunk.indexOf(NEWLINE);
      if (at >= 0) {
        if (seen + at > this.limits.maxHeaderBytes) throw tooLongHeader(this.limits);
        const line = this.take(seen + at + 1);
        return line.subarray(0, line.length - 1);
      }
      seen += chunk.length;
      if (seen > this.limits.maxHeaderBytes) throw tooLongHeader(this.limits);
    }
    return null;
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0];
      const use = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, use);
      at += use;
      if (use === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(use);
    }
    this.buffered -= n;
    return out;
  }
}

function tooLongHeader(limits: WyomingLimits): WyomingProtocolError {
  return new WyomingProtocolError(`header line longer than ${limits.maxHeaderBytes} bytes`);
}

function parseObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new WyomingProtocolError(`${what} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WyomingProtocolError(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function length(value: unknown, name: string, max: number): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new WyomingProtocolError(`${name} must be a whole number >= 0`);
  }
  if (value > max) throw new WyomingProtocolError(`${name} ${value} is over the limit of ${max} bytes`);
  return value;
}

function parseHeader(line: Buffer, limits: WyomingLimits): PendingHeader {
  const header = parseObject(line, "header");
  const type = header.type;
  if (typeof type !== "string" || !EVENT_TYPE.test(type)) {
    throw new WyomingProtocolError("header has no valid event type");
  }
  const inline = header.data;
  if (inline !== undefined && inline !== null && (typeof inline !== "object" || Array.isArray(inline))) {
    throw new WyomingProtocolError("header data must be a JSON object");
  }
  return {
    type,
    data: (inline ?? {}) as Record<string, unknown>,
    dataLength: length(header.data_length, "data_length", limits.maxDataBytes),
    payloadLength: length(header.payload_length, "payload_length", limits.maxPayloadBytes),
  };
}
