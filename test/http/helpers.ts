import { connect } from "node:net";
import type { Hono } from "hono";
import { expect } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { createHttpApp } from "../../src/http/app.js";
import type {
  DetectionEvent,
  HealthReport,
  HttpConfig,
  HttpDeps,
  LiveAudio,
  TimelineView,
} from "../../src/http/deps.js";
import { DetectionHub } from "../../src/http/detections.js";
import { createVoiceidMetrics } from "../../src/metrics/voiceid.js";
import { type Logger, silentLogger } from "../../src/util/log.js";
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
  inputs: [{ room: "default", state: "ok", audio: "running", restarts: 0 }],
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
  overrides: {
    config?: Partial<HttpConfig>;
    liveAudio?: LiveAudio | null;
    logger?: Logger;
    timeline?: TimelineView;
  } = {},
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
    logger: overrides.logger ?? silentLogger,
    ...(overrides.timeline ? { timeline: overrides.timeline } : {}),
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
    voice: null,
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

/** What a hand-written client got back: the answer, parsed, and when the server closed the connection. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body's text (de-chunked). */
  body: string;
  /** From connecting to the connection's close. */
  ms: number;
}

export interface RawClient {
  /** Resolves once the server closed the connection (or the client hung up). */
  answer: Promise<RawAnswer>;
  /** Closes the connection from the client's side, mid-request or not. */
  hangUp(): void;
}

/**
 * A hand-written HTTP/1.1 client on a connection of its own, for what fetch will not do: sends `send` as it is
 * (request line, headers, blank line, body: all up to the caller), then `trickle` every `everyMs` until the
 * server closes the connection.
 */
export function rawRequest(
  base: string,
  request: { send: Array<string | Uint8Array>; trickle?: { chunk: string; everyMs: number } },
): RawClient {
  const { hostname, port } = new URL(base);
  const started = performance.now();
  const socket = connect(Number(port), hostname);
  const received: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  const answer = new Promise<RawAnswer>((resolve) => {
    socket.on("connect", () => {
      for (const part of request.send) socket.write(part);
      const trickle = request.trickle;
      if (trickle) timer = setInterval(() => socket.write(trickle.chunk), trickle.everyMs);
    });
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    // A server that closes while we still write makes writes fail: what it sent before still counts.
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(timer);
      resolve({
        ...parseAnswer(Buffer.concat(received).toString("latin1")),
        ms: performance.now() - started,
      });
    });
  });
  return { answer, hangUp: () => socket.destroy() };
}

function parseAnswer(text: string): Omit<RawAnswer, "ms"> {
  const split = text.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = text.slice(0, split === -1 ? text.length : split).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = split === -1 ? "" : text.slice(split + 4);
  if (headers["transfer-encoding"] === "chunked") {
    let decoded = "";
    for (let at = 0; ; ) {
      const eol = body.indexOf("\r\n", at);
      const size = Number.parseInt(body.slice(at, eol), 16);
      if (!(size > 0)) break;
      decoded += body.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
    body = decoded;
  }
  return { status: Number(statusLine.split(" ")[1] ?? 0), headers, body };
}
