import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";

export interface MqttTlsOptions {
  /** PEM file paths, read at start(). */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

/** A retained message the broker publishes for us when the connection dies, and we publish on stop(). */
export interface LastWill {
  topic: string;
  payload: string;
}

export interface MqttConnectionOptions {
  /** mqtt://, mqtts://, ws:// or wss:// broker URL. */
  url: string;
  username?: string;
  password?: string;
  tls?: MqttTlsOptions;
  /** Default: `<clientIdPrefix>-<random>`, so two daemons never kick each other off the broker. */
  clientId?: string;
  clientIdPrefix?: string;
  will: LastWill;
  /** First retry delay after a failed or lost connection; doubles per failure (default 1000 ms). */
  reconnectMinMs?: number;
  /** Cap for the retry delay (default 30000 ms). */
  reconnectMaxMs?: number;
  /** Give up on one connection attempt after this long (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Upper bound for stop() to publish the will and disconnect (default 2000 ms). */
  stopTimeoutMs?: number;
  /** Events kept while disconnected (default 100, oldest dropped first). */
  offlineEventLimit?: number;
  /**
   * Kept events older than this at reconnect are dropped (default 2000 ms): "Alice started talking" half a
   * minute late would set off automations for a conversation long over. Retained states are republished
   * by the connect listeners, so they are right whatever was dropped.
   */
  offlineEventMaxAgeMs?: number;
  logger: Logger;
}

export interface MqttConnectionStatus {
  connected: boolean;
  /** Last connection or publish error, null when none happened yet. */
  lastError: string | null;
  /** Connection attempts after the first one (i.e. retries and reconnects). */
  reconnects: number;
  /** Messages the broker acknowledged. */
  messagesPublished: number;
  /** Events waiting for the connection to come back. */
  queuedEvents: number;
  /** Events never sent: too old when the connection came back, or over the queue limit. */
  droppedEvents: number;
}

export class MqttConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MqttConfigError";
  }
}

export type MessageHandler = (payload: string) => void;
/** For topic filters (wildcards) and binary payloads: the topic it came on, the bytes, and the retain flag. */
export type RawMessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;
/** Called on every (re)connect, in registration order, before queued events are flushed. */
export type ConnectListener = () => void;

interface QueuedEvent {
  topic: string;
  payload: string;
  queuedAt: number;
}

export const DEFAULT_OFFLINE_EVENT_MAX_AGE_MS = 2000;
const SUPPORTED_PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "tls:", "ws:", "wss:"]);

/**
 * One resilient MQTT connection. The broker may be down at start or go away at any time; this never throws
 * for that. It retries with its own exponential backoff (a fresh mqtt.js client per attempt; mqtt.js' own
 * fixed-period reconnect is off) and tells its connect listeners, which republish their retained state
 * because the broker may have lost it.
 *
 * During an outage:
 * - `publishState` (retained) is dropped: the connect listeners republish the current state anyway.
 * - `publishEvent` (not retained) is kept, at most `offlineEventLimit`, and sent on reconnect only if at
 *   most `offlineEventMaxAgeMs` old; older ones are counted in `droppedEvents`.
 * - subscriptions are renewed on every connect (clean sessions).
 *
 * The last will is retained; stop() publishes it itself, since a broker sends it only on an unclean end.
 */
export class MqttConnection implements Component {
  private readonly log: Logger;
  private running = false;
  private client: MqttClient | null = null;
  private connectedNow = false;
  /** A connection was up before: the next one is a reconnect (a broker down at start is not). */
  private everConnected = false;
  private connectOptions: IClientOptions | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private attempts = 0;
  private lastError: string | null = null;
  private messagesPublished = 0;
  private droppedEvents = 0;
  private offlineEvents: QueuedEvent[] = [];
  private readonly connectListeners = new Set<ConnectListener>();
  /** Several handlers may follow one topic (every room of a daemon follows Home Assistant's status). */
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly filterHandlers = new Map<string, RawMessageHandler>();

  constructor(private readonly options: MqttConnectionOptions) {
    this.log = options.logger.child("mqtt");
  }

