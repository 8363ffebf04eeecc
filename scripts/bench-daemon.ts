/**
 * `npm run bench:daemon`: the whole daemon (Silero VAD + live identification + MQTT to a real
 * mosquitto) on the shared LibriSpeech audio, in-process, measured where a user feels it:
 *   (a) real-time factor on ~29 minutes of speech fed as fast as the pipeline takes it;
 *   (b) latency from the end of speech to the "stopped" event at an MQTT subscriber (realtime feed);
 *   (c) latency from the start of speech to the first claim of who speaks (realtime feed);
 *   (d) CPU and RSS while listening to silence (digital zeros, then low noise) in real time.
 * Phases run idle first so the RSS figure is not inflated by the audio the other phases hold.
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { createConfigSchema, type VoiceidConfig } from "../src/config/schema.js";
import { Daemon } from "../src/daemon/daemon.js";
import { ENCODER_IDS, type EncoderId, isEncoderId } from "../src/embedding/encoder.js";
import { createLogger } from "../src/util/log.js";
import { SileroVad, sileroModelPath } from "../src/vad/silero.js";
import { type MosquittoBroker, startMosquitto } from "../test/helpers/mosquitto.js";
import { sharedAudio } from "../test/helpers/paths.js";
import {
  concatenate,
  enrolSpeakers,
  lowNoise,
  percentile,
  procCpuSeconds,
  procRssMb,
  SAMPLE_RATE,
  type Stream,
  Subscriber,
  sleep,
  spawnServiceDaemon,
  wavParts,
} from "./bench/live.js";
import {
  BenchSetupError,
  librispeechFiles,
  machineInfo,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { formatTable, heading, verdict } from "./bench/table.js";
import { type GateFigures, gateFigures } from "./bench/vad-gate.js";

const CHUNK = 512; // 32 ms, one VAD window: what the microphone source delivers
const GOALS = {
  rtf: 0.05,
  stopP95Ms: 50,
  idleCpu: 0.01,
  idleRssMb: 120,
  gateRecall: 0.999,
  gateOnsetMeanMs: 10,
};
const ENROLLED = 4;

const USAGE = `usage: npm run bench:daemon -- [options]
  --live-utterances N   utterances in the realtime latency run (default 10, ~2.5 min)
  --idle-seconds N      seconds of each silence kind for the idle figures (default 30: zeros, then noise)
  --rtf-utterances N    utterances in the real-time-factor run (default all 120)
  --before FILE         another build's dist/cli/main.js: its idle and speech figures (d) in the same run
  --encoder ID          identification.encoder (default auto: what the daemon takes here)
  --json                print one JSON object instead of tables`;

interface Options {
  liveUtterances: number;
  idleSeconds: number;
  rtfUtterances: number;
  before?: string;
  encoder: "auto" | EncoderId;
  json: boolean;
}

function encoderOption(value: string | undefined): "auto" | EncoderId {
  if (value === undefined || value === "auto") return "auto";
  if (!isEncoderId(value))
    throw new BenchSetupError(`--encoder: auto or one of ${ENCODER_IDS.join(", ")}\n${USAGE}`);
  return value;
}

function parseOptions(): Options | null {
  const v = parseBenchArgs(
    {
      "live-utterances": { type: "string" },
      "idle-seconds": { type: "string" },
      "rtf-utterances": { type: "string" },
      before: { type: "string" },
      encoder: { type: "string" },
    },
    USAGE,
  );
  if (!v) return null;
  const whole = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  return {
    liveUtterances: numberOption("live-utterances", v["live-utterances"], 10, (n) => whole(n, 120), "1-120"),
    idleSeconds: numberOption("idle-seconds", v["idle-seconds"], 30, (n) => whole(n, 600), "1-600"),
    rtfUtterances: numberOption("rtf-utterances", v["rtf-utterances"], 120, (n) => whole(n, 120), "1-120"),
    before: v.before,
    encoder: encoderOption(v.encoder),
    json: v.json,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Audio

// ---------------------------------------------------------------------------------------------------------
// The daemon under test, the broker and a subscriber

interface Harness {
  broker: Pick<MosquittoBroker, "url">;
  dataDir: string;
  modelsDir: string;
  /** The encoder the daemons run (the configured one, or what "auto" chose). */
  encoder: EncoderId;
}

