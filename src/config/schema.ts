import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ENCODER_IDS } from "../embedding/encoder.js";
import { slugify } from "../mqtt/topics.js";
import { WYOMING_MODES } from "../wyoming/command.js";

/**
 * The one description of voiceid's configuration: types, defaults and rules. `VoiceidConfig` is inferred
 * from it, so the YAML example, the loader and every consumer agree by construction. Objects are strict:
 * an unknown key (usually a typo) is an error with its path, not silently ignored.
 */

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export const AUDIO_SOURCES = ["microphone", "command", "file", "stdin"] as const;
/** Sources that run until stopped (muting stops them); files and stdin end. */
export const LIVE_SOURCES: ReadonlySet<string> = new Set(["microphone", "command"]);
const MQTT_PROTOCOLS = ["mqtt:", "mqtts:", "ws:", "wss:"];

/** Default data directory: $VOICEID_DATA_DIR, else $XDG_DATA_HOME/voiceid, else ~/.local/share/voiceid. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VOICEID_DATA_DIR) return env.VOICEID_DATA_DIR;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, "voiceid");
  return join(env.HOME || homedir(), ".local", "share", "voiceid");
}

/** Loopback hosts: the HTTP API may run without a token only when nothing off-box can reach it. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}

/**
 * Whole numbers via a refinement rather than z.int(): z.int() aborts the parse of the enclosing object
 * explicitly, which would hide that object's cross-field rules from the "every problem at once" report.
 */
const whole = (error = "must be a whole number") => z.number().refine(Number.isInteger, { error });

/**
 * Text settings are bounded: each ends up in a topic, a payload, a header or a path, and MQTT takes at most
 * 65,535 bytes per string (mqtt.js cannot even write a longer last-will topic, and the daemon hung on it). A
 * value past these bounds is a typo or an attack, reported with the other configuration errors at start.
 */
const MAX_PATH_CHARS = 4096;
const MAX_HOST_CHARS = 253;
const MAX_TOPIC_CHARS = 128;
/** The room names the device in Home Assistant and travels in every event: a name, like a person's. */
const MAX_ROOM_CHARS = 64;

/** The bound of a text setting, saying how long the value was (never the value: it may be huge). */
const atMost = (max: number) => ({
  error: (issue: { input?: unknown }) =>
    `must be at most ${max} characters, got ${String(issue.input).length}`,
});
const text = (max: number) => z.string().trim().min(1, { error: "must not be empty" }).max(max, atMost(max));
const filePath = text(MAX_PATH_CHARS);
const probability = z.number().min(0, { error: "must be between 0 and 1" }).max(1, {
  error: "must be between 0 and 1",
});
const millis = whole("must be a whole number of milliseconds").min(0, { error: "must be >= 0" });
const positiveMillis = whole("must be a whole number of milliseconds").min(1, { error: "must be > 0" });
const seconds = z.number().min(0, { error: "must be >= 0" });
const positiveSeconds = z.number().gt(0, { error: "must be > 0" });
/** MQTT topic prefix: no wildcards, no empty levels at the ends. */
const topic = text(MAX_TOPIC_CHARS).refine((t) => !/[+#]/.test(t) && !t.startsWith("/") && !t.endsWith("/"), {
  error: "must be an MQTT topic without wildcards (+, #) or leading/trailing '/'",
});

const backoffSchema = z
  .strictObject({
    min: positiveMillis.default(500),
    max: positiveMillis.default(30_000),
  })
  .refine((b) => !(typeof b.min === "number" && typeof b.max === "number" && b.max < b.min), {
    error: "max must be >= min",
    path: ["max"],
    when: () => true,
  });

