import type { Enroller } from "../enrolment/enroller.js";
import type { HouseholdStatus } from "../household/sync.js";
import type { SpeechEventPayload } from "../mqtt/topics.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { TimelineTurn } from "../timeline/turn.js";
import type { Logger } from "../util/log.js";
import type { NamingOptions } from "../voices/voice-naming.js";
import type { UnknownVoiceStore } from "../voices/voice-store.js";
import type { RecentCommands } from "../wyoming/command-log.js";

/** A live detection as published on MQTT (`<base>/<room>/event`); streamed to /api/events as-is. */
export type DetectionEvent = SpeechEventPayload;

export interface DetectionFeed {
  /** Calls `listener` for every detection from now on; returns the unsubscribe function. */
  subscribe(listener: (event: DetectionEvent) => void): () => void;
}

export interface LiveAudio {
  /**
   * Records `seconds` of the live input: 16 kHz mono float32 in [-1, 1]. Rejects when `signal` aborts
   * (the HTTP client went away).
   */
  record(seconds: number, signal?: AbortSignal): Promise<Float32Array>;
}

export type ComponentState = "ok" | "starting" | "degraded" | "down" | "disabled";

export interface ComponentHealth {
  state: ComponentState;
  /** Why it is not ok, for humans. */
  detail?: string;
}

/** The mute switch: off means nothing is recorded or processed. */
export interface ListeningReport {
  listening: boolean;
  /** ISO 8601; the epoch when it was never switched. */
  changedAt: string;
}

export interface ListeningControl {
  get(): ListeningReport;
  /** Saves and applies; resolves with the new state. */
  set(listening: boolean): Promise<ListeningReport>;
}

import type { EncoderReport } from "../embedding/stack.js";

export type { EncoderReport };

/** One input of the daemon (a room): its audio component, as the source reports it. */
export interface InputHealth extends ComponentHealth {
  room: string;
  /** running | retrying | starting | stopped | ended | muted */
  audio: string;
  /** Restarts of its recorder after failures. */
  restarts: number;
}

export interface HealthReport {
  /** Household sharing (absent when off): this node, the nodes seen with their rooms, the sync counters. */
  household?: HouseholdStatus;
  /** "ok" -> 200, anything else -> 503. Being muted is not a fault. */
  status: "ok" | "degraded" | "down";
  listening: ListeningReport;
  /** Null while starting. */
  encoder: EncoderReport | null;
  components: {
    audio: ComponentHealth;
    vad: ComponentHealth;
    model: ComponentHealth;
    mqtt: ComponentHealth;
    registry: ComponentHealth;
  };
  /** Every input (room) of the daemon; `components.audio` is the worst of them. */
  inputs: InputHealth[];
}

export interface HttpConfig {
  /** Largest accepted upload body; checked against Content-Length before anything is read, then as it arrives. */
  bodyLimitBytes: number;
  /** Longest accepted audio clip (decoded), seconds. */
  maxUploadSeconds: number;
  /** When set, /api/* and /metrics need `Authorization: Bearer <token>`. */
  token?: string;
  /** Seconds between SSE keep-alive comments on /api/events (default 15). */
  heartbeatSeconds?: number;
  /** Address the server is bound to: its name is accepted as a Host. */
  host?: string;
  /** More names (Host header values) this daemon is reached by, beyond IPs, localhost and the host name. */
  allowedHosts?: readonly string[];
  /** Upload requests (samples, identify) worked on at once (default 4); their bodies are read before. */
  maxUploadsInFlight?: number;
  /** An upload body must keep arriving at this rate once the grace period is over (default 64 KiB/s). */
  minUploadBytesPerSecond?: number;
  /** Time an upload body gets before its rate counts (default 5000 ms). */
  uploadGraceMs?: number;
  /** Open /api/events streams at most (default 16). */
  maxEventStreams?: number;
}

export interface TimelineView {
  /** Turns that ended (or are still going) at `sinceMs` or later, oldest first. */
  turns(sinceMs: number): TimelineTurn[];
  /** How far back turns are kept. */
  readonly keepHours: number;
}

/** Everything the HTTP API needs from the daemon; nothing else is reached for. */
export interface HttpDeps {
  registry: SpeakerRegistry;
  enroller: Enroller;
  /** Embedding model in use: speakers with a voiceprint of this model are "enrolled". */
  modelId: string;
  /** Threshold of the model in use for people without their own. */
  defaultThreshold: number;
  detections: DetectionFeed;
  /** null when the daemon has no live source (e.g. it runs on a file). */
  liveAudio: LiveAudio | null;
  /** null when the daemon cannot be muted (tests of the API alone). */
  listening: ListeningControl | null;
  health: () => HealthReport;
  /** The voices nobody enrolled; absent when they are not kept (unknownVoices.enabled: false). */
  voices?: { store: UnknownVoiceStore; naming: NamingOptions; keepClips: boolean };
  /** Recent voice commands of the Wyoming proxy; absent when it is off. */
  commands?: () => RecentCommands;
  /** The recent turns for the page's timeline; absent in tests of the API alone. */
  timeline?: TimelineView;
  /** Prometheus text exposition. */
  metrics: () => Promise<string>;
  config: HttpConfig;
  logger: Logger;
}
