import type { Readable } from "node:stream";
import { LIVE_SOURCES, roomInputs, type VoiceidConfig } from "../config/schema.js";
import { createModelStack, type ModelStack } from "../embedding/stack.js";
import { Enroller } from "../enrolment/enroller.js";
import { Identifier } from "../enrolment/identifier.js";
import { reEmbedMissing, SimulatedRoomsCatchUp } from "../enrolment/re-embed.js";
import { loadHouseholdKey } from "../household/crypto.js";
import { HouseholdPresence } from "../household/presence.js";
import { HouseholdSync } from "../household/sync.js";
import { createHttpApp } from "../http/app.js";
import type { ListeningReport } from "../http/deps.js";
import { DetectionHub } from "../http/detections.js";
import { type RunningHttpServer, startHttpServer } from "../http/server.js";
import {
  commandIdentifierOptions,
  consistencyWarningFor,
  minMarginFor,
  segmenterOptions,
} from "../identify/options.js";
import { createVoiceidMetrics, type VoiceidMetrics } from "../metrics/voiceid.js";
import { MqttConnection } from "../mqtt/connection.js";
import { availabilityWill } from "../mqtt/home-assistant.js";
import { buildTopics, slugify } from "../mqtt/topics.js";
import { SpeakerRegistry } from "../registry/registry.js";
import { Timeline } from "../timeline/timeline.js";
import type { Component } from "../util/lifecycle.js";
import { type LoggedProblem, type Logger, observeProblems } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";
import { voiceGroupingPolicy } from "../voices/voice-groups.js";
import { UnknownVoiceStore } from "../voices/voice-store.js";
import type { VoiceCommand } from "../wyoming/command.js";
import { CommandLog } from "../wyoming/command-log.js";
import { WyomingProxy } from "../wyoming/proxy.js";
import { healthReport } from "./health.js";
import { ListeningState } from "./listening.js";
import { LiveAudioTap } from "./live-audio-tap.js";
import { Room } from "./room.js";
import { ServiceNotifier } from "./service-notifier.js";

/** A node's room on the household's wire is at most this long (src/household/wire.ts). */
const HOUSEHOLD_ROOM_CHARS = 256;
/** How often the diagnostic entities are refreshed (only changes are published). */
const DIAGNOSTICS_INTERVAL_MS = 5000;

export interface DaemonOptions {
  config: VoiceidConfig;
  logger: Logger;
  /** Input for audio.source "stdin" (default process.stdin). */
  stdin?: Readable;
  /** Environment for the recorder process (default process.env). */
  env?: NodeJS.ProcessEnv;
  version?: string;
}

/**
 * The composition root: builds every component from the configuration, starts them in dependency
 * order and stops them in reverse. Signals and exit codes are the entry point's business.
 */
export class Daemon implements Component {
  readonly metrics: VoiceidMetrics = createVoiceidMetrics({
    mqtt: () => this.mqtt?.status() ?? null,
    encoder: () => this.models?.encoderReport ?? null,
    listening: () => this.listeningState?.listening ?? true,
    audioRestarts: () => this.rooms.reduce((n, room) => n + (room.status()?.audio.restarts ?? 0), 0),
    inputs: () =>
      this.roomStatuses().map((s) => ({ room: s.room, state: s.audio.state, restarts: s.audio.restarts })),
    household: () => this.household?.status() ?? null,
  });
  private readonly detections: DetectionHub;
  private readonly log: Logger;
  private started: Component[] = [];
  /** One per input, in the configured order; the first carries the voice command entities. */
  private rooms: Room[] = [];
  private mqtt: MqttConnection | null = null;
  private household: HouseholdSync | null = null;
  private presence: HouseholdPresence | null = null;
  private listeningState: ListeningState | null = null;
  private readonly listeningMutex = new AsyncMutex();
  private readonly reEmbedding = new AsyncMutex();
  private lastProblem: LoggedProblem | null = null;
  private diagnosticsTimer: NodeJS.Timeout | null = null;
  private models: ModelStack | null = null;
  private registry: SpeakerRegistry | null = null;
  private http: RunningHttpServer | null = null;
  private wyoming: WyomingProxy | null = null;
  private commandLog: CommandLog | null = null;
  private stopping: Promise<void> | null = null;
  private endedResolve!: () => void;
  /** Resolves when every input is finite (file, stdin) and all have ended, their last turns reported. */
  readonly inputEnded: Promise<void> = new Promise((r) => {
    this.endedResolve = r;
  });

  constructor(private readonly options: DaemonOptions) {
    this.log = observeProblems(options.logger, (problem) => {
      this.lastProblem = problem;
    });
    this.detections = new DetectionHub(options.logger.child("events"));
  }

