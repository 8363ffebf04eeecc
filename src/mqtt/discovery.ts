import {
  AVAILABILITY_OFFLINE,
  AVAILABILITY_ONLINE,
  LISTENING_OFF,
  LISTENING_ON,
  slugify,
  speakerKey,
  TALKING_OFF,
  TALKING_ON,
  UNRECOGNIZED_VOICE,
  type VoiceidTopics,
  validateTopicPrefix,
} from "./topics.js";

/**
 * Home Assistant MQTT device-based discovery: one retained message on
 * `<prefix>/device/<deviceId>/config` describes the device and all its entities ("cmps").
 * Keys use HA's abbreviations (dev, o, cmps, p, uniq_id, stat_t, ...) except `default_entity_id`,
 * which is spelled out. `object_id` is deliberately not used (deprecated in favour of default_entity_id).
 */

export interface DiscoverySpeaker {
  id: string;
  name: string;
}

export interface DiscoveryContext {
  topics: VoiceidTopics;
  discoveryPrefix: string;
  /** voiceid version for "dev.sw" / "o.sw"; omitted when unknown. */
  softwareVersion?: string;
  /** The Wyoming proxy runs: the voice command entities exist. */
  commands?: boolean;
  /**
   * The daemon's availability topic (its connection's last will) when it is not this room's own: a daemon
   * with several rooms on one connection. The device is available while both topics say online.
   */
  daemonAvailability?: string;
}

export type Platform = "sensor" | "binary_sensor" | "event" | "switch";

/** One entity in the device's "cmps" map. Only the keys we emit. */
export interface DiscoveryComponent {
  p: Platform;
  name: string;
  uniq_id: string;
  default_entity_id: string;
  stat_t: string;
  cmd_t?: string;
  dev_cla?: string;
  ent_cat?: "diagnostic" | "config";
  ic?: string;
  val_tpl?: string;
  json_attr_t?: string;
  pl_on?: string;
  pl_off?: string;
  evt_typ?: string[];
}

/** How a removed component is announced: only its platform, which makes HA delete that entity. */
export interface RemovedComponent {
  p: Platform;
}

export interface DeviceDiscoveryPayload {
  dev: { ids: string[]; name: string; mf: string; mdl: string; sw?: string };
  o: { name: string; sw?: string };
  /** One availability topic (one room per daemon) ... */
  avty_t?: string;
  pl_avail?: string;
  pl_not_avail?: string;
  /** ... or the room's and the daemon's, both online (several rooms on one connection). */
  avty?: Array<{ t: string; pl_avail: string; pl_not_avail: string }>;
  avty_mode?: "all";
  qos: 0 | 1;
  cmps: Record<string, DiscoveryComponent | RemovedComponent>;
}

export const LAST_SPEAKER_COMPONENT = "last_speaker";
export const IDENTIFIED_EVENT_COMPONENT = "speaker_identified";
export const LISTENING_SWITCH_COMPONENT = "listening";
export const LAST_COMMAND_SPEAKER_COMPONENT = "last_command_speaker";
export const VOICE_COMMAND_EVENT_COMPONENT = "voice_command";

export function deviceIdForRoom(room: string): string {
  return `voiceid_${slugify(room)}`;
}

export function discoveryTopic(discoveryPrefix: string, deviceId: string): string {
  validateTopicPrefix(discoveryPrefix, "Home Assistant discovery prefix");
  return `${discoveryPrefix}/device/${deviceId}/config`;
}

export function talkingComponentKey(speakerId: string): string {
  return `${speakerKey(speakerId)}_talking`;
}

export function lastHeardComponentKey(speakerId: string): string {
  return `${speakerKey(speakerId)}_last_heard`;
}

