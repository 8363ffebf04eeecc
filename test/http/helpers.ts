import type { Hono } from "hono";
import { expect } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { createHttpApp } from "../../src/http/app.js";
import type { DetectionEvent, HealthReport, HttpConfig, HttpDeps, LiveAudio } from "../../src/http/deps.js";
import { DetectionHub } from "../../src/http/detections.js";
import { createVoiceidMetrics } from "../../src/metrics/voiceid.js";
import { silentLogger } from "../../src/util/log.js";
import type { RealPipeline, TempRegistry } from "../enrolment/helpers.js";

export const OK_HEALTH: HealthReport = {
  status: "ok",
  listening: { listening: true, changedAt: new Date(0).toISOString() },
  encoder: { model: "resemblyzer-0.1.4", provider: "cpu", reason: "configured" },
  components: {
    audio: { state: "ok" },
    vad: { state: "ok" },
    model: { state: "ok" },
    mqtt: { state: "ok" },
    registry: { state: "ok" },
  },
};

/**
 * Live audio served from a real recording: record(seconds) returns the next `seconds` of the WAV,
 * after waiting (a fraction of) that long, like a microphone would; honours the abort signal.
 */
export class WavLiveAudio implements LiveAudio {
  private position = 0;
  readonly calls: number[] = [];
  constructor(
    private readonly wav: Uint8Array,
    private readonly delayMs = 20,
  ) {}

  async record(seconds: number, signal?: AbortSignal): Promise<Float32Array> {
    this.calls.push(seconds);
    const samples = readWavAs16kMono(this.wav);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, this.delayMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
    const n = Math.round(seconds * 16000);
    const out = samples.slice(this.position, this.position + n);
    this.position += n;
    return out;
  }
}

export interface TestApp {
  app: Hono;
  deps: HttpDeps;
  hub: DetectionHub;
  health: { report: HealthReport };
}

export function makeApp(
  pipeline: RealPipeline,
  temp: TempRegistry,
  overrides: { config?: Partial<HttpConfig>; liveAudio?: LiveAudio | null } = {},
): TestApp {
  const hub = new DetectionHub(silentLogger);
  const metrics = createVoiceidMetrics();
  const health = { report: structuredClone(OK_HEALTH) };
  const deps: HttpDeps = {
    registry: temp.registry,
    enroller: new Enroller(temp.registry, pipeline.extractor),
    modelId: pipeline.extractor.modelId,
    defaultThreshold: 0.82,
    detections: hub,
    liveAudio: overrides.liveAudio ?? null,
    listening: null,
    health: () => health.report,
    metrics: () => metrics.registry.metrics(),
    config: { bodyLimitBytes: 4 * 1024 * 1024, maxUploadSeconds: 30, ...overrides.config },
    logger: silentLogger,
  };
  return { app: createHttpApp(deps), deps, hub, health };
}

export function wavRequest(
  bytes: Uint8Array,
  type = "audio/wav",
  headers: Record<string, string> = {},
): RequestInit {
  return { method: "POST", body: bytes, headers: { "Content-Type": type, ...headers } };
}

export function jsonRequest(
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): RequestInit {
  return { method, body: JSON.stringify(body), headers: { "Content-Type": "application/json", ...headers } };
}

export function multipart(files: { name: string; bytes: Uint8Array; type?: string }[]): FormData {
  const form = new FormData();
  for (const f of files) form.append("file", new Blob([f.bytes], { type: f.type ?? "audio/wav" }), f.name);
  return form;
}

export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  return { status: res.status, ...body.error };
}

/** Where a JSON value holds an array of numbers (a voiceprint would be one), as paths like "samples.0.x". */
export function numberArraysIn(value: unknown, at = ""): string[] {
  if (Array.isArray(value) && value.some((v) => typeof v === "number")) return [at];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => numberArraysIn(v, at === "" ? key : `${at}.${key}`));
}

export function detection(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  return {
    type: "started",
    turnId: 1,
    room: "kitchen",
    speaker: "Alice",
    speakerId: "alice",
    reason: null,
    score: 0.91,
    nearestSpeaker: "Alice",
    nearestSpeakerId: "alice",
    margin: 0.2,
    threshold: 0.82,
    scores: { alice: 0.91 },
    startedAt: "2025-01-01T12:00:00.000Z",
    offsetS: 3,
    decidedAtS: 4.6,
    durationS: 1.6,
    ...overrides,
  };
}
