/** Pieces shared by the benchmarks that run the whole daemon: streams, a subscriber, /proc readings. */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { connectAsync, type MqttClient } from "mqtt";
import { parseWavHeader, readWavAs16kMono } from "../../src/audio/wav.js";
import { createConfigSchema } from "../../src/config/schema.js";
import type { EncoderId } from "../../src/embedding/encoder.js";
import { ModelStack } from "../../src/embedding/stack.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { selectEncoderFor } from "../../src/hardware/encoder-selection.js";
import { buildTopics } from "../../src/mqtt/topics.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { createLogger } from "../../src/util/log.js";
import { serviceEnvironment, serviceNodeFlags, shippedEntry } from "../shipped.js";
import { mulberry32 } from "./prng.js";
import type { BenchFile } from "./setup.js";

export const SAMPLE_RATE = 16_000;

export const sleep = (millis: number) => new Promise<void>((r) => setTimeout(r, millis));

export interface Stream {
  samples: Float32Array;
  seconds: number;
}

/** The utterances one after another with 1-3 s of digital silence between them (seeded), 1 s at each end. */
export function concatenate(files: BenchFile[], seed: number): Stream {
  const random = mulberry32(seed);
  const audio = files.map((f) => readWavAs16kMono(readFileSync(f.path)));
  const gaps = audio.map(() => Math.round((1 + 2 * random()) * SAMPLE_RATE));
  const total = SAMPLE_RATE + audio.reduce((n, a, i) => n + a.length + gaps[i], 0);
  const samples = new Float32Array(total);
  let at = SAMPLE_RATE;
  audio.forEach((a, i) => {
    samples.set(a, at);
    at += a.length + gaps[i];
  });
  return { samples, seconds: total / SAMPLE_RATE };
}

/** White noise at about -60 dBFS RMS: a quiet room through a cheap microphone. */
export function lowNoise(seconds: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  const amplitude = 0.001 * Math.sqrt(3); // uniform in [-a, a] has RMS a / sqrt(3)
  for (let i = 0; i < out.length; i++) out[i] = (2 * random() - 1) * amplitude;
  return out;
}

/** The stream as a WAV file split into its header and its PCM data (what a recorder pipes). */
export function wavParts(samples: Float32Array): { header: Uint8Array; data: Uint8Array } {
  const wav = encodePcm16Wav(samples, SAMPLE_RATE);
  const header = parseWavHeader(wav);
  if (!header) throw new Error("encodePcm16Wav produced no parsable header");
  return { header: wav.subarray(0, header.dataOffset), data: wav.subarray(header.dataOffset) };
}

export interface Received {
  type: string;
  turnId: number;
  speakerId: string | null;
  reason: string | null;
  offsetS: number;
  durationS: number;
  /** Stream position at which the daemon made this decision. */
  decidedAtS: number;
  /** performance.now() when the subscriber got it. */
  at: number;
}

export class Subscriber {
  readonly events: Received[] = [];
  private constructor(private readonly client: MqttClient) {}

  static async start(url: string, room: string): Promise<Subscriber> {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
    const subscriber = new Subscriber(client);
    client.on("message", (_topic, payload) => {
      const at = performance.now();
      const e = JSON.parse(payload.toString()) as Omit<Received, "at">;
      subscriber.events.push({ ...e, at });
    });
    await client.subscribeAsync(buildTopics("voiceid", room).event, { qos: 1 });
    return subscriber;
  }

