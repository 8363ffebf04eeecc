import type { Readable } from "node:stream";
import type { VoiceidConfig } from "../config/schema.js";
import { createModelStack, type ModelStack } from "../embedding/stack.js";
import { Enroller } from "../enrolment/enroller.js";
import { Identifier } from "../enrolment/identifier.js";
import { reEmbedMissing, SimulatedRoomsCatchUp } from "../enrolment/re-embed.js";
import { RoomLearner } from "../enrolment/room-learner.js";
import { loadHouseholdKey } from "../household/crypto.js";
import { HouseholdPresence } from "../household/presence.js";
import { HouseholdSync } from "../household/sync.js";
import { createHttpApp } from "../http/app.js";
import type { ListeningReport } from "../http/deps.js";
import { DetectionHub } from "../http/detections.js";
import { type RunningHttpServer, startHttpServer } from "../http/server.js";
import type { Decision } from "../identify/decision.js";
import { commandIdentifierOptions, liveIdentifierOptions, segmenterOptions } from "../identify/options.js";
import type { EndedTurn } from "../identify/speaker-tracker.js";
import { createVoiceidMetrics, type VoiceidMetrics } from "../metrics/voiceid.js";
import { MqttConnection } from "../mqtt/connection.js";
import { availabilityWill, HomeAssistantPublisher } from "../mqtt/home-assistant.js";
import { buildTopics, slugify, speechEventPayload, type TimedDecision } from "../mqtt/topics.js";
import { SpeakerRegistry } from "../registry/registry.js";
import { Timeline } from "../timeline/timeline.js";
import type { Component } from "../util/lifecycle.js";
import { type LoggedProblem, type Logger, observeProblems } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";
import { IgnoredVoiceGate } from "../voices/ignored-voice-gate.js";
import { voiceGroupingPolicy } from "../voices/voice-groups.js";
import { CLIP_SECONDS, UnknownVoiceStore } from "../voices/voice-store.js";
import type { VoiceCommand } from "../wyoming/command.js";
import { CommandLog } from "../wyoming/command-log.js";
import { WyomingProxy } from "../wyoming/proxy.js";
import { AudioInput } from "./audio-input.js";
import { healthReport } from "./health.js";
import { ListeningState } from "./listening.js";
import { LiveAudioTap } from "./live-audio-tap.js";
import { ServiceNotifier } from "./service-notifier.js";
import { SpeechPipeline } from "./speech-pipeline.js";

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
    audioRestarts: () => this.input?.status().restarts ?? 0,
    household: () => this.household?.status() ?? null,
  });
  private readonly detections: DetectionHub;
  private readonly log: Logger;
  private started: Component[] = [];
  private input: AudioInput | null = null;
  private pipeline: SpeechPipeline | null = null;
  private mqtt: MqttConnection | null = null;
  private homeAssistant: HomeAssistantPublisher | null = null;
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
  private streamStartedAt: number | null = null;
  private wyoming: WyomingProxy | null = null;
  private ignoredGate: IgnoredVoiceGate | null = null;
  private commandLog: CommandLog | null = null;
  private stopping: Promise<void> | null = null;
  private endedResolve!: () => void;
  /** Resolves when a finite input (file, stdin) has ended and its last segment was reported. */
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
    const streamVad = models.streamVad();
    await this.startComponent(streamVad);

    // After a change of encoder, enrolled people are recognised again from their kept clips.
    await reEmbedMissing(registry, models.extractor, log.child("re-embed"), false);
    const threshold = models.defaultThreshold;
    const identifier = new Identifier(registry, {
      modelId: encoder.modelId,
      defaultThreshold: threshold,
      minMargin: config.identification.minMargin || undefined,
    });
    await this.startComponent(identifier);
    const enroller = new Enroller(registry, models.extractor, {
      minSpeechSeconds: config.enrolment.minSpeechSeconds,
      consistencyWarning: config.enrolment.consistencyWarning,
      keepClips: config.enrolment.keepClips,
      simulateRooms: config.enrolment.simulateRooms,
      defaultThreshold: threshold,
      identifier,
    });
    const learner = config.identification.learn
      ? new RoomLearner({
          registry,
          candidates: () => identifier.candidates(),
          modelId: encoder.modelId,
          defaultThreshold: threshold,
          room: config.room,
          listening: () => listening.listening,
          logger: log.child("learning"),
          onLearned: () => this.metrics.learned.inc(),
        })
      : null;
    if (learner) await this.startComponent(learner);

    // Voices nobody enrolled, grouped as they come, to be named or ignored later.
    const voices = config.unknownVoices.enabled
      ? new UnknownVoiceStore({
          dataDir: config.dataDir,
          modelId: encoder.modelId,
          threshold,
          policy: voiceGroupingPolicy(threshold),
          maxTurns: config.unknownVoices.maxTurns,
          maxDays: config.unknownVoices.maxDays,
          keepClips: config.unknownVoices.keepClips,
          logger: log.child("voices"),
        })
      : null;
    if (voices) {
      await this.startComponent(voices);

      this.ignoredGate = new IgnoredVoiceGate(() => voices.ignoredCandidates().length > 0);
    }
    // The people, and the voices the household ignores (matched like people, never named).
    const candidates = voices
      ? () => {
          const ignored = voices.ignoredCandidates();
          return ignored.length === 0 ? identifier.candidates() : [...identifier.candidates(), ...ignored];
        }
      : () => identifier.candidates();

    if (config.mqtt.enabled) {
      const m = config.mqtt;
      const topics = buildTopics(m.baseTopic, config.room);
      const connection = new MqttConnection({
        url: m.url,
        username: m.username,
        password: m.password,
        tls: m.tls,
        clientId: m.clientId,
        clientIdPrefix: `voiceid-${slugify(config.room)}`,
        will: availabilityWill(topics),
        reconnectMinMs: m.reconnectMinMs,
        reconnectMaxMs: m.reconnectMaxMs,
        logger: log,
      });
      const homeAssistant = new HomeAssistantPublisher({
        connection,
        topics,
        discoveryPrefix: m.discoveryPrefix,
        haStatusTopic: m.haStatusTopic,
        softwareVersion: this.options.version,
        commands: config.wyoming.enabled,
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
      const publishSpeakers = () => {
        const speakers = registry.list().map((s) => ({ id: s.id, name: s.name }));
        homeAssistant.setSpeakers(speakers);
        presence?.setSpeakers(speakers);
      };
      publishSpeakers();
      registry.onChange(publishSpeakers);
      homeAssistant.setListening(listening.listening);
      homeAssistant.onListeningCommand((on) => {
        void this.setListening(on, "Home Assistant").catch((err: unknown) =>
          log.error("cannot switch listening", { error: err instanceof Error ? err.message : String(err) }),
        );
      });
      // The broker being down is not fatal: the connection retries in the background.
      await this.startComponent(connection);
      await this.startComponent(homeAssistant);
      this.mqtt = connection;
      this.homeAssistant = homeAssistant;
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
          room: config.room,
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

    const clipSamples = CLIP_SECONDS * 16_000;
    const pipeline: SpeechPipeline = new SpeechPipeline({
      vad: streamVad,
      quietGate: config.vad.quietGate ? {} : false,
      encoder,
      candidates,
      ...(voices
        ? {
            voices: voices.forRoom(
              config.room,
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
      onTiming: (stage, seconds) => this.metrics.stageSeconds.observe({ stage }, seconds),
      logger: log.child("pipeline"),
    });
    await this.startComponent(pipeline);
    this.pipeline = pipeline;

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
        onDecision: (commandId, d) => this.reportCommandDecision(commandId, d),
        onCommand: (command) => this.reportCommand(command),
        onTranscript: (command, text) => commandLog.transcribed(command, text),
        logger: log.child("wyoming"),
      });
      await this.startComponent(proxy);
      this.wyoming = proxy;
    }

    const input = new AudioInput(
      config.audio,
      { logger: log, env: this.options.env, stdin: this.options.stdin },
      log.child("audio"),
      !listening.listening,
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
    // Clips enrolled before simulated rooms (or with an older simulation) get them while it listens.
    if (config.enrolment.simulateRooms)
      await this.startComponent(new SimulatedRoomsCatchUp(registry, models.extractor, log.child("re-embed")));
    this.input = input;
    if (!listening.listening)
      log.warn("not listening: switched off (POST /api/listening or the switch in Home Assistant)");

    if (config.http.enabled) {
      const app = createHttpApp({
        registry,
        enroller,
        modelId: encoder.modelId,
        defaultThreshold: threshold,
        detections: this.detections,
        liveAudio: new LiveAudioTap(input),
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
                  consistencyWarning: config.enrolment.consistencyWarning,
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
      source: config.audio.source,
      room: config.room,
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
      input: this.input,
      pipeline: this.pipeline,
      encoder: this.models?.encoderReport ?? null,
      mqtt: this.mqtt,
      registry: this.registry,
      listening: this.listeningReport(),
      household: this.household?.status() ?? null,
    });
  }

  /**
   * The mute switch. Off: the microphone's recorder stops, the open turn ends (talking goes OFF), nothing
   * is processed. On: a fresh recorder and pipeline. Saved before it is applied, so a restart keeps it.
   */
  setListening(on: boolean, by: string): Promise<void> {
    return this.listeningMutex.run(async () => {
      const state = this.listeningState;
      const input = this.input;
      const pipeline = this.pipeline;
      if (!state || !input || !pipeline || this.stopping) throw new Error("the daemon is not running");
      if (state.listening === on) return;
      await state.set(on);
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
      this.publishDiagnostics();
      this.log.info(on ? "listening switched on" : "listening switched off", { by });
    });
  }

  private listeningReport(): ListeningReport {
    return this.listeningState?.report ?? { listening: true, changedAt: new Date(0).toISOString() };
  }

  private publishDiagnostics(): void {
    const problem = this.lastProblem;
    this.homeAssistant?.setDiagnostics({
      audio: this.input?.status().state ?? "starting",
      encoder: this.models?.encoder.modelId ?? "none",
      lastError: problem ? problem.message.slice(0, 255) : null,
      lastErrorAt: problem ? problem.at.toISOString() : null,
    });
  }

  private async startComponent(component: Component): Promise<void> {
    await component.start();
    this.started.push(component);
  }

  /** A decision on a command's audio: talking and last heard follow it, marked with the command. */
  private reportCommandDecision(commandId: number, d: Decision): void {
    const startedAt = new Date(Date.now() - (d.decidedAtS - d.startS) * 1000);
    const event: TimedDecision = { ...d, startedAt, commandId };
    this.homeAssistant?.publishEvent(event);
    this.detections.publish(speechEventPayload(event, this.options.config.room));
  }

  private reportCommand(command: VoiceCommand): void {
    this.homeAssistant?.publishCommand(command);
    this.commandLog?.add(command);
    this.log.info(`command ${command.speaker ?? `(${command.reason})`}`, {
      command: command.id,
      score: command.score === null ? null : Math.round(command.score * 1000) / 1000,
      durationS: command.durationS,
      mode: command.mode,
      forwarded: command.forwarded,
    });
  }

  private report(d: Decision): void {
    const base = this.streamStartedAt ?? Date.now();
    const timed = (x: Decision): TimedDecision => ({ ...x, startedAt: new Date(base + x.startS * 1000) });
    const event = timed(d);
    if (d.type === "stopped") {
      this.metrics.segments.inc();
      this.metrics.identifications.inc({ outcome: d.speakerId ? "known" : (d.reason ?? "unknown") });
    }
    const t0 = performance.now();
    // An ignored voice (the TV) reaches the event stream and the log only.
    for (const published of this.ignoredGate ? this.ignoredGate.admit(d) : [d]) {
      this.homeAssistant?.publishEvent(timed(published));
    }
    if (d.speakerId !== null) this.presence?.heard(d.speakerId, this.options.config.room, new Date());
    this.metrics.stageSeconds.observe({ stage: "publish" }, (performance.now() - t0) / 1000);
    this.detections.publish(speechEventPayload(event, this.options.config.room));
    this.log.info(`${d.type} ${d.speaker ?? `(${d.reason})`}`, {
      turn: d.turnId,
      ...(d.voice !== null ? { voice: d.voice } : {}),
      at: Math.round(d.decidedAtS * 100) / 100,
      score: d.score === null ? null : Math.round(d.score * 1000) / 1000,
      ...(d.type === "stopped" ? { durationS: Math.round(d.durationS * 100) / 100 } : {}),
    });
  }
}
