import type { Readable } from "node:stream";
import type { RoomInput, VoiceidConfig } from "../config/schema.js";
import type { ModelStack } from "../embedding/stack.js";
import { SAMPLE_RATE } from "../embedding/voiceprint.js";
import type { Identifier } from "../enrolment/identifier.js";
import { RoomLearner } from "../enrolment/room-learner.js";
import type { HouseholdPresence } from "../household/presence.js";
import type { DetectionHub } from "../http/detections.js";
import type { Decision } from "../identify/decision.js";
import { liveIdentifierOptions, segmenterOptions } from "../identify/options.js";
import type { EndedTurn } from "../identify/speaker-tracker.js";
import type { VoiceidMetrics } from "../metrics/voiceid.js";
import type { MqttConnection } from "../mqtt/connection.js";
import { HomeAssistantPublisher } from "../mqtt/home-assistant.js";
import {
  buildTopics,
  type DiagnosticsPayload,
  speechEventPayload,
  type TimedDecision,
} from "../mqtt/topics.js";
import type { MatchCandidate } from "../registry/matcher.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { IgnoredVoiceGate } from "../voices/ignored-voice-gate.js";
import { CLIP_SECONDS, type UnknownVoiceStore } from "../voices/voice-store.js";
import type { VoiceCommand } from "../wyoming/command.js";
import { AudioInput, type AudioInputStatus } from "./audio-input.js";
import { SpeechPipeline, type SpeechPipelineStatus } from "./speech-pipeline.js";

/** What every room of a daemon shares: one model stack, registry, identifier, connection and feed. */
export interface RoomShared {
  config: VoiceidConfig;
  models: ModelStack;
  registry: SpeakerRegistry;
  identifier: Identifier;
  /** The people, and the voices the household ignores (matched like people, never named). */
  candidates: () => readonly MatchCandidate[];
  /** The voices nobody enrolled (null when they are not kept). */
  voices: UnknownVoiceStore | null;
  /** null when MQTT is off. */
  connection: MqttConnection | null;
  /** null when presence is off or MQTT is. */
  presence: HouseholdPresence | null;
  detections: DetectionHub;
  metrics: VoiceidMetrics;
  /** The daemon-wide mute switch. */
  listening: () => boolean;
  /** Home Assistant's switch of this room's device was flipped: the daemon applies it to every room. */
  onListeningCommand: (on: boolean) => void;
  /** Input for a room whose source is "stdin", and the recorder's environment. */
  stdin?: Readable;
  env?: NodeJS.ProcessEnv;
  version?: string;
}

export interface RoomOptions {
  input: RoomInput;
  shared: RoomShared;
  /** The connection's last-will topic when it is not this room's own (see HomeAssistantPublisher). */
  daemonAvailability?: string;
  /** This room's device carries the voice command entities of the Wyoming proxy. */
  commands: boolean;
  logger: Logger;
}

export interface RoomStatus {
  room: string;
  audio: AudioInputStatus;
  pipeline: SpeechPipelineStatus;
}

/**
 * One room: a microphone (or file, or stdin) with its own VAD, tracker and turn state, its own learner,
 * and its own Home Assistant device and topics, on the models, registry and MQTT connection every room
 * of the daemon shares. What happens to a decision is `report()`.
 */
export class Room implements Component {
  private input: AudioInput | null = null;
  private pipeline: SpeechPipeline | null = null;
  private homeAssistant: HomeAssistantPublisher | null = null;
  private started: Component[] = [];
  private unsubscribe: Array<() => void> = [];
  private streamStartedAt: number | null = null;
  private ignoredGate: IgnoredVoiceGate | null = null;
  private endedResolve!: () => void;
  /** Resolves when a finite input (file, stdin) has ended and its last turn was reported. */
  readonly ended: Promise<void> = new Promise((r) => {
    this.endedResolve = r;
  });

  constructor(private readonly options: RoomOptions) {}

  get name(): string {
    return this.options.input.room;
  }

  /** The live input, for recording an enrolment from it (null before start). */
  get audioInput(): AudioInput | null {
    return this.input;
  }