/** How audio is captured and decoded: shared by `audio:` and every item of `inputs:`. */
const audioFields = {
  /** Where audio comes from: the live microphone, a command's output (a network stream), a file, or stdin. */
  source: z.enum(AUDIO_SOURCES).default("microphone"),
  /** ALSA device for arecord (-D) or sox (AUDIODEV). */
  device: text(256).default("default"),
  recorder: z.enum(["arecord", "sox"]).default("arecord"),
  /** Capture rate of the recorder (and of raw file/stdin input); converted to 16 kHz internally. */
  sampleRate: whole()
    .min(8000, { error: "must be >= 8000" })
    .max(192_000, { error: "must be <= 192000" })
    .default(16_000),
  channels: whole().min(1, { error: "must be >= 1" }).max(32, { error: "must be <= 32" }).default(1),
  /** Input file for source "file". */
  file: filePath.optional(),
  /** For source "command": a shell command writing raw s16le (sampleRate, channels) to stdout. */
  command: text(MAX_PATH_CHARS).optional(),
  /** "auto" detects WAV by its RIFF header, anything else is raw s16le. */
  format: z.enum(["auto", "wav", "raw"]).default("auto"),
  /** Pace file/stdin input like a live microphone instead of as fast as the pipeline takes it. */
  realtime: z.boolean().default(false),
  restartBackoffMs: backoffSchema.prefault({}),
};

/** A file source needs its file, a command source its command; reported with the object's other problems. */
function requireFile<T extends z.ZodType<{ source?: string; file?: string; command?: string }>>(
  schema: T,
  where: string,
): T {
  return schema
    .refine((a) => !(a.source === "file" && !a.file), {
      error: `required when ${where}source is file`,
      path: ["file"],
      when: () => true,
    })
    .refine((a) => !(a.source === "command" && !a.command), {
      error: `required when ${where}source is command`,
      path: ["command"],
      when: () => true,
    });
}

const audioSchema = requireFile(z.strictObject(audioFields), "audio.");

/**
 * One room of a daemon with several microphones: its name, and how its audio comes, keyed as in `audio:`.
 * The source is required; keys left out take `audio:`'s values (recorder, sampleRate, realtime, ...).
 */
const inputSchema = requireFile(
  z.strictObject({
    room: text(MAX_ROOM_CHARS),
    source: audioFields.source.unwrap(),
    device: audioFields.device.unwrap().optional(),
    recorder: audioFields.recorder.unwrap().optional(),
    sampleRate: audioFields.sampleRate.unwrap().optional(),
    channels: audioFields.channels.unwrap().optional(),
    file: audioFields.file,
    command: audioFields.command,
    format: audioFields.format.unwrap().optional(),
    realtime: audioFields.realtime.unwrap().optional(),
    restartBackoffMs: backoffSchema.optional(),
  }),
  "",
);

/** At most this many rooms in one daemon: each costs a VAD and a pipeline (see README, "several inputs"). */
const MAX_INPUTS = 16;

const inputsSchema = z
  .array(inputSchema)
  .min(1, { error: "must list at least one input (or leave inputs out and use room and audio)" })
  .max(MAX_INPUTS, { error: `must list at most ${MAX_INPUTS} inputs` })
  .superRefine(
    (inputs, ctx) => {
      // Each room is a device and a topic level: two rooms with one slug would publish on each other's topics.
      if (!Array.isArray(inputs)) return; // reported as not a list
      const seen = new Map<string, number>();
      let stdin = -1;
      inputs.forEach((input, i) => {
        if (typeof input?.room === "string") {
          const slug = slugify(input.room);
          const first = seen.get(slug);
          if (first === undefined) seen.set(slug, i);
          else
            ctx.addIssue({
              code: "custom",
              path: [i, "room"],
              message: `must differ from inputs[${first}].room (both are the topic level "${slug}")`,
            });
        }
        if (input?.source === "stdin") {
          if (stdin >= 0)
            ctx.addIssue({
              code: "custom",
              path: [i, "source"],
              message: `only one input can read stdin (inputs[${stdin}] does)`,
            });
          else stdin = i;
        }
      });
      // Also when an item has other problems: every error is listed at once.
    },
    { when: () => true },
  );