  get connected(): boolean {
    return this.connectedNow;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.connectOptions = await this.buildConnectOptions();
    this.running = true;
    this.log.info("MQTT connection starting", { url: redactUrl(this.options.url) });
    this.connectOnce();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    const wasConnected = this.connectedNow;
    this.client = null;
    this.connectedNow = false;
    if (!client) {
      this.log.info("MQTT connection stopped");
      return;
    }
    const timeoutMs = this.options.stopTimeoutMs ?? 2000;
    if (wasConnected) {
      try {
        const { topic, payload } = this.options.will;
        await withTimeout(
          client.publishAsync(topic, payload, { qos: 1, retain: true }),
          timeoutMs,
          "publishing the will",
        );
        this.messagesPublished++;
        await withTimeout(client.endAsync(false), timeoutMs, "disconnecting");
      } catch (err) {
        this.log.warn("MQTT clean shutdown failed; closing the connection", { error: errorMessage(err) });
      }
    }
    // Whatever happened above: release the socket and settle pending callbacks now.
    client.end(true);
    client.stream?.destroy();
    this.log.info("MQTT connection stopped");
  }

  status(): MqttConnectionStatus {
    return {
      connected: this.connectedNow,
      lastError: this.lastError,
      reconnects: Math.max(0, this.attempts - 1),
      messagesPublished: this.messagesPublished,
      queuedEvents: this.offlineEvents.length,
      droppedEvents: this.droppedEvents,
    };
  }

  /** Adds a listener for every (re)connect; returns a function that removes it. */
  onConnect(listener: ConnectListener): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** Subscribes to one exact topic, now if connected and again on every reconnect. */
  subscribe(topic: string, handler: MessageHandler): () => void {
    const existing = this.handlers.get(topic);
    if (existing) {
      existing.add(handler);
      return () => this.unsubscribe(topic, handler);
    }
    this.handlers.set(topic, new Set([handler]));
    if (this.client && this.connectedNow) this.subscribeOn(this.client, topic);
    return () => this.unsubscribe(topic, handler);
  }

  private unsubscribe(topic: string, handler: MessageHandler): void {
    const handlers = this.handlers.get(topic);
    if (!handlers?.delete(handler) || handlers.size > 0) return;
    this.handlers.delete(topic);
    this.client?.unsubscribe(topic);
  }

  /** Subscribes to a topic filter ("+" and "#" allowed), now if connected and again on every reconnect. */
  subscribeFilter(filter: string, handler: RawMessageHandler): () => void {
    this.filterHandlers.set(filter, handler);
    if (this.client && this.connectedNow) this.subscribeOn(this.client, filter);
    return () => {
      this.filterHandlers.delete(filter);
      this.client?.unsubscribe(filter);
    };
  }

  /**
   * A retained state message; dropped while disconnected (connect listeners republish state). Settles
   * (never rejects) once the broker has acknowledged it, or at once when it was dropped.
   */
  publishState(topic: string, payload: string | Buffer): Promise<void> {
    return this.publish(topic, payload, true);
  }

  /**
   * A non-retained event: sent now, or kept for a short while during an outage. Settles (never rejects)
   * once the broker has acknowledged it, or at once when it was kept for later.
   */
  publishEvent(topic: string, payload: string): Promise<void> {
    if (this.connectedNow) return this.publish(topic, payload, false);
    this.offlineEvents.push({ topic, payload, queuedAt: Date.now() });
    const limit = this.options.offlineEventLimit ?? 100;
    if (this.offlineEvents.length > limit) {
      this.droppedEvents += this.offlineEvents.length - limit;
      this.offlineEvents.splice(0, this.offlineEvents.length - limit);
    }
    return Promise.resolve();
  }

  private async buildConnectOptions(): Promise<IClientOptions> {
    let url: URL;
    try {
      url = new URL(this.options.url);
    } catch {
      throw new MqttConfigError(
        `MQTT broker URL "${this.options.url}" is not a valid URL (e.g. mqtt://host:1883)`,
      );
    }
    if (!SUPPORTED_PROTOCOLS.has(url.protocol)) {
      throw new MqttConfigError(
        `MQTT broker URL "${redactUrl(this.options.url)}" has unsupported protocol "${url.protocol}" (use mqtt:, mqtts:, ws: or wss:)`,
      );
    }
    const tls = this.options.tls ?? {};
    const readPem = async (path: string | undefined, what: string): Promise<Buffer | undefined> => {
      if (path === undefined) return undefined;
      try {
        return await readFile(path);
      } catch (err) {
        throw new MqttConfigError(`cannot read MQTT TLS ${what} file "${path}": ${errorMessage(err)}`);
      }
    };
    const [ca, cert, key] = await Promise.all([
      readPem(tls.ca, "CA"),
      readPem(tls.cert, "certificate"),
      readPem(tls.key, "key"),
    ]);
    const clientId =
      this.options.clientId ??
      `${this.options.clientIdPrefix ?? "voiceid"}-${randomBytes(4).toString("hex")}`;
    return {
      clientId,
      username: this.options.username,
      password: this.options.password,
      ca,
      cert,
      key,
      rejectUnauthorized: tls.rejectUnauthorized,
      clean: true,
      // Our own backoff (scheduleRetry) replaces mqtt.js' fixed-period reconnect.
      reconnectPeriod: 0,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      will: {
        topic: this.options.will.topic,
        payload: Buffer.from(this.options.will.payload),
        qos: 1,
        retain: true,
      },
    };
  }

