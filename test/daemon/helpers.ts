import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { loadConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { type Logger, silentLogger } from "../../src/util/log.js";
import { exampleConfig, shippedArgs, shippedEnv } from "../helpers/cli.js";
import { freePort } from "../helpers/mosquitto.js";
import { librispeechWav, modelsDir, repoRoot } from "../helpers/paths.js";

export const SAMPLE_RATE = 16_000;
const seconds = (s: number) => Math.round(s * SAMPLE_RATE);

// ---------------------------------------------------------------------------------------------------------
// Audio: a stream of known speakers with known start times, built in memory from the shared audio.

/**
 * Speaker A (female) and B (male) are enrolled on the FIRST half of their files and streamed from the
 * second half; the stranger is never enrolled. Each piece is read speech without long pauses, so the
 * VAD usually keeps it as one segment (e2e.test.ts allows it to cut one at a pause).
 */
export const SPEAKER_A = "198-126831-0000";
export const SPEAKER_B = "3374-298025-0000";
export const STRANGER = "441-128982-0000";

export interface StreamPiece {
  /** "A", "B" or "unknown". */
  who: string;
  /** True start in the stream, seconds. */
  startS: number;
  endS: number;
}

export interface TestStream {
  wav: Uint8Array;
  pieces: StreamPiece[];
  durationS: number;
}

export interface Enrolment {
  A: Uint8Array;
  B: Uint8Array;
}

function load(stem: string): Float32Array {
  return readWavAs16kMono(readFileSync(librispeechWav(`${stem}.wav`)));
}

/** First halves of A and B as WAV files, for POST /api/speakers/:id/samples. */
export { freePort };

export function enrolmentClips(): Enrolment {
  const clip = (stem: string) => {
    const audio = load(stem);
    return encodePcm16Wav(audio.subarray(0, audio.length >> 1), SAMPLE_RATE);
  };
  return { A: clip(SPEAKER_A), B: clip(SPEAKER_B) };
}

/**
 * `parts` alternates speech pieces and silences: [who, samples] for speech, a number for seconds of
 * digital silence. The true start/end of each piece is recorded.
 */
export function buildStream(parts: Array<[string, Float32Array] | number>): TestStream {
  const total = parts.reduce<number>((n, p) => n + (typeof p === "number" ? seconds(p) : p[1].length), 0);
  const samples = new Float32Array(total);
  const pieces: StreamPiece[] = [];
  let at = 0;
  for (const part of parts) {
    if (typeof part === "number") {
      at += seconds(part);
      continue;
    }
    const [who, audio] = part;
    samples.set(audio, at);
    pieces.push({ who, startS: at / SAMPLE_RATE, endS: (at + audio.length) / SAMPLE_RATE });
    at += audio.length;
  }
  return { wav: encodePcm16Wav(samples, SAMPLE_RATE), pieces, durationS: total / SAMPLE_RATE };
}

/** Second halves (never used for enrolment), A's split in two so A can speak twice. */
export function streamedPieces() {
  const a = load(SPEAKER_A);
  const b = load(SPEAKER_B);
  const aHalf = a.length >> 1;
  const aMid = aHalf + ((a.length - aHalf) >> 1);
  return {
    a1: a.subarray(aHalf, aMid),
    a2: a.subarray(aMid),
    b: b.subarray(b.length >> 1),
    stranger: load(STRANGER).subarray(0, seconds(8)),
  };
}

/** A, 3 s, the stranger, 3 s, B, 3 s, A again (~35 s). */
export function conversationStream(): TestStream {
  const p = streamedPieces();
  return buildStream([0.5, ["A", p.a1], 3, ["unknown", p.stranger], 3, ["B", p.b], 3, ["A", p.a2], 1]);
}

// ---------------------------------------------------------------------------------------------------------
// Processes

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly httpUrl: string;
  readonly dataDir: string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Everything the daemon logged so far (stderr and stdout). */
  log(): string;
  /** Writes the WAV to stdin; ends stdin unless `end` is false. */
  feed(wav: Uint8Array, end?: boolean): void;
  /** SIGKILL if still running, and remove the temp dir. Idempotent; for afterAll. */
  dispose(): Promise<void>;
}

export interface DaemonOptions {
  mqttUrl: string;
  /** VOICEID_ROOM; unset with a configuration that lists its inputs. */
  room?: string;
  /** The configuration file (default the example configuration). */
  configFile?: string;
  /** `--input`: "-" (default) reads stdin; null runs on the configured source, the microphone. */
  input?: string | null;
  realtime?: boolean;
  /** Extra environment (e.g. reconnect backoff). */
  env?: Record<string, string>;
  /** Data directory to use (and keep) instead of a fresh one. */
  dataDir?: string;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  // Last resort against a leaked daemon when a test run dies without its afterAll.
  for (const child of live) child.kill("SIGKILL");
});

/**
 * `voiceid run --input -` (or on the microphone) as shipped and installed: the bundle with the systemd
 * unit's node options, reading the example configuration (what the installer puts in
 * /etc/voiceid/voiceid.yaml) through --config as the unit does, and the rest from the environment as
 * /etc/voiceid/voiceid.env would give it: the room, the broker, a free HTTP port. A temp data dir of its own.
 */