const vadSchema = z
  .strictObject({
    model: z.enum(["silero-vad-v5"]).default("silero-vad-v5"),
    startThreshold: probability.default(0.5),
    stopThreshold: probability.default(0.35),
    minSpeechMs: millis.default(250),
    hangoverMs: millis.default(400),
    preRollMs: millis.default(200),
    maxSegmentMs: positiveMillis.default(30_000),
    /** Skip the model on the steady background of an empty room (see QuietGate). */
    quietGate: z.boolean().default(true),
  })
  .refine(
    (v) =>
      !(typeof v.stopThreshold === "number" && typeof v.startThreshold === "number") ||
      v.stopThreshold <= v.startThreshold,
    { error: "must be <= vad.startThreshold", path: ["stopThreshold"], when: () => true },
  );

const identificationSchema = z.strictObject({
  /** "auto": CAM++, then ECAPA-TDNN, when installed and fast enough here (see `voiceid hardware`), else Resemblyzer. */
  encoder: z.enum(["auto", ...ENCODER_IDS]).default("auto"),
  /**
   * Cosine similarity needed to name a person; unset = the encoder's default (0.5 CAM++, 0.82
   * Resemblyzer, 0.25 ECAPA-TDNN). Scales differ by model, so with encoder "auto" give one per model id.
   */
  threshold: z.union([probability, z.partialRecord(z.enum(ENCODER_IDS), probability)]).optional(),
  /**
   * A named person must beat the runner-up by this much, else the turn is "uncertain". In Resemblyzer's
   * cosines: widened by an encoder's spread (identify/options.ts).
   */
  minMargin: probability.default(0.05),
  /** Seconds of speech between two windows (each window is the encoder's 1.6 s). */
  hopSeconds: z
    .number()
    .min(0.05, { error: "must be >= 0.05" })
    .max(1.6, { error: "must be <= 1.6" })
    .default(0.2),
  /** A person's turn continues across a pause up to this long while the voice stays the same. */
  pauseSeconds: seconds.max(10, { error: "must be <= 10" }).default(1.5),
  /** Turns with less speech than this are reported as "too_short" instead of guessed. */
  minSpeechSeconds: seconds.default(1.0),
  /**
   * Learn how enrolled people sound in this room from turns named with a clear margin (voiceprints
   * only, no audio; `voiceid speakers forget-learned NAME` forgets them).
   */
  learn: z.boolean().default(true),
});

const realTimeFactor = z.number().positive().max(1);

const hardwareSchema = z
  .strictObject({
    /**
     * A larger encoder (CAM++, then ECAPA-TDNN) is chosen when its measured real-time factor (seconds of
     * compute per second of audio, one thread) is at most this. 0.15 lets a Pi 4 run CAM++ (about 0.05,
     * estimated) and keeps it off ECAPA-TDNN (about 0.21), which a Pi 5 (about 0.12) takes.
     */
    maxRealTimeFactor: realTimeFactor.optional(),
    /** Its name before CAM++ (then only ECAPA-TDNN's budget): still read, for configurations that set it. */
    maxEcapaRealTimeFactor: realTimeFactor.optional(),
    /** "auto" runs the encoder on an NVIDIA GPU when onnxruntime's CUDA provider loads; else the CPU. */
    gpu: z.enum(["auto", "off"]).default("auto"),
    /**
     * The daemon lets the encoder's model go after this many seconds without a voiceprint and loads it
     * again at the next voice (tens of ms): about 7 MB less while the room is quiet. 0 keeps it loaded.
     */
    releaseEncoderAfterSeconds: seconds.default(60),
  })
  .transform(({ maxRealTimeFactor, maxEcapaRealTimeFactor, ...rest }) => ({
    ...rest,
    maxRealTimeFactor: maxRealTimeFactor ?? maxEcapaRealTimeFactor ?? 0.15,
  }));

const tlsSchema = z
  .strictObject({
    ca: filePath.optional(),
    cert: filePath.optional(),
    key: filePath.optional(),
    rejectUnauthorized: z.boolean().default(true),
  })
  .refine((t) => Boolean(t.cert) === Boolean(t.key), {
    error: "cert and key must be given together",
    path: ["key"],
    when: () => true,
  });

const mqttSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    url: text(2048)
      .refine(
        (u) => {
          try {
            return MQTT_PROTOCOLS.includes(new URL(u).protocol);
          } catch {
            return false;
          }
        },
        { error: "must be mqtt://, mqtts://, ws:// or wss://" },
      )
      .default("mqtt://localhost:1883"),
    username: text(256).optional(),
    password: z.string().max(1024, atMost(1024)).optional(),
    clientId: text(MAX_TOPIC_CHARS).optional(),
    tls: tlsSchema.prefault({}),
    baseTopic: topic.default("voiceid"),
    discoveryPrefix: topic.default("homeassistant"),
    haStatusTopic: topic.default("homeassistant/status"),
    reconnectMinMs: positiveMillis.default(1000),
    reconnectMaxMs: positiveMillis.default(30_000),
  })
  .refine(
    (m) =>
      !(typeof m.reconnectMinMs === "number" && typeof m.reconnectMaxMs === "number") ||
      m.reconnectMaxMs >= m.reconnectMinMs,
    { error: "must be >= mqtt.reconnectMinMs", path: ["reconnectMaxMs"], when: () => true },
  )
  .refine((m) => !(m.password !== undefined && m.username === undefined), {
    error: "password given without mqtt.username",
    path: ["password"],
    when: () => true,
  });

const httpSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    host: text(MAX_HOST_CHARS).default("127.0.0.1"),
    port: whole()
      .min(1, { error: "must be 1-65535" })
      .max(65_535, { error: "must be 1-65535" })
      .default(8787),
    /** Bearer token for the API; required when the API listens beyond loopback. */
    token: z
      .string()
      .min(16, { error: "must be at least 16 characters" })
      .max(1024, atMost(1024))
      // What an Authorization: Bearer header can carry; a token with a space could never match.
      .regex(/^[\x21-\x7e]+$/, { error: "must be printable ASCII without spaces" })
      .optional(),
    /** Host names (beyond IP addresses, localhost and this machine's name) the API answers to. */
    allowedHosts: z.array(text(MAX_HOST_CHARS)).max(64, { error: "must list at most 64 names" }).default([]),
    bodyLimitBytes: whole()
      .min(1024, { error: "must be >= 1024" })
      .default(20 * 1024 * 1024),
    maxUploadSeconds: positiveSeconds.default(120),
  })
  .refine(
    (h) => !(h.enabled !== false && typeof h.host === "string" && !isLoopbackHost(h.host) && !h.token),
    { error: "required when http.host is not loopback", path: ["token"], when: () => true },
  );

const enrolmentSchema = z.strictObject({
  keepClips: z.boolean().default(true),
  /**
   * Also keep each clip's voiceprint as heard in simulated rooms, so people enrolled close to a phone
   * are recognised by a microphone across the room (about 0.12 s of CPU per second of speech here, for
   * at most 20 s of a clip).
   */
  simulateRooms: z.boolean().default(true),
  minSpeechSeconds: seconds.default(3),
  /** Warn when a new sample's similarity to the speaker's other samples is below this. */
  consistencyWarning: probability.default(0.75),
});

const unknownVoicesSchema = z.strictObject({
  /** Keep the voiceprints of turns nobody enrolled, grouped into voices to name or ignore later. */
  enabled: z.boolean().default(true),
  /** The store keeps at most this many turns (the oldest go first) ... */
  maxTurns: z.int().min(1).max(5000).default(500),
  /** ... and none older than this. */
  maxDays: z.number().min(0.01).max(365).default(14),
  /**
   * Also keep up to 3 clips of at most 10 s per voice, so a person can listen before naming. Off by
   * default: it records people who never agreed to it.
   */
  keepClips: z.boolean().default(false),
});

