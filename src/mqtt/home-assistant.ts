import { isAnnouncement } from "../identify/decision.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import type { VoiceCommand } from "../wyoming/command.js";
import type { LastWill, MqttConnection } from "./connection.js";
import { type DiscoverySpeaker, DiscoveryState } from "./discovery.js";
import {
  AVAILABILITY_OFFLINE,
  AVAILABILITY_ONLINE,
  announcementOf,
  commandEventPayload,
  DEFAULT_DISCOVERY_PREFIX,
  DEFAULT_HA_STATUS_TOPIC,
  type DiagnosticsPayload,
  identifiedEventPayload,
  type LastCommandSpeakerPayload,
  type LastSpeakerPayload,
  LISTENING_OFF,
  LISTENING_ON,
  lastCommandSpeakerPayload,
  lastSpeakerPayload,
  NO_LAST_COMMAND_SPEAKER,
  NO_LAST_SPEAKER,
  speechEventPayload,
  TALKING_OFF,
  TALKING_ON,
  type TimedDecision,
  type VoiceidTopics,
  validateTopicPrefix,
} from "./topics.js";

export interface HomeAssistantPublisherOptions {
  connection: MqttConnection;
  topics: VoiceidTopics;
  discoveryPrefix?: string;
  /** HA publishes "online" here when it (re)starts; we answer with discovery + state. */
  haStatusTopic?: string;
  /** Shown in HA as the device's software version. */
  softwareVersion?: string;
  /** The Wyoming proxy runs: discover the voice command entities and keep their state. */
  commands?: boolean;
  /**
   * The connection's last-will topic when it is another room's (several rooms on one connection): the
   * device needs both online, and stop() says this room's own "offline" (the connection says the other).
   */
  daemonAvailability?: string;
  logger: Logger;
}

/** Asked from Home Assistant's switch: listen (true) or stop listening (false). */
export type ListeningCommandListener = (listening: boolean) => void;

interface TurnState {
  /** The person the turn is named as (talking ON), or null. */
  speakerId: string | null;
  /** What was last claimed on the identified topic for this turn. */
  announced?: string;
}

/** Turns without a "stopped" event must not pile up forever. */
const MAX_OPEN_TURNS = 32;

/**
 * Home Assistant says "online" once when it starts, but any client on the broker can say it too, hundreds
 * of times: the republish waits for this much quiet after the last "online" ...
 */
export const HA_ONLINE_QUIET_MS = 500;
/** ... and at most this long after the first one, so a steady stream of them costs one republish per 5 s. */
export const HA_ONLINE_MAX_WAIT_MS = 5000;

/** The connection's last will: Home Assistant marks every entity unavailable when we vanish. */
export function availabilityWill(topics: VoiceidTopics): LastWill {
  return { topic: topics.availability, payload: AVAILABILITY_OFFLINE };
}

/**
 * Tells Home Assistant what voiceid knows, over one MqttConnection: device discovery, per-speaker
 * "talking" and "last heard", the last speaker, the listening switch, diagnostics and speech events.
 *
 * On every (re)connect it republishes discovery and all retained state with availability LAST: after a
 * crash the broker still holds the old "talking: ON", and Home Assistant must see it replaced by the
 * truth while the device is still unavailable, not flash "on" after coming online.
 */
export class HomeAssistantPublisher implements Component {
  private readonly discovery: DiscoveryState;
  private readonly haStatusTopic: string;
  private readonly log: Logger;
  private readonly connection: MqttConnection;
  private readonly topics: VoiceidTopics;
  /** This room's availability is not the connection's last will: stop() clears it itself. */
  private readonly ownAvailability: boolean;
  private unsubscribe: Array<() => void> = [];

  private readonly turns = new Map<string, TurnState>();
  /** Talking payload last sent per speaker on this connection, to skip repeats. */
  private readonly sentTalking = new Map<string, string>();
  /** Removed speakers whose retained topics still have to be cleared. */
  private readonly pendingClears = new Set<string>();
  private readonly lastHeard = new Map<string, string>();
  private lastSpeaker: LastSpeakerPayload | null = null;
  /** The turn (see turnKey) the last speaker was named in. */
  private lastSpeakerTurn: string | null = null;
  private lastCommandSpeaker: LastCommandSpeakerPayload | null = null;
  private readonly commands: boolean;
  private listening = true;
  private diagnostics: DiagnosticsPayload | null = null;
  private readonly listeningListeners = new Set<ListeningCommandListener>();
  /** A republish asked for by Home Assistant's "online", waiting for the burst to end. */
  private haOnlineTimer: NodeJS.Timeout | null = null;
  private haOnlineDeadline = 0;