function daemonConfig(h: Harness, room: string, realtime: boolean): VoiceidConfig {
  return createConfigSchema({}).parse({
    room,
    dataDir: h.dataDir,
    modelsDir: h.modelsDir,
    logLevel: "warn",
    audio: { source: "stdin", realtime },
    mqtt: { url: h.broker.url },
    identification: { encoder: h.encoder },
    // Port 0 is not a valid config value; the API is not what is measured here.
    http: { enabled: false },
  });
}

async function startDaemon(h: Harness, room: string, realtime: boolean) {
  const stdin = new PassThrough();
  const daemon = new Daemon({
    config: daemonConfig(h, room, realtime),
    logger: createLogger("warn", "bench"),
    stdin,
  });
  await daemon.start();
  // The bridge connects in the background: wait for it so the first events are not queued.
  const deadline = performance.now() + 10_000;
  while (daemon.health().components.mqtt.state !== "ok") {
    if (performance.now() > deadline) throw new Error(`daemon did not connect to ${h.broker.url}`);
    await sleep(20);
  }
  return { daemon, stdin };
}

// ---------------------------------------------------------------------------------------------------------
// Phases

interface IdleFigures {
  kind: string;
  seconds: number;
  cpuShare: number;
  rssMb: number;
  /** Highest RSS sampled while listening (after the warm-up): the goal's figure. */
  maxRssMb: number;
  /** VmHWM: peak since the process started, model loading included. */
  startupPeakMb: number;
  segments: number;
}

/**
 * (d) The daemon as systemd runs it — compiled JavaScript (`node dist/cli/main.js run`), its own
 * process — fed only silence on stdin the way arecord delivers a microphone (one 125 ms period every
 * 125 ms). CPU and RSS are read from /proc for that process alone: the bench's own work is not in them.
 */