  private connectOnce(): void {
    if (!this.running || !this.connectOptions) return;
    this.attempts++;
    const client = connect(this.options.url, this.connectOptions);
    this.client = client;
    client.on("connect", () => {
      if (client === this.client) this.onConnected(client);
    });
    client.on("message", (topic, payload, packet) => {
      if (client !== this.client) return;
      for (const [filter, raw] of this.filterHandlers) {
        if (!topicMatches(filter, topic)) continue;
        try {
          raw(topic, payload, packet.retain);
        } catch (err) {
          this.recordError(`handling a message on ${topic}`, err);
        }
      }
      const handlers = this.handlers.get(topic);
      if (!handlers) return;
      const text = payload.toString();
      for (const handler of handlers) {
        try {
          handler(text);
        } catch (err) {
          this.recordError(`handling a message on ${topic}`, err);
        }
      }
    });
    // Always keep an error listener: an EventEmitter "error" without one would crash the daemon.
    client.on("error", (err) => {
      this.lastError = errorMessage(err);
      if (client === this.client) this.log.debug("MQTT client error", { error: this.lastError });
    });
    client.on("close", () => {
      if (client === this.client) this.onClosed(client);
    });
  }

  private onConnected(client: MqttClient): void {
    const isReconnect = this.everConnected;
    this.everConnected = true;
    this.connectedNow = true;
    this.failures = 0;
    this.log.info(isReconnect ? "MQTT reconnected" : "MQTT connected", { url: redactUrl(this.options.url) });
    for (const topic of [...this.handlers.keys(), ...this.filterHandlers.keys()])
      this.subscribeOn(client, topic);
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (err) {
        this.recordError("republishing state", err);
      }
    }
    this.flushOfflineEvents();
  }

  private subscribeOn(client: MqttClient, topic: string): void {
    client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) this.recordError(`subscribing to ${topic}`, err);
    });
  }

  private onClosed(client: MqttClient): void {
    const wasConnected = this.connectedNow;
    this.connectedNow = false;
    this.client = null;
    client.end(true);
    if (!this.running) return;
    if (wasConnected) this.log.warn("MQTT connection lost; reconnecting", { error: this.lastError });
    else if (this.failures === 0) {
      // Only the first failure of a streak is a warning; the retries after it are debug noise.
      this.log.warn("cannot reach the MQTT broker; retrying in the background", { error: this.lastError });
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const min = this.options.reconnectMinMs ?? 1000;
    const max = this.options.reconnectMaxMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures, 30));
    this.failures++;
    this.log.debug("MQTT retry scheduled", { delayMs: delay, error: this.lastError });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connectOnce();
    }, delay);
  }

  private flushOfflineEvents(): void {
    const maxAge = this.options.offlineEventMaxAgeMs ?? DEFAULT_OFFLINE_EVENT_MAX_AGE_MS;
    const now = Date.now();
    const queued = this.offlineEvents;
    this.offlineEvents = [];
    const fresh = queued.filter((e) => now - e.queuedAt <= maxAge);
    if (queued.length > fresh.length) {
      this.droppedEvents += queued.length - fresh.length;
      this.log.info("dropped events older than the outage allows; retained states are current", {
        dropped: queued.length - fresh.length,
        maxAgeMs: maxAge,
      });
    }
    for (const e of fresh) this.publish(e.topic, e.payload, false);
  }

  /** QoS 1: the callback comes with the broker's acknowledgement (by then it has passed the message on). */
  private publish(topic: string, payload: string | Buffer, retain: boolean): Promise<void> {
    const client = this.client;
    if (!client || !this.connectedNow) return Promise.resolve();
    return new Promise((resolve) => {
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        if (err) this.recordError(`publishing to ${topic}`, err);
        else this.messagesPublished++;
        resolve();
      });
    });
  }

  private recordError(what: string, err: unknown): void {
    this.lastError = `${what}: ${errorMessage(err)}`;
    this.log.debug("MQTT error", { error: this.lastError });
  }
}

/** MQTT topic filter matching: "+" is one level, a trailing "#" any number (also none). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return i === f.length - 1;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Never log credentials embedded in the URL. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return raw;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
