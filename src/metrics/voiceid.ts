import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const IDENTIFICATION_OUTCOMES = ["known", "unknown", "uncertain", "too_short", "ignored"] as const;
export type IdentificationOutcome = (typeof IDENTIFICATION_OUTCOMES)[number];

/** vad: Silero on the stream; encoder: windows -> voiceprints; match: the tracker; publish: MQTT + SSE. */
export const PIPELINE_STAGES = ["vad", "encoder", "match", "publish"] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Stage latencies span a tracker step (~10 µs) to an encoder pass on a Pi over a long segment (seconds). */
export const STAGE_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** What is read at scrape time rather than pushed. */
export interface MetricsSources {
  mqtt?: () => { connected: boolean; reconnects: number } | null;
  encoder?: () => { model: string; provider: string } | null;
  listening?: () => boolean;
  /** Restarts of the live audio source after a failure, counted by the source itself. */
  audioRestarts?: () => number;
  /** Every input (room) with its audio state and its recorder's restarts. */
  inputs?: () => ReadonlyArray<{ room: string; state: string; restarts: number }>;
  /** Household sharing's counters and the nodes it heard from; null when sharing is off. */
  household?: () => { recordsIn: number; recordsOut: number; rejected: number; nodes: unknown[] } | null;
}

/** The daemon's metrics; the pipeline, publisher and audio input update these objects directly. */
export interface VoiceidMetrics {
  registry: Registry;
  /** Speech turns ended. */
  segments: Counter<string>;
  /** Voiceprints learned from confident turns. */
  learned: Counter<string>;
  /** Identification results of ended turns by outcome. */
  identifications: Counter<"outcome">;
  /** Seconds spent per pipeline stage. */
  stageSeconds: Histogram<"stage">;
}

/**
 * A fresh set of the daemon's metrics in their own prom-client registry (one per daemon; tests make their
 * own), with prom-client's process metrics (CPU, resident memory, event-loop lag, heap) for free.
 */
export function createVoiceidMetrics(sources: MetricsSources = {}): VoiceidMetrics {
  const registry = new Registry();
  // The event-loop lag monitor samples with a timer: every 10 ms by default, a wake-up that alone costs
  // about 1 % of a core on an idle daemon. Once a second still shows a stalled loop.
  collectDefaultMetrics({ register: registry, prefix: "voiceid_", eventLoopMonitoringPrecision: 1000 });
  const identifications = new Counter({
    name: "voiceid_identifications_total",
    help: "Identification results of ended turns, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  for (const outcome of IDENTIFICATION_OUTCOMES) identifications.inc({ outcome }, 0);
  const stageSeconds = new Histogram({
    name: "voiceid_stage_seconds",
    help: "Time spent per pipeline stage, in seconds.",
    labelNames: ["stage"] as const,
    buckets: STAGE_BUCKETS,
    registers: [registry],
  });
  for (const stage of PIPELINE_STAGES) stageSeconds.zero({ stage });

  new Gauge({
    name: "voiceid_mqtt_connected",
    help: "1 while connected to the MQTT broker, else 0.",
    registers: [registry],
    collect() {
      this.set(sources.mqtt?.()?.connected ? 1 : 0);
    },
  });
  catchUpCounter(
    registry,
    "voiceid_mqtt_reconnects_total",
    "Connection attempts to the MQTT broker after the first one.",
    () => sources.mqtt?.()?.reconnects ?? 0,
  );
  catchUpCounter(
    registry,
    "voiceid_audio_restarts_total",
    "Restarts of the live audio source after a failure.",
    () => sources.audioRestarts?.() ?? 0,
  );
  const inputRestarts = new Map<string, number>();
  new Counter({
    name: "voiceid_input_restarts_total",
    help: "Restarts of each input's audio source after a failure, by room.",
    labelNames: ["room"] as const,
    registers: [registry],
    collect() {
      for (const input of sources.inputs?.() ?? []) {
        const seen = inputRestarts.get(input.room) ?? 0;
        this.inc({ room: input.room }, Math.max(0, input.restarts - seen));
        inputRestarts.set(input.room, Math.max(seen, input.restarts));
      }
    },
  });
  new Gauge({
    name: "voiceid_input_running",
    help: "1 while an input's audio source runs, else 0 (muted, retrying, ended, ...), by room and state.",
    labelNames: ["room", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const input of sources.inputs?.() ?? [])
        this.set({ room: input.room, state: input.state }, input.state === "running" ? 1 : 0);
    },
  });
  catchUpCounter(
    registry,
    "voiceid_household_records_in_total",
    "Household messages received and accepted (sealed with the household key, well formed).",
    () => sources.household?.()?.recordsIn ?? 0,
  );
  catchUpCounter(
    registry,
    "voiceid_household_records_out_total",
    "Household messages this node published.",
    () => sources.household?.()?.recordsOut ?? 0,
  );
  catchUpCounter(
    registry,
    "voiceid_household_rejected_total",
    "Household messages ignored: not sealed with the household key, or malformed.",
    () => sources.household?.()?.rejected ?? 0,
  );
  new Gauge({
    name: "voiceid_household_nodes",
    help: "voiceid nodes of the household heard from (this one included); 0 when sharing is off.",
    registers: [registry],
    collect() {
      this.set(sources.household?.()?.nodes.length ?? 0);
    },
  });
  new Gauge({
    name: "voiceid_listening",
    help: "1 while listening, 0 while muted by the switch.",
    registers: [registry],
    collect() {
      this.set(sources.listening?.() === false ? 0 : 1);
    },
  });
  new Gauge({
    name: "voiceid_encoder_info",
    help: "The speaker encoder in use (labels model, provider), value 1.",
    labelNames: ["model", "provider"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const encoder = sources.encoder?.();
      if (encoder) this.set({ model: encoder.model, provider: encoder.provider }, 1);
    },
  });
  return {
    registry,
    learned: new Counter({
      name: "voiceid_learned_voiceprints_total",
      help: "Voiceprints learned from confidently named turns (how enrolled people sound in this room).",
      registers: [registry],
    }),
    segments: new Counter({
      name: "voiceid_segments_total",
      help: "Speech turns ended.",
      registers: [registry],
    }),
    identifications,
    stageSeconds,
  };
}

/** A counter kept by another component (which counts itself); it catches up at scrape time. */
function catchUpCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