/** Entities of the device for the given speakers, keyed by stable component key. */
export function buildComponents(
  ctx: DiscoveryContext,
  speakers: readonly DiscoverySpeaker[],
): Record<string, DiscoveryComponent> {
  const deviceId = deviceIdForRoom(ctx.topics.room);
  const components: Record<string, DiscoveryComponent> = {
    [LAST_SPEAKER_COMPONENT]: {
      p: "sensor",
      name: "Last speaker",
      uniq_id: `${deviceId}_last_speaker`,
      default_entity_id: `sensor.${deviceId}_last_speaker`,
      stat_t: ctx.topics.lastSpeaker,
      // "None" is Home Assistant's payload for "unknown": no last speaker yet.
      val_tpl: `{{ value_json.speaker if value_json.speaker else ('${UNRECOGNIZED_VOICE}' if value_json.at else 'None') }}`,
      json_attr_t: ctx.topics.lastSpeaker,
      ic: "mdi:account-voice",
    },
    [IDENTIFIED_EVENT_COMPONENT]: {
      p: "event",
      name: "Speaker identified",
      uniq_id: `${deviceId}_speaker_identified`,
      default_entity_id: `event.${deviceId}_speaker_identified`,
      stat_t: ctx.topics.identified,
      // Sorted so the payload (and therefore the diff) does not depend on registry order.
      evt_typ: [...[...new Set(speakers.map((s) => s.id))].sort(), UNRECOGNIZED_VOICE],
      ic: "mdi:account-voice",
    },
    [LISTENING_SWITCH_COMPONENT]: {
      p: "switch",
      name: "Listening",
      uniq_id: `${deviceId}_listening`,
      default_entity_id: `switch.${deviceId}_listening`,
      stat_t: ctx.topics.listening,
      cmd_t: ctx.topics.listeningCommand,
      pl_on: LISTENING_ON,
      pl_off: LISTENING_OFF,
      ic: "mdi:microphone",
    },
    audio_input: diagnosticSensor(
      ctx,
      deviceId,
      "audio_input",
      "Audio input",
      "audio",
      "mdi:microphone-settings",
    ),
    encoder: diagnosticSensor(ctx, deviceId, "encoder", "Encoder", "encoder", "mdi:chip"),
    last_error: {
      ...diagnosticSensor(ctx, deviceId, "last_error", "Last error", "lastError", "mdi:alert-circle-outline"),
      val_tpl: "{{ value_json.lastError if value_json.lastError else 'none' }}",
    },
  };
  if (ctx.commands) {
    components[LAST_COMMAND_SPEAKER_COMPONENT] = {
      p: "sensor",
      name: "Last command speaker",
      uniq_id: `${deviceId}_last_command_speaker`,
      default_entity_id: `sensor.${deviceId}_last_command_speaker`,
      stat_t: ctx.topics.lastCommandSpeaker,
      val_tpl: `{{ value_json.speaker if value_json.speaker else ('${UNRECOGNIZED_VOICE}' if value_json.at else 'None') }}`,
      json_attr_t: ctx.topics.lastCommandSpeaker,
      ic: "mdi:account-voice",
    };
    components[VOICE_COMMAND_EVENT_COMPONENT] = {
      p: "event",
      name: "Voice command",
      uniq_id: `${deviceId}_voice_command`,
      default_entity_id: `event.${deviceId}_voice_command`,
      stat_t: ctx.topics.command,
      evt_typ: [...[...new Set(speakers.map((s) => s.id))].sort(), UNRECOGNIZED_VOICE],
      ic: "mdi:account-voice",
    };
  }
  for (const speaker of [...speakers].sort((a, b) => a.id.localeCompare(b.id))) {
    const key = speakerKey(speaker.id);
    components[talkingComponentKey(speaker.id)] = {
      p: "binary_sensor",
      name: `${speaker.name} talking`,
      uniq_id: `${deviceId}_${key}_talking`,
      default_entity_id: `binary_sensor.${deviceId}_${slugify(key)}_talking`,
      stat_t: ctx.topics.talking(speaker.id),
      pl_on: TALKING_ON,
      pl_off: TALKING_OFF,
      ic: "mdi:account-voice",
    };
    components[lastHeardComponentKey(speaker.id)] = {
      p: "sensor",
      name: `${speaker.name} last heard`,
      uniq_id: `${deviceId}_${key}_last_heard`,
      default_entity_id: `sensor.${deviceId}_${slugify(key)}_last_heard`,
      stat_t: ctx.topics.lastHeard(speaker.id),
      dev_cla: "timestamp",
      ic: "mdi:account-clock",
    };
  }
  return components;
}

