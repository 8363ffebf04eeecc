import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { type DiscoverySpeaker, DiscoveryState } from "./discovery.js";
import {
  AVAILABILITY_OFFLINE,
  AVAILABILITY_ONLINE,
  announcementOf,
  buildTopics,
  DEFAULT_BASE_TOPIC,
  DEFAULT_DISCOVERY_PREFIX,
  DEFAULT_HA_STATUS_TOPIC,
  DEFAULT_ROOM,
  identifiedEventPayload,
  type LastSpeakerPayload,
  lastSpeakerPayload,
  slugify,
  speechEventPayload,
  TALKING_OFF,
  TALKING_ON,
  type TimedDecision,
  type VoiceidTopics,
  validateTopicPrefix,
} from "./topics.js";

export interface MqttTlsOptions {
  /** PEM file paths, read at start(). */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

export interface HomeAssistantBridgeOptions {
  /** mqtt://, mqtts://, ws:// or wss:// broker URL. */
  url: string;
  username?: string;
  password?: string;
  tls?: MqttTlsOptions;
  /** Default: voiceid-<room>-<random>, so two daemons never kick each other off the broker. */
  clientId?: string;
  baseTopic?: string;
  room?: string;
  discoveryPrefix?: string;
  /** HA publishes "online" here when it (re)starts; we answer with discovery + state. */
  haStatusTopic?: string;
  /** First retry delay after a failed or lost connection; doubles per failure (default 1000 ms). */
  reconnectMinMs?: number;
  /** Cap for the retry delay (default 30000 ms). */
  reconnectMaxMs?: number;
  /** Give up on one connection attempt after this long (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Upper bound for stop() to say "offline" and disconnect (default 2000 ms). */
  stopTimeoutMs?: number;
  /** Events kept while disconnected (default 100, oldest dropped first). */
  offlineEventLimit?: number;
  /**
   * Kept events older than this at reconnect are dropped (default 2000 ms): "Alice started talking" half a
   * minute late would set off automations for a conversation long over. Retained states (talking, last
   * speaker) are republished on every reconnect, so they are right whatever was dropped.
   */
  offlineEventMaxAgeMs?: number;
  /** Shown in HA as the device's software version. */
  softwareVersion?: string;
  logger: Logger;
}

export interface HomeAssistantBridgeStatus {
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

interface QueuedEvent {
  topic: string;
  payload: string;
  queuedAt: number;
}

interface TurnState {
  /** The person the turn is named as (talking ON), or null. */
  speakerId: string | null;
  /** What was last claimed on the identified topic for this turn. */
  announced?: string;
}

export const DEFAULT_OFFLINE_EVENT_MAX_AGE_MS = 2000;
/** Turns without a "stopped" event must not pile up forever. */
const MAX_OPEN_TURNS = 32;
const SUPPORTED_PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "tls:", "ws:", "wss:"]);

/**
 * Publishes voiceid's state to an MQTT broker for Home Assistant: availability, device discovery,
 * per-speaker "talking" states, the last speaker and speech events (topics in topics.ts).
 *
 * The broker may be down at start or go away at any time; the bridge never throws for that. It retries
 * with its own exponential backoff (a fresh mqtt.js client per attempt, mqtt.js' own reconnect is off)
 * and on every (re)connect republishes availability, discovery and all retained state, because the
 * broker may have lost them. Events produced while disconnected are kept (bounded) and only sent on
 * reconnect if at most 2 s old; older ones are dropped since the retained state already tells the truth.
 */
export class HomeAssistantBridge implements Component {
  private readonly topics: VoiceidTopics;
  private readonly discovery: DiscoveryState;
  private readonly haStatusTopic: string;
  private readonly log: Logger;

  private running = false;
  private client: MqttClient | null = null;
  private connected = false;
  /** A connection was up before: the next one is a reconnect (a broker down at start is not). */
  private everConnected = false;
  private connectOptions: IClientOptions | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private attempts = 0;

  private lastError: string | null = null;
  private messagesPublished = 0;
  private droppedEvents = 0;

  private readonly turns = new Map<string, TurnState>();
  /** Talking payload last sent per speaker on this connection, to skip repeats. */
  private readonly sentTalking = new Map<string, string>();
  /** Removed speakers whose retained talking state still has to be cleared. */
  private readonly pendingClears = new Set<string>();
  private lastSpeaker: LastSpeakerPayload | null = null;
  private offlineEvents: QueuedEvent[] = [];