  async start(): Promise<void> {
    const { shared, input: roomInput, logger: log } = this.options;
    const { config, models, registry, identifier } = shared;
    const room = roomInput.room;
    const encoder = models.encoder;
    const threshold = models.defaultThreshold;
    const vad = models.streamVad();
    await vad.start();

    const learner = config.identification.learn
      ? new RoomLearner({
          registry,
          candidates: () => identifier.candidates(),
          modelId: encoder.modelId,
          defaultThreshold: threshold,
          room,
          listening: shared.listening,
          logger: log.child("learning"),
          onLearned: () => shared.metrics.learned.inc(),
        })
      : null;
    if (learner) await this.startComponent(learner);

    if (shared.connection) {
      const m = config.mqtt;
      const homeAssistant = new HomeAssistantPublisher({
        connection: shared.connection,
        topics: buildTopics(m.baseTopic, room),
        discoveryPrefix: m.discoveryPrefix,
        haStatusTopic: m.haStatusTopic,
        softwareVersion: shared.version,
        commands: this.options.commands,
        daemonAvailability: this.options.daemonAvailability,
        logger: log,
      });
      const publishSpeakers = () =>
        homeAssistant.setSpeakers(registry.list().map((s) => ({ id: s.id, name: s.name })));
      publishSpeakers();
      this.unsubscribe.push(
        registry.onChange(publishSpeakers),
        homeAssistant.onListeningCommand(shared.onListeningCommand),
      );
      homeAssistant.setListening(shared.listening());
      await this.startComponent(homeAssistant);
      this.homeAssistant = homeAssistant;
    }

    const voices = shared.voices;
    this.ignoredGate = voices ? new IgnoredVoiceGate(() => voices.ignoredCandidates().length > 0) : null;
    const clipSamples = CLIP_SECONDS * SAMPLE_RATE;
    const pipeline: SpeechPipeline = new SpeechPipeline({
      vad,
      quietGate: config.vad.quietGate ? {} : false,
      encoder,
      candidates: shared.candidates,
      ...(voices
        ? {
            voices: voices.forRoom(
              room,
              config.unknownVoices.keepClips
                ? (t) => pipeline.recentAudio(Math.max(t.start, t.end - clipSamples), t.end)
                : undefined,
            ),
          }
        : {}),
      segmenter: segmenterOptions(config.vad),
      identification: liveIdentifierOptions(config.identification, threshold, encoder.modelId),
      onDecision: (d) => this.report(d),
      ...(learner ? { onTurnEnded: (turn: EndedTurn) => learner.consider(turn) } : {}),
      onTiming: (stage, seconds) => shared.metrics.stageSeconds.observe({ stage }, seconds),
      logger: log.child("pipeline"),
    });
    await this.startComponent(pipeline);
    this.pipeline = pipeline;

    const input = new AudioInput(
      roomInput.audio,
      { logger: log, env: shared.env, stdin: shared.stdin },
      log.child("audio"),
      !shared.listening(),
    );
    input.onAudio((chunk) => {
      this.streamStartedAt ??= Date.now();
      return pipeline.accept(chunk);
    });
    input.onEnd((error) => {
      if (error) log.error("audio input failed", { error: error.message });
      else log.info("audio input ended");
      void pipeline.finish().then(() => this.endedResolve());
    });
    await this.startComponent(input);
    this.input = input;
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    for (const component of this.started.reverse()) {
      try {
        await component.stop();
      } catch (err) {
        this.options.logger.warn("component failed to stop cleanly", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    this.started = [];
  }

  /**
   * The mute switch applied to this room. Off: the recorder stops, the open turn ends (talking goes OFF).
   * On: a fresh recorder and pipeline.
   */
  async setListening(on: boolean): Promise<void> {
    const { input, pipeline } = this;
    if (!input || !pipeline) throw new Error(`room ${this.name} is not running`);
    if (on) {
      // Stream positions start again at 0 with the fresh pipeline: so does the clock they count from.
      this.streamStartedAt = null;
      await pipeline.start();
      await input.setMuted(false);
    } else {
      await input.setMuted(true);
      await pipeline.stop();
    }
    this.homeAssistant?.setListening(on);
  }

  status(): RoomStatus | null {
    if (!this.input || !this.pipeline) return null;
    return { room: this.name, audio: this.input.status(), pipeline: this.pipeline.status() };
  }

  /** The diagnostic entities of this room's device; the audio state is the room's own. */
  publishDiagnostics(daemon: Omit<DiagnosticsPayload, "audio">): void {
    this.homeAssistant?.setDiagnostics({ audio: this.input?.status().state ?? "starting", ...daemon });
  }

  /** A decision on a voice command's audio: talking and last heard follow it, marked with the command. */
  reportCommandDecision(commandId: number, d: Decision): void {
    const startedAt = new Date(Date.now() - (d.decidedAtS - d.startS) * 1000);
    const event: TimedDecision = { ...d, startedAt, commandId };
    this.homeAssistant?.publishEvent(event);
    this.options.shared.detections.publish(speechEventPayload(event, this.name));
  }

  /** Who gave a voice command, on this room's device; settles once the broker has it. */
  async publishCommand(command: VoiceCommand): Promise<void> {
    await this.homeAssistant?.publishCommand(command);
  }

  /** Every decision of this room's microphone: MQTT and Home Assistant, presence, the live feed, metrics, log. */
  private report(d: Decision): void {
    const { metrics, presence, detections } = this.options.shared;
    const base = this.streamStartedAt ?? Date.now();
    const timed = (x: Decision): TimedDecision => ({ ...x, startedAt: new Date(base + x.startS * 1000) });
    const event = timed(d);
    if (d.type === "stopped") {
      metrics.segments.inc();
      metrics.identifications.inc({ outcome: d.speakerId ? "known" : (d.reason ?? "unknown") });
    }
    const t0 = performance.now();
    // An ignored voice (the TV) reaches the event stream and the log only.
    for (const published of this.ignoredGate ? this.ignoredGate.admit(d) : [d]) {
      this.homeAssistant?.publishEvent(timed(published));
    }
    if (d.speakerId !== null) presence?.heard(d.speakerId, this.name, new Date());
    metrics.stageSeconds.observe({ stage: "publish" }, (performance.now() - t0) / 1000);
    detections.publish(speechEventPayload(event, this.name));
    this.options.logger.info(`${d.type} ${d.speaker ?? `(${d.reason})`}`, {
      turn: d.turnId,
      ...(d.voice !== null ? { voice: d.voice } : {}),
      at: Math.round(d.decidedAtS * 100) / 100,
      score: d.score === null ? null : Math.round(d.score * 1000) / 1000,
      ...(d.type === "stopped" ? { durationS: Math.round(d.durationS * 100) / 100 } : {}),
    });
  }

  private async startComponent(component: Component): Promise<void> {
    await component.start();
    this.started.push(component);
  }
}