function diagnosticSensor(
  ctx: DiscoveryContext,
  deviceId: string,
  key: string,
  name: string,
  field: string,
  icon: string,
): DiscoveryComponent {
  return {
    p: "sensor",
    name,
    uniq_id: `${deviceId}_${key}`,
    default_entity_id: `sensor.${deviceId}_${key}`,
    stat_t: ctx.topics.diagnostics,
    val_tpl: `{{ value_json.${field} }}`,
    ent_cat: "diagnostic",
    ic: icon,
  };
}

export function buildDevicePayload(
  ctx: DiscoveryContext,
  components: Record<string, DiscoveryComponent | RemovedComponent>,
): DeviceDiscoveryPayload {
  const deviceId = deviceIdForRoom(ctx.topics.room);
  const sw = ctx.softwareVersion !== undefined ? { sw: ctx.softwareVersion } : {};
  return {
    dev: {
      ids: [deviceId],
      name: `voiceid ${ctx.topics.room}`,
      mf: "voiceid",
      mdl: "Speaker identification",
      ...sw,
    },
    o: { name: "voiceid", ...sw },
    ...availability(ctx),
    qos: 1,
    cmps: components,
  };
}

function availability(
  ctx: DiscoveryContext,
): Pick<DeviceDiscoveryPayload, "avty_t" | "avty" | "avty_mode" | "pl_avail" | "pl_not_avail"> {
  const payloads = { pl_avail: AVAILABILITY_ONLINE, pl_not_avail: AVAILABILITY_OFFLINE };
  if (ctx.daemonAvailability === undefined || ctx.daemonAvailability === ctx.topics.availability)
    return { avty_t: ctx.topics.availability, ...payloads };
  return {
    avty: [
      { t: ctx.topics.availability, ...payloads },
      { t: ctx.daemonAvailability, ...payloads },
    ],
    avty_mode: "all",
  };
}

export interface DiscoveryChange {
  /** The device payload differs from the previous one and must be published. */
  changed: boolean;
  /** Speakers that disappeared: their retained talking state should be cleared. */
  removedSpeakerIds: string[];
}

/**
 * Remembers the last speaker set and turns changes into device payloads.
 *
 * A removed entity is sent once as `{ "p": <platform> }` (HA's way to drop one component of a device);
 * that tombstone stays in the payload, also for republishes after reconnects or HA restarts, until the
 * next real change, after which the component is left out entirely.
 */
export class DiscoveryState {
  private speakers = new Map<string, string>();
  private components: Record<string, DiscoveryComponent>;
  private tombstones: Record<string, RemovedComponent> = {};

  constructor(private readonly ctx: DiscoveryContext) {
    this.components = buildComponents(ctx, []);
  }

  get topic(): string {
    return discoveryTopic(this.ctx.discoveryPrefix, deviceIdForRoom(this.ctx.topics.room));
  }

  /** Current speakers (id -> name). */
  speakerNames(): ReadonlyMap<string, string> {
    return this.speakers;
  }

  setSpeakers(speakers: readonly DiscoverySpeaker[]): DiscoveryChange {
    const next = buildComponents(this.ctx, speakers);
    const removedSpeakerIds = [...this.speakers.keys()].filter((id) => !speakers.some((s) => s.id === id));
    this.speakers = new Map(speakers.map((s) => [s.id, s.name]));
    if (JSON.stringify(next) === JSON.stringify(this.components)) {
      return { changed: false, removedSpeakerIds };
    }
    const tombstones: Record<string, RemovedComponent> = {};
    for (const [key, component] of Object.entries(this.components)) {
      if (!(key in next)) tombstones[key] = { p: component.p };
    }
    this.components = next;
    this.tombstones = tombstones;
    return { changed: true, removedSpeakerIds };
  }

  payload(): DeviceDiscoveryPayload {
    return buildDevicePayload(this.ctx, { ...this.components, ...this.tombstones });
  }
}
