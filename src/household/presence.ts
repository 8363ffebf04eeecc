import { z } from "zod";
import type { MqttConnection } from "../mqtt/connection.js";
import type { DiscoverySpeaker } from "../mqtt/discovery.js";
import { slugify, speakerKey, speakerTopicLevel, validateTopicPrefix } from "../mqtt/topics.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";

/**
 * Where everyone was last heard. Per person one retained message, plain JSON so Home Assistant can read it:
 *   <base>/_household/presence/<speakerId>   {"room": "Kitchen", "speaker": "Alice", "at": "<ISO time>"}
 * Any node that names the person may replace it; the later decision wins, so two rooms hearing someone at
 * once agree on the one that heard them last. Discovered as sensor.voiceid_<person>_room on one
 * "voiceid household" device. Works with household.share off (one daemon's rooms) as well as on.
 */

export const HOUSEHOLD_DEVICE_ID = "voiceid_household";
/** The same room is republished at most this often; a new room at once. */
const SAME_ROOM_INTERVAL_MS = 10_000;

export interface PresencePayload {
  room: string;
  speaker: string;
  at: string;
}

const presenceSchema = z.strictObject({
  room: z.string().min(1).max(256),
  speaker: z.string().min(1).max(64),
  at: z.iso.datetime({ offset: true }),
});

export interface HouseholdPresenceOptions {
  connection: MqttConnection;
  baseTopic: string;
  discoveryPrefix: string;
  softwareVersion?: string;
  logger: Logger;
}

export class HouseholdPresence implements Component {
  private readonly log: Logger;
  private readonly root: string;
  private readonly discoveryTopic: string;
  private readonly last = new Map<string, PresencePayload>();
  private readonly publishedAt = new Map<string, number>();
  private speakers = new Map<string, string>();
  private removedKeys = new Set<string>();
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly options: HouseholdPresenceOptions) {
    this.log = options.logger.child("presence");
    this.root = `${validateTopicPrefix(options.baseTopic, "MQTT base topic")}/_household/presence`;
    this.discoveryTopic = `${validateTopicPrefix(options.discoveryPrefix, "Home Assistant discovery prefix")}/device/${HOUSEHOLD_DEVICE_ID}/config`;
  }

  topic(speakerId: string): string {
    return `${this.root}/${speakerTopicLevel(speakerId)}`;
  }

  async start(): Promise<void> {
    if (this.unsubscribe.length > 0) return;
    const { connection } = this.options;
    this.unsubscribe = [
      connection.subscribeFilter(`${this.root}/+`, (topic, payload) => this.receive(topic, payload)),
      connection.onConnect(() => this.publishDiscovery()),
    ];
    if (connection.connected) this.publishDiscovery();
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  /** Where each person was last heard, as far as this node knows. */
  where(): Record<string, PresencePayload> {
    return Object.fromEntries(this.last);
  }

  /** The enrolled people: one room sensor each. */
  setSpeakers(speakers: readonly DiscoverySpeaker[]): void {
    const next = new Map(speakers.map((s) => [s.id, s.name]));
    const same =
      next.size === this.speakers.size && [...next].every(([id, name]) => this.speakers.get(id) === name);
    if (same) return;
    for (const id of this.speakers.keys()) {
      if (next.has(id)) continue;
      this.removedKeys.add(componentKey(id));
      this.last.delete(id);
      this.options.connection.publishState(this.topic(id), "");
    }
    for (const id of next.keys()) this.removedKeys.delete(componentKey(id));
    this.speakers = next;
    this.publishDiscovery();
  }

  /** A decision named `speakerId` in `room` at `at`. */
  heard(speakerId: string, room: string, at: Date): void {
    const name = this.speakers.get(speakerId);
    if (name === undefined) return;
    const iso = at.toISOString();
    const known = this.last.get(speakerId);
    if (known && known.at >= iso) return;
    const sameRoom = known?.room === room && known.speaker === name;
    this.last.set(speakerId, { room, speaker: name, at: iso });
    const now = Date.now();
    if (sameRoom && now - (this.publishedAt.get(speakerId) ?? 0) < SAME_ROOM_INTERVAL_MS) return;
    this.publishedAt.set(speakerId, now);
    this.options.connection.publishState(this.topic(speakerId), JSON.stringify(this.last.get(speakerId)));
  }

  private receive(topic: string, payload: Buffer): void {
    if (payload.length === 0) return;
    const id = decodeURIComponent(topic.slice(this.root.length + 1));
    let parsed: PresencePayload;
    try {
      parsed = presenceSchema.parse(JSON.parse(payload.toString("utf8")));
    } catch {
      this.log.debug("ignored a presence message that is not one", { topic });
      return;
    }
    const known = this.last.get(id);
    if (known && known.at >= parsed.at) return;
    this.last.set(id, parsed);
  }

  private publishDiscovery(): void {
    const cmps: Record<string, object> = {};
    for (const [id, name] of [...this.speakers].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const key = speakerKey(id);
      cmps[componentKey(id)] = {
        p: "sensor",
        name: `${name} room`,
        uniq_id: `${HOUSEHOLD_DEVICE_ID}_${key}_room`,
        default_entity_id: `sensor.voiceid_${slugify(key)}_room`,
        stat_t: this.topic(id),
        val_tpl: "{{ value_json.room }}",
        json_attr_t: this.topic(id),
        ic: "mdi:home-account",
      };
    }
    // A removed person's sensor is announced as gone (HA drops that entity of the device).
    for (const key of this.removedKeys) cmps[key] = { p: "sensor" };
    const sw = this.options.softwareVersion !== undefined ? { sw: this.options.softwareVersion } : {};
    this.options.connection.publishState(
      this.discoveryTopic,
      JSON.stringify({
        dev: {
          ids: [HOUSEHOLD_DEVICE_ID],
          name: "voiceid household",
          mf: "voiceid",
          mdl: "Where everyone was last heard",
          ...sw,
        },
        o: { name: "voiceid", ...sw },
        qos: 1,
        cmps,
      }),
    );
  }
}

function componentKey(speakerId: string): string {
  return `${speakerKey(speakerId)}_room`;
}