  /** Where the HTTP API listens (null when disabled or not started). */
  get httpUrl(): string | null {
    return this.http?.url ?? null;
  }

  /** Where the Wyoming proxy listens (null when disabled or not started). */
  get wyomingAddress(): { host: string; port: number } | null {
    return this.wyoming?.listening ?? null;
  }

  async start(): Promise<void> {
    const { config } = this.options;
    const log = this.log;

    if (config.household.share && !config.mqtt.enabled) {
      throw new Error(
        "household.share needs mqtt.enabled: the household shares its registry through the broker",
      );
    }
    // Before anything starts: a missing or unreadable key refuses the start with a clear message.
    const householdKey = config.household.share ? await loadHouseholdKey(config.household) : null;
    const registry = new SpeakerRegistry({ dataDir: config.dataDir, logger: log.child("registry") });
    await this.startComponent(registry);
    this.registry = registry;
    // `voiceid enroll` may run beside the daemon: follow its changes.
    registry.watch();
    const listening = new ListeningState(config.dataDir, log.child("listening"));
    await listening.load();
    this.listeningState = listening;

    const models = await createModelStack(config, log, { forDaemon: true });
    const { model, provider, reason } = models.encoderReport;
    this.log.info(`encoder ${model} on ${provider}: ${reason}`);
    await this.startComponent(models);
    const encoder = models.encoder;
    this.models = models;

    // After a change of encoder, enrolled people are recognised again from their kept clips.
    await reEmbedMissing(registry, models.extractor, log.child("re-embed"), false);
    const threshold = models.defaultThreshold;
    const identifier = new Identifier(registry, {
      modelId: encoder.modelId,
      defaultThreshold: threshold,
      minMargin: minMarginFor(config.identification, encoder.modelId),
    });
    await this.startComponent(identifier);
    const enroller = new Enroller(registry, models.extractor, {
      minSpeechSeconds: config.enrolment.minSpeechSeconds,
      consistencyWarning: consistencyWarningFor(
        config.enrolment.consistencyWarning,
        threshold,
        encoder.modelId,
      ),
      keepClips: config.enrolment.keepClips,
      simulateRooms: config.enrolment.simulateRooms,
      defaultThreshold: threshold,
      identifier,
    });
    const inputs = roomInputs(config);
    // The household knows this node by its rooms (bounded like any room name on the wire).
    const nodeRoom = householdRoomLabel(inputs.map((i) => i.room));
    // One connection for every room; its last will is the first room's availability, which every
    // other room's device needs too (see HomeAssistantPublisher), so a crash makes them all unavailable.
    const will = availabilityWill(buildTopics(config.mqtt.baseTopic, inputs[0].room));

    // Voices nobody enrolled, grouped as they come, to be named or ignored later.
    const voices = config.unknownVoices.enabled
      ? new UnknownVoiceStore({
          dataDir: config.dataDir,
          modelId: encoder.modelId,
          threshold,
          policy: voiceGroupingPolicy(threshold, encoder.modelId),
          maxTurns: config.unknownVoices.maxTurns,
          maxDays: config.unknownVoices.maxDays,
          keepClips: config.unknownVoices.keepClips,
          logger: log.child("voices"),
        })
      : null;
    if (voices) await this.startComponent(voices);
    // The people, and the voices the household ignores (matched like people, never named).
    const candidates = voices
      ? () => {
          const ignored = voices.ignoredCandidates();
          return ignored.length === 0 ? identifier.candidates() : [...identifier.candidates(), ...ignored];
        }
      : () => identifier.candidates();

    if (config.mqtt.enabled) {
      const m = config.mqtt;
      const connection = new MqttConnection({
        url: m.url,
        username: m.username,
        password: m.password,
        tls: m.tls,
        clientId: m.clientId,
        clientIdPrefix: `voiceid-${slugify(inputs[0].room)}`,
        will,
        reconnectMinMs: m.reconnectMinMs,
        reconnectMaxMs: m.reconnectMaxMs,
        logger: log,
      });
      const presence = config.household.presence
        ? new HouseholdPresence({
            connection,
            baseTopic: m.baseTopic,
            discoveryPrefix: m.discoveryPrefix,
            softwareVersion: this.options.version,
            logger: log,
          })
        : null;
      const publishSpeakers = () =>
        presence?.setSpeakers(registry.list().map((s) => ({ id: s.id, name: s.name })));
      publishSpeakers();
      registry.onChange(publishSpeakers);
      // The broker being down is not fatal: the connection retries in the background.
      await this.startComponent(connection);
      this.mqtt = connection;
      if (presence) {
        await this.startComponent(presence);
        this.presence = presence;
      }
      if (householdKey) {
        const household = new HouseholdSync({
          registry,
          connection,
          baseTopic: m.baseTopic,
          key: householdKey,
          room: nodeRoom,
          version: this.options.version ?? "unknown",
          logger: log,
          shareClips: config.household.shareClips,
          // A clip from a node on another encoder: this node makes its own voiceprints from it.
          onClipKept: () =>
            void this.reEmbedding
              .run(() =>
                reEmbedMissing(
                  registry,
                  models.extractor,
                  log.child("re-embed"),
                  config.enrolment.simulateRooms,
                ),
              )
              .catch((err: unknown) =>
                log.warn("re-embedding shared clips failed", {
                  error: err instanceof Error ? err.message : String(err),
                }),
              ),
        });
        await this.startComponent(household);
        this.household = household;
      }
    }

    // The page's timeline follows the decisions as the event stream carries them.
    const timeline = new Timeline({
      ...config.timeline,
      dataDir: config.dataDir,
      logger: log.child("timeline"),
    });
    await this.startComponent(timeline);
    this.detections.subscribe((event) => timeline.record(event));
    registry.onChange(() => {
      const people = new Set(registry.list().map((s) => s.id));
      timeline.forget((turn) => turn.speakerId !== null && !people.has(turn.speakerId));
    });
    // A voice forgotten on request leaves the timeline too (one named stays: its bars are history).
    voices?.onForgotten((id) => timeline.forget((turn) => turn.voice === id));

    const multi = inputs.length > 1;
    const shared = {
      config,
      models,
      registry,
      identifier,
      candidates,
      voices,
      connection: this.mqtt,
      presence: this.presence,
      detections: this.detections,
      metrics: this.metrics,
      listening: () => listening.listening,
      onListeningCommand: (on: boolean) => {
        void this.setListening(on, "Home Assistant").catch((err: unknown) =>
          log.error("cannot switch listening", { error: err instanceof Error ? err.message : String(err) }),
        );
      },
      stdin: this.options.stdin,
      env: this.options.env,
      version: this.options.version,
    };
    for (const [i, input] of inputs.entries()) {
      const room = new Room({
        input,
        shared,
        daemonAvailability: will.topic,
        commands: i === 0 && config.wyoming.enabled,
        // One room logs as the daemon always has; several say which room a line is about.
        logger: multi ? log.child(slugify(input.room)) : log,
      });
      // Listed before it starts: a room that fails half-way still stops what it started.
      this.started.push(room);
      this.rooms.push(room);
      await room.start();
    }
    const lead = this.rooms[0];
    if (inputs.every((i) => !LIVE_SOURCES.has(i.audio.source)))
      void Promise.all(this.rooms.map((r) => r.ended)).then(() => this.endedResolve());

    if (config.wyoming.enabled) {
      // Voice commands from Home Assistant's pipeline, named with the same models and tracker.
      const commandLog = new CommandLog(config.wyoming.showTranscripts);
      this.commandLog = commandLog;
      const proxy = new WyomingProxy({
        config: config.wyoming,
        createVad: () => models.streamVad(),
        encoder,
        candidates: () => identifier.candidates(),
        segmenter: segmenterOptions(config.vad),
        identification: commandIdentifierOptions(config.identification, threshold, encoder.modelId),
        onDecision: (commandId, d) => lead.reportCommandDecision(commandId, d),
        onCommand: (command) => this.reportCommand(command),
        onTranscript: (command, text) => commandLog.transcribed(command, text),
        logger: log.child("wyoming"),
      });
      await this.startComponent(proxy);
      this.wyoming = proxy;
    }

    // Clips enrolled before simulated rooms (or with an older simulation) get them while it listens.
    if (config.enrolment.simulateRooms)
      await this.startComponent(new SimulatedRoomsCatchUp(registry, models.extractor, log.child("re-embed")));
    if (!listening.listening)
      log.warn("not listening: switched off (POST /api/listening or the switch in Home Assistant)");

    if (config.http.enabled) {
      const app = createHttpApp({
        registry,
        enroller,
        modelId: encoder.modelId,
        defaultThreshold: threshold,
        detections: this.detections,
        // Recording an enrolment from the daemon's microphone takes the first input's.
        liveAudio: lead.audioInput ? new LiveAudioTap(lead.audioInput) : null,
        listening: {
          get: () => this.listeningReport(),
          set: async (on: boolean) => {
            await this.setListening(on, "the HTTP API");
            return this.listeningReport();
          },
        },
        health: () => this.health(),
        timeline,
        ...(this.commandLog ? { commands: () => this.commandLog!.recent() } : {}),
        ...(voices
          ? {
              voices: {
                store: voices,
                keepClips: config.unknownVoices.keepClips,
                naming: {
                  modelId: encoder.modelId,
                  minSpeechSeconds: config.enrolment.minSpeechSeconds,
                  consistencyWarning: consistencyWarningFor(
                    config.enrolment.consistencyWarning,
                    models.defaultThreshold,
                    encoder.modelId,
                  ),
                },
              },
            }
          : {}),
        metrics: () => this.metrics.registry.metrics(),
        config: {
          bodyLimitBytes: config.http.bodyLimitBytes,
          maxUploadSeconds: config.http.maxUploadSeconds,
          token: config.http.token,
          host: config.http.host,
          allowedHosts: config.http.allowedHosts,
        },
        logger: log,
      });
      this.http = await startHttpServer(app, { host: config.http.host, port: config.http.port });
      this.started.push({ start: async () => {}, stop: () => this.http?.close() ?? Promise.resolve() });
      log.info("HTTP API listening", { url: this.http.url });
    }
    this.publishDiagnostics();
    // Audio state and the last error change on their own (a recorder dies, the broker goes away).
    this.diagnosticsTimer = setInterval(() => this.publishDiagnostics(), DIAGNOSTICS_INTERVAL_MS);
    this.diagnosticsTimer.unref();
    log.info("voiceid started", {
      listening: listening.listening,
      rooms: inputs.map((i) => `${i.room} (${i.audio.source})`).join(", "),
      model: encoder.modelId,
    });
    // Last: systemd (Type=notify) hears READY=1 only now, and stops hearing the watchdog if the loop wedges.
    await this.startComponent(new ServiceNotifier(log.child("systemd"), this.options.env));
  }