export async function spawnDaemon(options: DaemonOptions): Promise<DaemonProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), "voiceid-e2e-"));
  const dataDir = options.dataDir ?? path.join(dir, "data");
  const port = await freePort();
  const input = options.input === undefined ? "-" : options.input;
  const args = ["run", "--config", options.configFile ?? exampleConfig, "--data-dir", dataDir];
  if (input !== null) args.push("--input", input);
  if (options.realtime) args.push("--realtime");
  const child = spawn(process.execPath, shippedArgs(...args), {
    cwd: repoRoot,
    env: shippedEnv({
      ...(options.room !== undefined ? { VOICEID_ROOM: options.room } : {}),
      VOICEID_MQTT_URL: options.mqttUrl,
      VOICEID_HTTP_HOST: "127.0.0.1",
      VOICEID_HTTP_PORT: String(port),
      ...options.env,
    }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  // The daemon may exit before it read everything we wrote: that is its business, not an error here.
  child.stdin?.on("error", () => {});
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
  });
  let disposed = false;
  return {
    child,
    httpUrl: `http://127.0.0.1:${port}`,
    dataDir,
    exited,
    log: () => output,
    feed(wav, end = true) {
      child.stdin?.write(wav);
      if (end) child.stdin?.end();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with `value` or rejects after `ms` with a message that includes the daemon's log. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  daemon?: DaemonProcess,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${daemon?.log() ?? ""}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface HealthResponse {
  httpStatus: number;
  status: string;
  listening: { listening: boolean };
  /** The encoder the daemon chose, once its models are up. */
  encoder: { model: string; provider: string; reason: string } | null;
  components: Record<string, { state: string; detail?: string }>;
}

export async function health(daemon: DaemonProcess): Promise<HealthResponse | null> {
  try {
    const res = await fetch(`${daemon.httpUrl}/health`);
    const body = (await res.json()) as Omit<HealthResponse, "httpStatus">;
    return { httpStatus: res.status, ...body };
  } catch {
    return null; // not listening yet
  }
}

/** Polls /health until `accept` says yes (protocol timeout, not a speed assertion). */
export async function waitForHealth(
  daemon: DaemonProcess,
  accept: (h: HealthResponse) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<HealthResponse> {
  const deadline = Date.now() + timeoutMs;
  let last: HealthResponse | null = null;
  while (Date.now() < deadline) {
    if (daemon.child.exitCode !== null) {
      throw new Error(`daemon exited (${daemon.child.exitCode}) while waiting for ${what}\n${daemon.log()}`);
    }
    last = await health(daemon);
    if (last && accept(last)) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last /health: ${JSON.stringify(last)}\n${daemon.log()}`);
}

/** POST /api/speakers then POST /api/speakers/:id/samples; returns the speaker id. */
export async function enrolOverHttp(daemon: DaemonProcess, name: string, wav: Uint8Array): Promise<string> {
  const created = await fetch(`${daemon.httpUrl}/api/speakers`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${await created.text()}`);
  const { speaker } = (await created.json()) as { speaker: { id: string } };
  const sample = await fetch(`${daemon.httpUrl}/api/speakers/${encodeURIComponent(speaker.id)}/samples`, {
    method: "POST",
    headers: { "Content-Type": "audio/wav" },
    body: wav,
  });
  if (sample.status !== 201) throw new Error(`enrol ${name}: ${sample.status} ${await sample.text()}`);
  return speaker.id;
}

// ---------------------------------------------------------------------------------------------------------
// MQTT payloads as a subscriber sees them

export interface EventPayload {
  type: "started" | "updated" | "stopped";
  turnId: number;
  decidedAtS: number;
  speaker: string | null;
  speakerId: string | null;
  reason: string | null;
  score: number | null;
  offsetS: number;
  durationS?: number;
}

export function parseEvents(messages: readonly { topic: string; payload: string }[], topic: string) {
  return messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload) as EventPayload);
}

// ---------------------------------------------------------------------------------------------------------
// In-process daemon

export interface InProcessDaemon {
  daemon: Daemon;
  url: string;
  /** Its input: raw 16 kHz mono s16le. */
  stdin: PassThrough;
  /** Plays audio into the daemon's input. */
  speak(samples: Float32Array): void;
  /** Ends the input and stops the daemon. */
  stop(): Promise<void>;
}

/**
 * The real daemon in this process (real models, stdin input, real HTTP server, no MQTT) on `dataDir`,
 * with configuration `overrides` on top.
 */
export async function startDaemonInProcess(
  dataDir: string,
  overrides: Record<string, unknown> = {},
  logger: Logger = silentLogger,
): Promise<InProcessDaemon> {
  const port = await freePort();
  const { config } = await loadConfig({
    env: {},
    searchPaths: [],
    overrides: {
      dataDir,
      modelsDir,
      "audio.source": "stdin",
      "audio.format": "raw",
      "mqtt.enabled": false,
      "http.port": port,
      ...overrides,
    },
  });
  const stdin = new PassThrough();
  const daemon = new Daemon({ config, logger, stdin });
  await daemon.start();
  return {
    daemon,
    url: `http://127.0.0.1:${port}`,
    stdin,
    speak: (samples) => stdin.write(encodePcm16Wav(samples, SAMPLE_RATE).subarray(44)),
    async stop() {
      stdin.end();
      await daemon.stop();
    },
  };
}