/** `tcp://host:port`, the only transport Home Assistant's Wyoming integration speaks. */
const tcpAddress = text(MAX_HOST_CHARS + 16).refine(
  (u) => {
    try {
      const url = new URL(u);
      const port = Number(url.port);
      return url.protocol === "tcp:" && url.hostname !== "" && port >= 1 && port <= 65_535;
    } catch {
      return false;
    }
  },
  { error: "must be tcp://host:port" },
);

const wyomingSchema = z
  .strictObject({
    /** The Wyoming speech-to-text proxy for Home Assistant's voice pipeline. */
    enabled: z.boolean().default(false),
    /** Where Home Assistant connects (its Wyoming integration, host and port). */
    listen: tcpAddress.default("tcp://0.0.0.0:10350"),
    /** The real speech-to-text service (e.g. wyoming-faster-whisper on tcp://host:10300). */
    upstream: tcpAddress.optional(),
    /**
     * pass: forward all audio as it arrives; gate: forward only commands of an enrolled person (else an
     * empty transcript stops the pipeline); extract: like gate, and forward only that person's speech.
     */
    mode: z.enum(WYOMING_MODES).default("pass"),
    /** Prefix transcripts with "[Name] " (breaks intent matching: for agents that want it in the text). */
    tagTranscript: z.boolean().default(false),
    /** Keep transcripts in the recent commands (API and web page); they are private, so off by default. */
    showTranscripts: z.boolean().default(false),
    /** Commands longer than this are refused (Home Assistant's own VAD ends them long before). */
    maxCommandSeconds: positiveSeconds.max(300, { error: "must be <= 300" }).default(30),
    /** Commands identified at once (one per satellite talking); more get a "busy" error. */
    maxConcurrentCommands: whole()
      .min(1, { error: "must be >= 1" })
      .max(32, { error: "must be <= 32" })
      .default(4),
    /** How long to wait for the speech-to-text service's transcript. */
    upstreamTimeoutSeconds: positiveSeconds.default(60),
  })
  .refine((w) => !(w.enabled === true && !w.upstream), {
    error: "required when wyoming.enabled is true",
    path: ["upstream"],
    when: () => true,
  });

/** The web page's timeline of recent turns (decisions only, never audio). */
const timelineSchema = z.strictObject({
  /** Keep the recent turns in <dataDir>/timeline.jsonl too, so a restart does not show an empty timeline. */
  persist: z.boolean().default(true),
  /** Turns that ended longer ago are dropped, from memory and from the file. */
  keepHours: z
    .number()
    .gt(0, { error: "must be > 0" })
    .max(168, { error: "must be <= 168 (a week)" })
    .default(24),
  /** At most this many turns are kept; the oldest go first. */
  maxTurns: whole()
    .min(10, { error: "must be >= 10" })
    .max(100_000, { error: "must be <= 100000" })
    .default(5000),
});

const HOUSEHOLD_KEY_PATTERN = /^[0-9a-fA-F]{64}$/;

const householdSchema = z
  .strictObject({
    /**
     * Keep one registry with every voiceid on the broker: people, names, thresholds, samples with their
     * voiceprints, learned voiceprints, as retained messages under <mqtt.baseTopic>/_household/, sealed
     * with the household key (AES-256-GCM).
     */
    share: z.boolean().default(false),
    /** 64 hex digits (32 bytes), the same on every node: `voiceid household key` makes one. */
    key: z
      .string()
      .trim()
      .regex(HOUSEHOLD_KEY_PATTERN, { error: "must be 64 hex digits; make one with `voiceid household key`" })
      .optional(),
    /** A file holding the key instead (systemd credentials, container secrets). */
    keyFile: filePath.optional(),
    /**
     * Also share kept clips (binary retained messages), so a node on another encoder makes its own
     * voiceprints from them. Clips are larger than voiceprints: about 32 kB per second of speech.
     */
    shareClips: z.boolean().default(false),
    /**
     * Where everyone was last heard: per person the room that last named them, retained, and a
     * `sensor.voiceid_<person>_room` on a "voiceid household" device in Home Assistant.
     */
    presence: z.boolean().default(true),
  })
  .refine((h) => !(h.share === true && !h.key && !h.keyFile), {
    error:
      "household.share needs household.key or household.keyFile (make a key with `voiceid household key`)",
    path: ["key"],
    when: () => true,
  })
  .refine((h) => !(h.key && h.keyFile), {
    error: "give household.key or household.keyFile, not both",
    path: ["keyFile"],
    when: () => true,
  });