  /** Stops everything in reverse order of start; MQTT says "offline" on its way out. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.diagnosticsTimer) clearInterval(this.diagnosticsTimer);
      await this.listeningMutex.idle();
      await this.reEmbedding.idle();
      for (const component of this.started.reverse()) {
        try {
          await component.stop();
        } catch (err) {
          this.log.warn("component failed to stop cleanly", {
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
      this.started = [];
    })();
    return this.stopping;
  }

  health() {
    return healthReport({
      rooms: this.roomStatuses(),
      encoder: this.models?.encoderReport ?? null,
      mqtt: this.mqtt,
      registry: this.registry,
      listening: this.listeningReport(),
      household: this.household?.status() ?? null,
    });
  }

  /**
   * The mute switch, one for the daemon: off stops every room's recorder and ends its open turn (talking
   * goes OFF), nothing is processed; on gives each a fresh recorder and pipeline. Saved before it is
   * applied, so a restart keeps it. Whoever says "stop listening" means every microphone.
   */
  setListening(on: boolean, by: string): Promise<void> {
    return this.listeningMutex.run(async () => {
      const state = this.listeningState;
      if (!state || this.rooms.length === 0 || this.stopping) throw new Error("the daemon is not running");
      if (state.listening === on) return;
      await state.set(on);
      for (const room of this.rooms) await room.setListening(on);
      this.publishDiagnostics();
      this.log.info(on ? "listening switched on" : "listening switched off", { by });
    });
  }