  constructor(options: HomeAssistantPublisherOptions) {
    // Pure derivations only: they validate topic settings early, nothing is opened here.
    this.connection = options.connection;
    this.topics = options.topics;
    this.discovery = new DiscoveryState({
      topics: options.topics,
      discoveryPrefix: options.discoveryPrefix ?? DEFAULT_DISCOVERY_PREFIX,
      softwareVersion: options.softwareVersion,
      commands: options.commands,
      daemonAvailability: options.daemonAvailability,
    });
    this.ownAvailability =
      options.daemonAvailability !== undefined && options.daemonAvailability !== options.topics.availability;
    this.commands = options.commands ?? false;
    this.haStatusTopic = validateTopicPrefix(
      options.haStatusTopic ?? DEFAULT_HA_STATUS_TOPIC,
      "HA status topic",
    );
    this.log = options.logger.child("home-assistant");
  }

  /** Topics this publisher uses (for logs, docs and tests). */
  get topicNames(): VoiceidTopics & { discovery: string } {
    return { ...this.topics, discovery: this.discovery.topic };
  }

  async start(): Promise<void> {
    if (this.unsubscribe.length > 0) return;
    this.unsubscribe = [
      this.connection.onConnect(() => this.publishAll()),
      this.connection.subscribe(this.haStatusTopic, (payload) => {
        if (payload === AVAILABILITY_ONLINE) this.republishWhenQuiet();
      }),
      this.connection.subscribe(this.topics.listeningCommand, (payload) =>
        this.handleListeningCommand(payload),
      ),
    ];
    if (this.connection.connected) this.publishAll();
  }

  async stop(): Promise<void> {
    const wasStarted = this.unsubscribe.length > 0;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.cancelHaOnlineRepublish();
    if (wasStarted && this.ownAvailability)
      this.connection.publishState(this.topics.availability, AVAILABILITY_OFFLINE);
  }

  /** One republish for a burst of "online" messages (see HA_ONLINE_QUIET_MS). */
  private republishWhenQuiet(): void {
    const now = Date.now();
    if (this.haOnlineTimer === null) this.haOnlineDeadline = now + HA_ONLINE_MAX_WAIT_MS;
    else clearTimeout(this.haOnlineTimer);
    const delay = Math.min(HA_ONLINE_QUIET_MS, this.haOnlineDeadline - now);
    this.haOnlineTimer = setTimeout(() => {
      this.log.info("Home Assistant came online; republishing discovery and state");
      this.publishAll();
    }, delay);
    this.haOnlineTimer.unref();
  }

  private cancelHaOnlineRepublish(): void {
    if (this.haOnlineTimer !== null) clearTimeout(this.haOnlineTimer);
    this.haOnlineTimer = null;
  }

  /** Listens for the switch in Home Assistant; returns a function that removes the listener. */
  onListeningCommand(listener: ListeningCommandListener): () => void {
    this.listeningListeners.add(listener);
    return () => this.listeningListeners.delete(listener);
  }

  private handleListeningCommand(payload: string): void {
    const command = payload.trim().toUpperCase();
    if (command !== LISTENING_ON && command !== LISTENING_OFF) {
      this.log.warn("ignored a listening command that is neither ON nor OFF", {
        payload: payload.slice(0, 40),
      });
      // Re-assert the real state so the switch in Home Assistant shows the truth.
      this.publishListening();
      return;
    }
    for (const listener of this.listeningListeners) listener(command === LISTENING_ON);
  }