  constructor(private readonly options: HomeAssistantBridgeOptions) {
    // Pure derivations only: they validate topic settings early, nothing is opened here.
    this.topics = buildTopics(options.baseTopic ?? DEFAULT_BASE_TOPIC, options.room ?? DEFAULT_ROOM);
    this.discovery = new DiscoveryState({
      topics: this.topics,
      discoveryPrefix: options.discoveryPrefix ?? DEFAULT_DISCOVERY_PREFIX,
      softwareVersion: options.softwareVersion,
    });
    this.haStatusTopic = validateTopicPrefix(
      options.haStatusTopic ?? DEFAULT_HA_STATUS_TOPIC,
      "HA status topic",
    );
    this.log = options.logger.child("mqtt");
  }

  /** Topics this bridge publishes to (for logs, docs and tests). */
  get topicNames(): VoiceidTopics & { discovery: string } {
    return { ...this.topics, discovery: this.discovery.topic };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.connectOptions = await this.buildConnectOptions();
    this.running = true;
    this.log.info("MQTT bridge starting", { url: redactUrl(this.options.url), room: this.topics.room });
    this.connectOnce();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    const wasConnected = this.connected;
    this.client = null;
    this.connected = false;
    if (!client) {
      this.log.info("MQTT bridge stopped");
      return;
    }
    const timeoutMs = this.options.stopTimeoutMs ?? 2000;
    if (wasConnected) {
      try {
        await withTimeout(
          client.publishAsync(this.topics.availability, AVAILABILITY_OFFLINE, { qos: 1, retain: true }),
          timeoutMs,
          "publishing offline",
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
    this.log.info("MQTT bridge stopped");
  }

  status(): HomeAssistantBridgeStatus {
    return {
      connected: this.connected,
      lastError: this.lastError,
      reconnects: Math.max(0, this.attempts - 1),
      messagesPublished: this.messagesPublished,
      queuedEvents: this.offlineEvents.length,
      droppedEvents: this.droppedEvents,
    };
  }

  /**
   * The enrolled speakers. Updates discovery (talking sensor per speaker, event types), clears the
   * retained state of removed speakers and publishes names of renamed ones. Can be called before start().
   */
  setSpeakers(speakers: readonly DiscoverySpeaker[]): void {
    const change = this.discovery.setSpeakers(speakers);
    const known = this.discovery.speakerNames();
    for (const id of change.removedSpeakerIds) {
      this.pendingClears.add(id);
      this.sentTalking.delete(id);
    }
    for (const id of known.keys()) this.pendingClears.delete(id);
    for (const turn of this.turns.values()) {
      if (turn.speakerId !== null && !known.has(turn.speakerId)) turn.speakerId = null;
    }
    let lastSpeakerChanged = false;
    if (this.lastSpeaker?.speakerId != null) {
      const name = known.get(this.lastSpeaker.speakerId);
      if (name !== undefined && name !== this.lastSpeaker.speaker) {
        this.lastSpeaker = { ...this.lastSpeaker, speaker: name };
        lastSpeakerChanged = true;
      }
    }
    if (!this.connected) return;
    if (change.changed) this.publishDiscovery();
    this.publishPendingClears();
    this.publishTalkingStates();
    if (lastSpeakerChanged) this.publishLastSpeaker();
  }

  /**
   * One decision. Always published on the event topic. Home Assistant's entities follow only what is
   * claimed: a turn named as a person turns their "talking" ON until it stops and makes them the last
   * speaker; a voice confidently nobody enrolled sends "unknown"; pending, uncertain and too-short turns
   * change nothing there. One "identified" event per claim (and per change of it).
   */
  publishEvent(event: TimedDecision): void {
    const now = new Date();
    this.sendEvent(this.topics.event, JSON.stringify(speechEventPayload(event, this.topics.room)));

    const key = String(event.turnId);
    const previous = this.turns.get(key);
    const known = this.discovery.speakerNames();
    const claim = announcementOf(event);
    const speakerId = event.speakerId !== null && known.has(event.speakerId) ? event.speakerId : null;
    const turn: TurnState = {
      speakerId: claim === null ? (previous?.speakerId ?? null) : speakerId,
      announced: previous?.announced,
    };
    this.turns.delete(key); // re-inserted below to keep Map order = recency
    if (event.type !== "stopped") {
      this.turns.set(key, turn);
      while (this.turns.size > MAX_OPEN_TURNS) {
        const oldest = this.turns.keys().next().value;
        if (oldest === undefined) break;
        this.turns.delete(oldest);
      }
    }

    if (claim !== null && claim !== previous?.announced) {
      turn.announced = claim;
      this.sendEvent(
        this.topics.identified,
        JSON.stringify(identifiedEventPayload(event, this.topics.room, now)),
      );
      this.lastSpeaker = lastSpeakerPayload(event, now);
      this.publishLastSpeaker();
    } else if (event.type === "stopped" && claim !== null && this.lastSpeaker?.turnId === event.turnId) {
      // Final score of the turn.
      this.lastSpeaker = lastSpeakerPayload(event, now);
      this.publishLastSpeaker();
    }
    this.publishTalkingStates();
  }

  // -------------------------------------------------------------------------------------------------------
  // Connection handling

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
      this.options.clientId ?? `voiceid-${slugify(this.topics.room)}-${randomBytes(4).toString("hex")}`;
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
        topic: this.topics.availability,
        payload: Buffer.from(AVAILABILITY_OFFLINE),
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
      if (client !== this.client) return;
      this.onConnected(client);
    });
    client.on("message", (topic, payload) => {
      if (client !== this.client) return;
      if (topic === this.haStatusTopic && payload.toString() === AVAILABILITY_ONLINE) {
        this.log.info("Home Assistant came online; republishing discovery and state");
        this.publishAll();
      }
    });
    // Always keep an error listener: an EventEmitter "error" without one would crash the daemon.
    client.on("error", (err) => {
      this.lastError = errorMessage(err);
      if (client === this.client) this.log.debug("MQTT client error", { error: this.lastError });
    });
    client.on("close", () => {
      if (client !== this.client) return;
      this.onClosed(client);
    });
  }