  private roomStatuses() {
    return this.rooms.flatMap((room) => room.status() ?? []);
  }

  private listeningReport(): ListeningReport {
    return this.listeningState?.report ?? { listening: true, changedAt: new Date(0).toISOString() };
  }

  private publishDiagnostics(): void {
    const problem = this.lastProblem;
    for (const room of this.rooms)
      room.publishDiagnostics({
        encoder: this.models?.encoder.modelId ?? "none",
        lastError: problem ? problem.message.slice(0, 255) : null,
        lastErrorAt: problem ? problem.at.toISOString() : null,
      });
  }

  private async startComponent(component: Component): Promise<void> {
    await component.start();
    this.started.push(component);
  }

  /** Settles once the command is published (the proxy holds its transcript back until then, briefly). */
  private reportCommand(command: VoiceCommand): Promise<void> {
    const published = this.rooms[0]?.publishCommand(command) ?? Promise.resolve();
    this.commandLog?.add(command);
    this.log.info(`command ${command.speaker ?? `(${command.reason})`}`, {
      command: command.id,
      score: command.score === null ? null : Math.round(command.score * 1000) / 1000,
      durationS: command.durationS,
      mode: command.mode,
      forwarded: command.forwarded,
    });
    return published;
  }
}

/** The rooms of a node as the household sees it: its rooms' names, bounded as a room is on the wire. */
function householdRoomLabel(rooms: readonly string[]): string {
  const all = rooms.join(", ");
  return all.length <= HOUSEHOLD_ROOM_CHARS ? all : `${rooms[0]} and ${rooms.length - 1} more rooms`;
}