async function idlePhase(
  h: Harness,
  kind: IdleKind,
  seconds: number,
  { gate = true, speech, before }: { gate?: boolean; speech?: Float32Array; before?: string } = {},
): Promise<IdleFigures> {
  const room = `bench-idle-${kind}${gate ? "" : "-nogate"}${before ? "-before" : ""}`;
  const subscriber = await Subscriber.start(h.broker.url, room);
  const { child, pid, exited } = spawnServiceDaemon({
    dataDir: h.dataDir,
    args: ["--input", "-"],
    entry: before,
    env: {
      VOICEID__VAD__QUIETGATE: String(gate),
      VOICEID_ROOM: room,
      VOICEID_MQTT_URL: h.broker.url,
      VOICEID_HTTP_ENABLED: "false",
      VOICEID_MODELS_DIR: h.modelsDir,
      VOICEID__IDENTIFICATION__ENCODER: h.encoder,
    },
  });
  const total = seconds + IDLE_WARMUP_SECONDS;
  const samples =
    kind === "zeros"
      ? new Float32Array(total * SAMPLE_RATE)
      : kind === "noise"
        ? lowNoise(total, 7)
        : (speech ?? new Float32Array(0)).subarray(0, total * SAMPLE_RATE);
  const { header, data } = wavParts(samples);
  try {
    child.stdin.write(header);
    const periodBytes = (MIC_PERIOD_MS * SAMPLE_RATE * 2) / 1000;
    const periods = Math.ceil(data.length / periodBytes);
    const start = performance.now();
    let cpu0 = procCpuSeconds(pid);
    let t0 = performance.now();
    let maxRss = 0;
    for (let k = 0; k < periods; k++) {
      const wait = start + (k + 1) * MIC_PERIOD_MS - performance.now();
      if (wait > 0) await sleep(wait);
      child.stdin.write(data.subarray(k * periodBytes, (k + 1) * periodBytes));
      if (k === Math.round((IDLE_WARMUP_SECONDS * 1000) / MIC_PERIOD_MS)) {
        cpu0 = procCpuSeconds(pid);
        t0 = performance.now();
      }
      if (k % 4 === 0 && k > (IDLE_WARMUP_SECONDS * 1000) / MIC_PERIOD_MS)
        maxRss = Math.max(maxRss, procRssMb(pid).rss);
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = procCpuSeconds(pid) - cpu0;
    const { rss, hwm } = procRssMb(pid);
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw new Error(`idle daemon (${kind}) exited with code ${code}`);
    return {
      kind: `${IDLE_KINDS[kind]}${gate ? "" : " (quiet gate off: before)"}${before ? " (before build)" : ""}`,
      seconds: wall,
      cpuShare: cpu / wall,
      rssMb: rss,
      maxRssMb: Math.max(maxRss, rss),
      startupPeakMb: hwm,
      segments: subscriber.events.filter((e) => e.type === "stopped").length,
    };
  } finally {
    child.kill();
    await subscriber.stop();
  }
}

/** (e) The VAD with and without the quiet gate over the first GATE_FILES files of the dry and room sets. */
async function gatePhase(modelsDir: string): Promise<GateFigures[]> {
  const vad = new SileroVad({ modelPath: sileroModelPath(modelsDir) });
  await vad.start();
  try {
    const out: GateFigures[] = [];
    for (const set of ["librispeech-train-clean-100", "librispeech-room"]) {
      const dir = path.join(sharedAudio, set);
      const files = readdirSync(dir)
        .filter((f) => f.endsWith(".wav"))
        .sort()
        .slice(0, GATE_FILES);
      out.push(await gateFigures(vad, set, dir, files));
    }
    return out;
  } finally {
    await vad.stop();
  }
}

const GATE_FILES = 40;

/** RSS of an empty node process, for reference. */
async function baselineRss(): Promise<{ nodeMb: number }> {
  const child = spawn(process.execPath, ["-e", "console.log(process.memoryUsage().rss)"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  await new Promise((resolve) => child.once("exit", resolve));
  return { nodeMb: Number(out.trim()) / 2 ** 20 };
}

type IdleKind = "zeros" | "noise" | "speech";
const IDLE_KINDS: Record<IdleKind, string> = {
  zeros: "digital zeros",
  noise: "noise -60 dBFS",
  speech: "speech (utterances, 1-3 s apart)",
};
/** arecord's default period (a quarter of its 500 ms buffer): how often a microphone's audio arrives. */
const MIC_PERIOD_MS = 125;
/** Excluded from the idle figures: model warm-up and the MQTT connection settling. */
const IDLE_WARMUP_SECONDS = 2;

interface LiveFigures {
  seconds: number;
  /** (b) ms from the chunk holding the stream position of a "stopped" decision to the subscriber. */
  stopLatencyMs: number[];
  /** (c) ms from the chunk holding a turn's speech onset to the subscriber's first claim for it. */
  startLatencyMs: number[];
  /** (c') ms from the chunk holding that claim's decision position to the subscriber: the processing part. */
  decisionLatencyMs: number[];
}

/**
 * (b) and (c): the bench paces the audio itself (one 32 ms chunk every 32 ms, like a microphone) and
 * notes when each chunk was handed to the daemon, then matches the events' stream positions to it.
 */
async function livePhase(h: Harness, stream: Stream, config: VoiceidConfig): Promise<LiveFigures> {
  const room = "bench-live";
  const subscriber = await Subscriber.start(h.broker.url, room);
  const { daemon, stdin } = await startDaemon(h, room, false);
  const { header, data } = wavParts(stream.samples);
  const chunkBytes = CHUNK * 2;
  const chunks = Math.ceil(data.length / chunkBytes);
  const fedAt = new Float64Array(chunks);
  try {
    stdin.write(header);
    const t0 = performance.now();
    for (let k = 0; k < chunks; k++) {
      // Deadline-based pacing: a late timer does not push every later chunk back.
      const due = t0 + ((k + 1) * CHUNK * 1000) / SAMPLE_RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      stdin.write(data.subarray(k * chunkBytes, (k + 1) * chunkBytes));
      fedAt[k] = performance.now();
    }
    stdin.end();
    await daemon.inputEnded;
    await subscriber.settle();
  } finally {
    await daemon.stop();
    await subscriber.stop();
  }

  // Chunk k holds stream samples [k * CHUNK, (k + 1) * CHUNK).
  const fedTimeOf = (sample: number) => fedAt[Math.min(chunks - 1, Math.max(0, Math.floor(sample / CHUNK)))];
  const preRoll = Math.round((config.vad.preRollMs * SAMPLE_RATE) / 1000);
  const events = subscriber.events;
  // (b) Every decision carries the stream position it was made at: from there to the subscriber.
  const stopLatencyMs = events
    .filter((e) => e.type === "stopped")
    .map((e) => e.at - fedTimeOf(Math.round(e.decidedAtS * SAMPLE_RATE) - 1));
  // (c) From the onset of a turn's speech to its first claim (a name, or "unknown").
  const startLatencyMs: number[] = [];
  const decisionLatencyMs: number[] = [];
  const claimed = new Set<number>();
  for (const e of events) {
    if (claimed.has(e.turnId) || e.type === "stopped" || (e.speakerId === null && e.reason !== "unknown"))
      continue;
    claimed.add(e.turnId);
    startLatencyMs.push(e.at - fedTimeOf(Math.round(e.offsetS * SAMPLE_RATE) + preRoll));
    decisionLatencyMs.push(e.at - fedTimeOf(Math.round(e.decidedAtS * SAMPLE_RATE) - 1));
  }
  return { seconds: stream.seconds, stopLatencyMs, startLatencyMs, decisionLatencyMs };
}

interface RtfFigures {
  audioSeconds: number;
  processingSeconds: number;
  rtf: number;
  cpuSeconds: number;
  segments: number;
  named: number;
}

/** (a) Everything written at once; the source reads as fast as the pipeline takes it. */
async function rtfPhase(h: Harness, stream: Stream): Promise<RtfFigures> {
  const room = "bench-rtf";
  const subscriber = await Subscriber.start(h.broker.url, room);
  const { daemon, stdin } = await startDaemon(h, room, false);
  try {
    const { header, data } = wavParts(stream.samples);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    stdin.end(Buffer.concat([header, data]));
    await daemon.inputEnded;
    const ended = performance.now();
    await subscriber.settle();
    const stopped = subscriber.events.filter((e) => e.type === "stopped");
    // Done when the input is processed AND its last event reached the subscriber.
    const t1 = Math.max(ended, stopped.at(-1)?.at ?? ended);
    const cpu = process.cpuUsage(cpu0);
    const processingSeconds = (t1 - t0) / 1000;
    return {
      audioSeconds: stream.seconds,
      processingSeconds,
      rtf: processingSeconds / stream.seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      segments: stopped.length,
      named: stopped.filter((e) => e.speakerId !== null).length,
    };
  } finally {
    await daemon.stop();
    await subscriber.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report

const ms = (x: number | null) => (x === null ? null : `${x.toFixed(1)} ms`);
const DEFINITIONS = [
  "RTF: wall time from handing the daemon the whole stream to the last 'stopped' event at the subscriber,",
  "  divided by the stream's duration (everything fed at once; VAD + live identification + MQTT).",
  "Stop latency (b): from handing over the 32 ms chunk that holds the stream position a 'stopped' event",
  "  was decided at (its decidedAtS: the end of speech plus the VAD hangover plus the pause a turn may",
  "  continue across, identification.pauseSeconds) to the event arriving at an MQTT subscriber.",
  "Start latency (c): from handing over the chunk holding a turn's speech onset (start + pre-roll) to the",
  "  first claim for the turn (a name, or 'unknown') at the subscriber. By design it includes filling a",
  "  1.6 s window and gathering the evidence; 'decision latency' is the part after the decision position.",
  "Idle (d): CPU (user + system, all threads, from /proc) over wall time, and RSS (VmRSS, peak VmHWM),",
  "  of the compiled daemon as systemd runs it (node + the unit's node flags + dist/cli/main.js run --input -),",
  `  fed silence on stdin the way arecord delivers it (${MIC_PERIOD_MS} ms of audio every ${MIC_PERIOD_MS} ms);`,
  `  the first ${IDLE_WARMUP_SECONDS} s (warm-up) are left out. mosquitto's CPU is not counted.`,
  "  'before': the same with vad.quietGate off (Silero judges every window).",
  "Quiet gate (e): speech found by the VAD with the gate vs without it on the same audio (recall), and",
  "  how far the first onset of each file moved; every file sits between 2 s of -60 dBFS noise.",
];

async function main(): Promise<number> {
  const options = parseOptions();
  if (!options) return 0;
  const machine = machineInfo();
  const models = requireModels();
  const files = librispeechFiles();
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-daemon-"));
  let broker: MosquittoBroker | null = null;
  try {
    progress(`load average at start: ${machine.loadAverage.join(" ")} (${machine.cores} cores)`);
    broker = await startMosquitto();
    const dataDir = path.join(dir, "data");
    progress(`enrolling ${ENROLLED} speakers (first half of their utterance)`);
    // With the encoder the daemon chooses (measured once here and cached, as on a machine that has run before).
    const encoder = await enrolSpeakers(dataDir, models.modelsDir, files.slice(0, ENROLLED), options.encoder);
    const h: Harness = { broker, dataDir, modelsDir: models.modelsDir, encoder };
    const config = daemonConfig(h, "x", false);

    progress(
      `(d) idle: ${options.idleSeconds} s of digital silence, then ${options.idleSeconds} s of low noise`,
    );
    const idle = [
      await idlePhase(h, "zeros", options.idleSeconds),
      await idlePhase(h, "noise", options.idleSeconds),
    ];
    const idleBefore = [
      await idlePhase(h, "zeros", options.idleSeconds, { gate: false }),
      await idlePhase(h, "noise", options.idleSeconds, { gate: false }),
    ];
    // People talking most of the time, at the same real-time pace: what listening costs when it works.
    const talk = concatenate(files, 3).samples;
    const speaking = await idlePhase(h, "speech", options.idleSeconds, { speech: talk });
    // Another build, the same way (its own models dir layout must match this checkout's models).
    const beforeBuild = options.before
      ? [
          await idlePhase(h, "zeros", options.idleSeconds, { before: options.before }),
          await idlePhase(h, "noise", options.idleSeconds, { before: options.before }),
          await idlePhase(h, "speech", options.idleSeconds, { speech: talk, before: options.before }),
        ]
      : [];
    progress("(e) VAD with and without the quiet gate on real speech (dry and far-field room)");
    const gate = await gatePhase(h.modelsDir);
    const baseline = await baselineRss();

    // Enrolled speakers first, then strangers: named and unknown events both count.
    const liveStream = concatenate(files.slice(0, options.liveUtterances), 2);
    progress(`(b, c) realtime: ${options.liveUtterances} utterances, ${liveStream.seconds.toFixed(0)} s`);
    const live = await livePhase(h, liveStream, config);

    const rtfStream = concatenate(files.slice(0, options.rtfUtterances), 1);
    progress(
      `(a) as fast as possible: ${options.rtfUtterances} utterances, ${(rtfStream.seconds / 60).toFixed(1)} min`,
    );
    const rtf = await rtfPhase(h, rtfStream);

    const hangoverSamples = Math.ceil((config.vad.hangoverMs * SAMPLE_RATE) / 1000 / CHUNK) * CHUNK;
    const stopP50 = percentile(live.stopLatencyMs, 0.5);
    const stopP95 = percentile(live.stopLatencyMs, 0.95);
    const idleCpu = Math.max(...idle.map((i) => i.cpuShare));
    const idleRss = Math.max(...idle.map((i) => i.maxRssMb));
    const goals = [
      {
        goal: "real-time factor",
        target: `<= ${GOALS.rtf}`,
        value: rtf.rtf.toFixed(4),
        pass: rtf.rtf <= GOALS.rtf,
      },
      {
        goal: "stop latency p95",
        target: `<= ${GOALS.stopP95Ms} ms`,
        value: ms(stopP95),
        pass: stopP95 !== null && stopP95 <= GOALS.stopP95Ms,
      },
      {
        goal: "idle CPU (one core)",
        target: `<= ${GOALS.idleCpu * 100} %`,
        value: `${(idleCpu * 100).toFixed(2)} %`,
        pass: idleCpu <= GOALS.idleCpu,
      },
      {
        goal: "idle RSS",
        target: `<= ${GOALS.idleRssMb} MB`,
        value: `${idleRss.toFixed(0)} MB`,
        pass: idleRss <= GOALS.idleRssMb,
      },
      ...gate.map((g) => ({
        goal: `VAD recall with the gate (${g.set})`,
        target: `>= ${GOALS.gateRecall}`,
        value: g.recall.toFixed(4),
        pass: g.recall >= GOALS.gateRecall,
      })),
      ...gate.map((g) => ({
        goal: `onset shift with the gate, mean (${g.set})`,
        target: `<= +${GOALS.gateOnsetMeanMs} ms`,
        value: `${g.onsetDeltaMeanMs.toFixed(1)} ms (max |shift| ${g.onsetDeltaMaxMs.toFixed(0)} ms, ${g.onsetsMoved}/${g.files} moved)`,
        pass: g.onsetDeltaMeanMs <= GOALS.gateOnsetMeanMs,
      })),
    ];

    const report = {
      machine: { ...machine, flags: undefined },
      loadAverageAtStart: machine.loadAverage,
      definitions: DEFINITIONS,
      rtf,
      latency: {
        hangoverMs: config.vad.hangoverMs,
        hangoverEffectiveMs: (hangoverSamples * 1000) / SAMPLE_RATE,
        pauseSeconds: config.identification.pauseSeconds,
        realtimeSeconds: live.seconds,
        stop: {
          count: live.stopLatencyMs.length,
          p50Ms: stopP50,
          p95Ms: stopP95,
          maxMs: percentile(live.stopLatencyMs, 1),
        },
        start: {
          count: live.startLatencyMs.length,
          p50Ms: percentile(live.startLatencyMs, 0.5),
          p95Ms: percentile(live.startLatencyMs, 0.95),
        },
        decision: {
          p50Ms: percentile(live.decisionLatencyMs, 0.5),
          p95Ms: percentile(live.decisionLatencyMs, 0.95),
        },
      },
      idle,
      idleBefore,
      beforeBuild,
      speaking,
      gate,
      baselineRss: baseline,
      goals: goals.map((g) => ({ ...g, verdict: verdict(g.pass) })),
      loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [];
    out.push(heading("voiceid daemon benchmark"));
    out.push(`machine: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}`);
    out.push(`encoder: ${h.encoder} (configured: ${options.encoder})`);
    out.push(
      `load average at start: ${machine.loadAverage.join(" ")}; at end: ${report.loadAverageAtEnd.join(" ")}`,
    );
    out.push("", ...DEFINITIONS);
    out.push(heading("(a) throughput"));
    out.push(
      formatTable(
        ["audio", "processing", "RTF", "CPU time", "segments", "named"],
        [
          [
            `${(rtf.audioSeconds / 60).toFixed(1)} min`,
            `${rtf.processingSeconds.toFixed(1)} s`,
            rtf.rtf.toFixed(4),
            `${rtf.cpuSeconds.toFixed(1)} s`,
            rtf.segments,
            rtf.named,
          ],
        ],
      ),
    );
    out.push(heading(`(b, c) latency, realtime feed of ${live.seconds.toFixed(0)} s`));
    out.push(
      `VAD hangover: ${config.vad.hangoverMs} ms configured, ${report.latency.hangoverEffectiveMs} ms in whole 32 ms windows; ` +
        `pauseSeconds: ${config.identification.pauseSeconds} s`,
    );
    out.push(
      formatTable(
        ["latency", "n", "p50", "p95", "max"],
        [
          [
            "(b) stop decision -> stopped",
            live.stopLatencyMs.length,
            ms(stopP50),
            ms(stopP95),
            ms(percentile(live.stopLatencyMs, 1)),
          ],
          [
            "(c) speech onset -> first claim",
            live.startLatencyMs.length,
            ms(percentile(live.startLatencyMs, 0.5)),
            ms(percentile(live.startLatencyMs, 0.95)),
            ms(percentile(live.startLatencyMs, 1)),
          ],
          [
            "    claim decision -> claim",
            live.decisionLatencyMs.length,
            ms(percentile(live.decisionLatencyMs, 0.5)),
            ms(percentile(live.decisionLatencyMs, 0.95)),
            ms(percentile(live.decisionLatencyMs, 1)),
          ],
        ],
      ),
    );
    out.push(heading("(d) listening in real time: silence, and people talking"));
    out.push(
      formatTable(
        ["input", "seconds", "CPU", "RSS", "max RSS", "peak since start", "segments"],
        [...idle, ...idleBefore, speaking, ...beforeBuild].map((i) => [
          i.kind,
          i.seconds.toFixed(1),
          `${(i.cpuShare * 100).toFixed(2)} %`,
          `${i.rssMb.toFixed(0)} MB`,
          `${i.maxRssMb.toFixed(0)} MB`,
          `${i.startupPeakMb.toFixed(0)} MB`,
          i.segments,
        ]),
      ),
    );
    out.push(`for reference: an empty node process ${baseline.nodeMb.toFixed(0)} MB RSS`);
    out.push(heading("(e) the quiet gate on real speech, each file between 2 s of -60 dBFS noise"));
    out.push(
      formatTable(
        [
          "set",
          "files",
          "recall vs no gate",
          "onset shift mean",
          "max |shift|",
          "onsets moved",
          "windows skipped",
        ],
        gate.map((g) => [
          g.set,
          g.files,
          g.recall.toFixed(4),
          `${g.onsetDeltaMeanMs.toFixed(1)} ms`,
          `${g.onsetDeltaMaxMs.toFixed(0)} ms`,
          g.onsetsMoved,
          `${(g.skippedShare * 100).toFixed(1)} %`,
        ]),
      ),
    );
    out.push(heading("goals"));
    out.push(
      formatTable(
        ["goal", "target", "measured", ""],
        goals.map((g) => [g.goal, g.target, g.value, verdict(g.pass)]),
      ),
    );
    process.stdout.write(`${out.join("\n")}\n`);
    return 0;
  } finally {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