/** The schema with its environment-dependent default (dataDir) taken from `env`. */
export function createConfigSchema(env: NodeJS.ProcessEnv = process.env) {
  return z.strictObject({
    room: text(MAX_ROOM_CHARS).default("default"),
    /**
     * Several microphones in one daemon, one room each (instead of room + audio.source): they share the
     * models, the registry and the MQTT connection. Unset: one input, `room` heard through `audio`.
     */
    inputs: inputsSchema.optional(),
    dataDir: filePath.default(() => defaultDataDir(env)),
    /** Unset: the models code resolves its default (env VOICEID_MODELS_DIR, else <install dir>/models). */
    modelsDir: filePath.optional(),
    logLevel: z.enum(LOG_LEVELS).default("info"),
    audio: audioSchema.prefault({}),
    vad: vadSchema.prefault({}),
    identification: identificationSchema
      .refine((i) => !(i.encoder === "auto" && typeof i.threshold === "number"), {
        error:
          'one number cannot fit every encoder\'s scale: with encoder "auto" give one per model, e.g. { campplus-zh-en: 0.5, resemblyzer-0.1.4: 0.8 }',
        path: ["threshold"],
        when: () => true,
      })
      .prefault({}),
    hardware: hardwareSchema.prefault({}),
    mqtt: mqttSchema.prefault({}),
    http: httpSchema.prefault({}),
    enrolment: enrolmentSchema.prefault({}),
    unknownVoices: unknownVoicesSchema.prefault({}),
    wyoming: wyomingSchema.prefault({}),
    household: householdSchema.prefault({}),
    timeline: timelineSchema.prefault({}),
  });
}

export const configSchema = createConfigSchema();

export type VoiceidConfig = z.output<typeof configSchema>;
/** What a YAML file may contain: every key optional. */
export type VoiceidConfigInput = z.input<typeof configSchema>;
export type AudioConfig = VoiceidConfig["audio"];
export type InputConfig = NonNullable<VoiceidConfig["inputs"]>[number];

/** One room of the daemon: its name and how its audio is captured. */
export interface RoomInput {
  room: string;
  audio: AudioConfig;
}

/**
 * The daemon's rooms: every item of `inputs`, keys it leaves out taken from `audio`; without `inputs`, the
 * one room `room` heard through `audio` (the configuration of a single microphone).
 */
export function roomInputs(config: Pick<VoiceidConfig, "room" | "audio" | "inputs">): RoomInput[] {
  if (!config.inputs) return [{ room: config.room, audio: config.audio }];
  return config.inputs.map(({ room, ...audio }) => {
    const own = Object.fromEntries(Object.entries(audio).filter(([, v]) => v !== undefined));
    return { room, audio: { ...config.audio, ...own } as AudioConfig };
  });
}
export type VadConfig = VoiceidConfig["vad"];
export type IdentificationConfig = VoiceidConfig["identification"];
export type HardwareConfig = VoiceidConfig["hardware"];

/** The configured threshold for `modelId`, if any (else the encoder's default applies). */
export function configuredThreshold(config: IdentificationConfig, modelId: string): number | undefined {
  const t = config.threshold;
  return typeof t === "number" ? t : t?.[modelId as keyof typeof t];
}
export type MqttConfig = VoiceidConfig["mqtt"];
export type HttpConfig = VoiceidConfig["http"];
export type EnrolmentConfig = VoiceidConfig["enrolment"];
export type UnknownVoicesConfig = VoiceidConfig["unknownVoices"];
export type WyomingConfig = VoiceidConfig["wyoming"];
export type HouseholdConfig = VoiceidConfig["household"];
export type TimelineConfig = VoiceidConfig["timeline"];