  private onConnected(client: MqttClient): void {
    const isReconnect = this.everConnected;
    this.everConnected = true;
    this.connected = true;
    this.failures = 0;
    this.log.info(isReconnect ? "MQTT reconnected" : "MQTT connected", { url: redactUrl(this.options.url) });
    client.subscribe(this.haStatusTopic, { qos: 1 }, (err) => {
      if (err) this.recordError(`subscribing to ${this.haStatusTopic}`, err);
    });
    this.publishAll();
    this.flushOfflineEvents();
  }

  private onClosed(client: MqttClient): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.client = null;
    this.sentTalking.clear();
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

  // -------------------------------------------------------------------------------------------------------
  // Publishing

  /** Availability, discovery and all retained state: what a fresh broker or HA needs. */
  private publishAll(): void {
    this.publish(this.topics.availability, AVAILABILITY_ONLINE, true);
    this.publishDiscovery();
    this.publishPendingClears();
    this.sentTalking.clear();
    this.publishTalkingStates();
    this.publishLastSpeaker();
  }

  private publishDiscovery(): void {
    this.publish(this.discovery.topic, JSON.stringify(this.discovery.payload()), true);
  }

  private publishPendingClears(): void {
    if (!this.connected) return;
    for (const id of this.pendingClears) {
      // An empty retained message deletes the retained talking state of a removed speaker.
      this.publish(this.topics.talking(id), "", true);
    }
    this.pendingClears.clear();
  }

  private publishTalkingStates(): void {
    if (!this.connected) return;
    const talking = new Set<string>();
    for (const turn of this.turns.values()) if (turn.speakerId !== null) talking.add(turn.speakerId);
    for (const id of this.discovery.speakerNames().keys()) {
      const state = talking.has(id) ? TALKING_ON : TALKING_OFF;
      if (this.sentTalking.get(id) === state) continue;
      this.sentTalking.set(id, state);
      this.publish(this.topics.talking(id), state, true);
    }
  }

  private publishLastSpeaker(): void {
    if (this.lastSpeaker) this.publish(this.topics.lastSpeaker, JSON.stringify(this.lastSpeaker), true);
  }

  /** Non-retained event: sent now, or kept for a short while if we are offline. */
  private sendEvent(topic: string, payload: string): void {
    if (this.connected) {
      this.publish(topic, payload, false);
      return;
    }
    this.offlineEvents.push({ topic, payload, queuedAt: Date.now() });
    const limit = this.options.offlineEventLimit ?? 100;
    if (this.offlineEvents.length > limit) {
      this.droppedEvents += this.offlineEvents.length - limit;
      this.offlineEvents.splice(0, this.offlineEvents.length - limit);
    }
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

  private publish(topic: string, payload: string, retain: boolean): void {
    const client = this.client;
    if (!client || !this.connected) return;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err) this.recordError(`publishing to ${topic}`, err);
      else this.messagesPublished++;
    });
  }

  private recordError(what: string, err: unknown): void {
    this.lastError = `${what}: ${errorMessage(err)}`;
    this.log.debug("MQTT error", { error: this.lastError });
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Never log credentials embedded in the URL. */
function redactUrl(raw: string): string {
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