  /** Whether voiceid listens; the switch's retained state. */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.publishListening();
  }

  /** Audio status, encoder and last error for the diagnostic entities; published when they change. */
  setDiagnostics(diagnostics: DiagnosticsPayload): void {
    if (this.diagnostics !== null && JSON.stringify(diagnostics) === JSON.stringify(this.diagnostics)) return;
    this.diagnostics = diagnostics;
    this.publishDiagnostics();
  }

  /**
   * The enrolled speakers. Updates discovery (talking and last-heard entities per speaker, event types),
   * clears the retained state of removed speakers and publishes names of renamed ones. Can be called
   * before start().
   */
  setSpeakers(speakers: readonly DiscoverySpeaker[]): void {
    const change = this.discovery.setSpeakers(speakers);
    const known = this.discovery.speakerNames();
    for (const id of change.removedSpeakerIds) {
      this.pendingClears.add(id);
      this.sentTalking.delete(id);
      this.lastHeard.delete(id);
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
    if (!this.connection.connected) return;
    if (change.changed) this.publishDiscovery();
    this.publishPendingClears();
    this.publishTalkingStates();
    if (lastSpeakerChanged) this.publishLastSpeaker();
  }

  /**
   * One decision. Always published on the event topic. Home Assistant's entities follow only what is
   * announced (isAnnouncement): a turn named as a person turns their "talking" ON until it stops and makes
   * them the last speaker; a voice confidently nobody enrolled sends "unrecognized"; pending, uncertain and
   * too-short turns change nothing there, nor does a "stopped" that says more than its turn announced (a
   * stranger's turn another voice ended: whoever talks now is not a stranger). One "identified" event per
   * claim (and per change of it).
   */
  publishEvent(event: TimedDecision): void {
    const now = new Date();
    this.connection.publishEvent(
      this.topics.event,
      JSON.stringify(speechEventPayload(event, this.topics.room)),
    );

    // Turns of voice commands count from 1 in each command: kept apart from the room's.
    const key = event.commandId === undefined ? String(event.turnId) : `c${event.commandId}:${event.turnId}`;
    const previous = this.turns.get(key);
    const known = this.discovery.speakerNames();
    const label = announcementOf(event);
    // A turn's stop claims nothing new: it gives the final label of what the turn announced.
    const claim = isAnnouncement(event) ? label : null;
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
      this.connection.publishEvent(
        this.topics.identified,
        JSON.stringify(identifiedEventPayload(event, this.topics.room, now)),
      );
      this.lastSpeaker = lastSpeakerPayload(event, now);
      this.lastSpeakerTurn = key;
      this.publishLastSpeaker();
    } else if (
      event.type === "stopped" &&
      label !== null &&
      label === previous?.announced &&
      this.lastSpeakerTurn === key
    ) {
      // Final score of the turn.
      this.lastSpeaker = lastSpeakerPayload(event, now);
      this.publishLastSpeaker();
    }
    if (turn.speakerId !== null) {
      // Heard until the turn's last word: updated on its stop too.
      this.lastHeard.set(turn.speakerId, now.toISOString());
      if (claim !== null || event.type === "stopped") this.publishLastHeard(turn.speakerId);
    }
    this.publishTalkingStates();
  }

  /**
   * Who gave a voice command (the Wyoming proxy): the `command` event and the retained last command
   * speaker. Published before the transcript goes back, so an automation or a conversation agent
   * handling the command can read them. Settles once the broker has both (see MqttConnection.publish).
   */
  async publishCommand(command: VoiceCommand): Promise<void> {
    const event = this.connection.publishEvent(
      this.topics.command,
      JSON.stringify(commandEventPayload(command, this.topics.room)),
    );
    this.lastCommandSpeaker = lastCommandSpeakerPayload(command);
    await Promise.all([event, this.publishLastCommandSpeaker()]);
  }

  /** Discovery and every retained state, availability last (see the class comment). */
  private publishAll(): void {
    // Whatever Home Assistant asked for is in this one.
    this.cancelHaOnlineRepublish();
    this.publishDiscovery();
    this.publishPendingClears();
    this.sentTalking.clear();
    this.publishTalkingStates();
    this.publishLastSpeaker();
    if (this.commands) this.publishLastCommandSpeaker();
    for (const id of this.lastHeard.keys()) this.publishLastHeard(id);
    this.publishListening();
    this.publishDiagnostics();
    this.connection.publishState(this.topics.availability, AVAILABILITY_ONLINE);
  }

  private publishDiscovery(): void {
    this.connection.publishState(this.discovery.topic, JSON.stringify(this.discovery.payload()));
  }

  private publishPendingClears(): void {
    if (!this.connection.connected) return;
    for (const id of this.pendingClears) {
      // An empty retained message deletes a removed speaker's retained state.
      this.connection.publishState(this.topics.talking(id), "");
      this.connection.publishState(this.topics.lastHeard(id), "");
    }
    this.pendingClears.clear();
  }

  private publishTalkingStates(): void {
    if (!this.connection.connected) return;
    const talking = new Set<string>();
    for (const turn of this.turns.values()) if (turn.speakerId !== null) talking.add(turn.speakerId);
    for (const id of this.discovery.speakerNames().keys()) {
      const state = talking.has(id) ? TALKING_ON : TALKING_OFF;
      if (this.sentTalking.get(id) === state) continue;
      this.sentTalking.set(id, state);
      this.connection.publishState(this.topics.talking(id), state);
    }
  }

  private publishLastSpeaker(): void {
    // Also without one of our own: anything else the broker retains there (another client's) is not true.
    this.connection.publishState(
      this.topics.lastSpeaker,
      JSON.stringify(this.lastSpeaker ?? NO_LAST_SPEAKER),
    );
  }

  private publishLastCommandSpeaker(): Promise<void> {
    return this.connection.publishState(
      this.topics.lastCommandSpeaker,
      JSON.stringify(this.lastCommandSpeaker ?? NO_LAST_COMMAND_SPEAKER),
    );
  }

  private publishLastHeard(speakerId: string): void {
    const at = this.lastHeard.get(speakerId);
    if (at !== undefined) this.connection.publishState(this.topics.lastHeard(speakerId), at);
  }

  private publishListening(): void {
    this.connection.publishState(this.topics.listening, this.listening ? LISTENING_ON : LISTENING_OFF);
  }

  private publishDiagnostics(): void {
    if (this.diagnostics)
      this.connection.publishState(this.topics.diagnostics, JSON.stringify(this.diagnostics));
  }
}