  /** Waits until no event arrived for `quietMs` (the daemon published everything it had). */
  async settle(quietMs = 300, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let seen = -1;
    while (seen !== this.events.length && performance.now() < deadline) {
      seen = this.events.length;
      await sleep(quietMs);
    }
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * user + system CPU seconds of a process, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux); with
 * `mainThread`, of its main thread alone (the event loop, where JavaScript runs).
 */
export function procCpuSeconds(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set now and its high-water mark, MB, from /proc/<pid>/status. */
export function procRssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/**
 * The daemon's JavaScript heap in use and its memory outside the heap (buffers, typed arrays), MB, from
 * its /metrics: beside RSS they tell a growing heap from native memory (onnxruntime, malloc).
 */
export async function daemonHeapMb(api: string): Promise<{ heapUsed: number; external: number }> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const mb = (name: string) => {
    const value = new RegExp(`^voiceid_${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1];
    if (value === undefined) throw new Error(`/metrics has no voiceid_${name}`);
    return Number(value) / 1_048_576;
  };
  return { heapUsed: mb("nodejs_heap_size_used_bytes"), external: mb("nodejs_external_memory_bytes") };
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/**
 * Enrols `files` (their first halves) in `dataDir` with the encoder a daemon configured with `encoder`
 * runs there, chosen as the daemon chooses it (the hardware measurement is cached in `dataDir`, so the
 * daemons a bench starts there neither measure nor embed the clips again). Returns that encoder.
 */
export async function enrolSpeakers(
  dataDir: string,
  modelsDir: string,
  files: BenchFile[],
  encoder: "auto" | EncoderId = "auto",
): Promise<EncoderId> {
  const logger = createLogger("warn", "bench");
  const config = createConfigSchema({}).parse({ dataDir, modelsDir, identification: { encoder } });
  const chosen = (await selectEncoderFor(config, logger)).choice.encoder;
  const stack = new ModelStack({ modelsDir, encoder: chosen });
  const registry = new SpeakerRegistry({ dataDir, logger });
  await stack.start();
  await registry.start();
  try {
    const enroller = new Enroller(registry, stack.extractor);
    for (const f of files) {
      const audio = readWavAs16kMono(readFileSync(f.path));
      const bytes = encodePcm16Wav(audio.subarray(0, audio.length >> 1), SAMPLE_RATE);
      await enroller.enrol(`speaker ${f.id}`, [{ bytes, source: "cli", name: f.file }], { create: true });
    }
  } finally {
    await registry.stop();
    await stack.stop();
  }
  return chosen;
}

export interface ServiceDaemon {
  child: ChildProcessByStdio<Writable, null, null>;
  pid: number;
  /** Base URL of its HTTP API. */
  api: string;
  exited: Promise<number | null>;
}

/**
 * The compiled daemon as systemd runs it: node with the unit's node flags and malloc environment,
 * dist/cli/main.js (or `entry`) `run --data-dir DIR` and `args`, without a configuration file, logging
 * warnings only; `env` is laid over that (VOICEID_* settings).
 */
export function spawnServiceDaemon(options: {
  dataDir: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Another build's dist/cli/main.js (to compare with an earlier commit); default this checkout's. */
  entry?: string;
}): Omit<ServiceDaemon, "api"> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const entry = options.entry ?? shippedEntry(root);
  const child = spawn(
    process.execPath,
    [...serviceNodeFlags(root), entry, "run", ...options.args, "--data-dir", options.dataDir],
    {
      cwd: root,
      stdio: ["pipe", "ignore", "inherit"],
      // The unit's malloc tuning too: without it the soak measured another allocator's RSS.
      env: {
        ...process.env,
        ...serviceEnvironment(root),
        VOICEID_CONFIG: "",
        VOICEID_LOG_LEVEL: "warn",
        ...options.env,
      },
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, pid: child.pid ?? 0, exited };
}

/**
 * The service daemon (spawnServiceDaemon) listening to stdin, with its HTTP API on a random loopback
 * port; resolves once /health answers 200.
 */
export async function startServiceDaemon(options: {
  dataDir: string;
  modelsDir: string;
  mqttUrl: string;
  room: string;
  /** Another build's dist/cli/main.js (to compare with an earlier commit); default this checkout's. */
  entry?: string;
  /** More environment (e.g. VOICEID__HOUSEHOLD__SHARE), over the defaults here. */
  env?: NodeJS.ProcessEnv;
  /** A fixed HTTP port (a restarted daemon keeps its address); default a random one. */
  port?: number;
  /** What `run` listens to: default `--input -` (stdin); e.g. `--config FILE` listing inputs. */
  input?: readonly string[];
}): Promise<ServiceDaemon> {
  const port = options.port ?? 20_000 + Math.floor(Math.random() * 20_000);
  const { child, pid, exited } = spawnServiceDaemon({
    dataDir: options.dataDir,
    args: options.input ?? ["--input", "-"],
    entry: options.entry,
    env: {
      VOICEID_ROOM: options.room,
      VOICEID_MQTT_URL: options.mqttUrl,
      VOICEID_HTTP_HOST: "127.0.0.1",
      VOICEID_HTTP_PORT: String(port),
      VOICEID_MODELS_DIR: options.modelsDir,
      ...options.env,
    },
  });
  const api = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const healthy = await fetch(`${api}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) break;
    if (i > 300) {
      child.kill();
      throw new Error("the daemon did not become healthy");
    }
    await sleep(100);
  }
  return { child, pid, api, exited };
}
