import { type Counter, type Gauge, type Histogram, MetricsRegistry } from "./prometheus.js";

export const IDENTIFICATION_OUTCOMES = ["known", "unknown", "uncertain", "too_short"] as const;
export type IdentificationOutcome = (typeof IDENTIFICATION_OUTCOMES)[number];

export const PIPELINE_STAGES = ["vad", "encoder", "match", "publish"] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Stage latencies span a VAD window (~0.1 ms) to an encoder pass on a Pi over a long segment (seconds). */
export const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The daemon's metrics; the pipeline, MQTT publisher and audio source update these objects directly. */
export interface VoiceidMetrics {
  registry: MetricsRegistry;
  /** Speech segments closed by the VAD segmenter. */
  segments: Counter;
  /** Identification results by outcome: {outcome="known|unknown|uncertain|too_short"}. */
  identifications: Counter;
  /** Seconds spent per pipeline stage: {stage="vad|encoder|match|publish"}. */
  stageSeconds: Histogram;
  /** 1 while connected to the MQTT broker. */
  mqttConnected: Gauge;
  mqttReconnects: Counter;
  /** Times the live audio source was restarted after a failure. */
  audioRestarts: Counter;
  /** Resident set size, read at scrape time. */
  residentMemoryBytes: Gauge;
}

/** A fresh set of the daemon's metrics in their own registry (one per daemon; tests make their own). */
export function createVoiceidMetrics(): VoiceidMetrics {
  const registry = new MetricsRegistry();
  const identifications = registry.counter({
    name: "voiceid_identifications_total",
    help: "Speaker identification results by outcome.",
    labelNames: ["outcome"],
  });
  for (const outcome of IDENTIFICATION_OUTCOMES) identifications.declare({ outcome });
  const stageSeconds = registry.histogram({
    name: "voiceid_stage_seconds",
    help: "Time spent per pipeline stage, in seconds.",
    labelNames: ["stage"],
    buckets: STAGE_BUCKETS,
  });
  for (const stage of PIPELINE_STAGES) stageSeconds.declare({ stage });
  return {
    registry,
    segments: registry.counter({
      name: "voiceid_segments_total",
      help: "Speech segments detected by the VAD.",
    }),
    identifications,
    stageSeconds,
    mqttConnected: registry.gauge({
      name: "voiceid_mqtt_connected",
      help: "1 while connected to the MQTT broker, else 0.",
    }),
    mqttReconnects: registry.counter({
      name: "voiceid_mqtt_reconnects_total",
      help: "Reconnections to the MQTT broker.",
    }),
    audioRestarts: registry.counter({
      name: "voiceid_audio_restarts_total",
      help: "Restarts of the live audio source after a failure.",
    }),
    residentMemoryBytes: registry.gauge({
      name: "voiceid_process_resident_memory_bytes",
      help: "Resident set size of the voiceid process, in bytes.",
      collect: () => process.memoryUsage.rss(),
    }),
  };
}
