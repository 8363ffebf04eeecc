import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors.js";
import { loadConfig, redactConfig } from "../../src/config/load.js";
import { configuredThreshold, roomInputs } from "../../src/config/schema.js";

const EXAMPLE = new URL("../../config/voiceid.example.yaml", import.meta.url);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "voiceid-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function yamlFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Load with an isolated environment and no search paths, so the host's files and env do not leak in. */
function load(options: Parameters<typeof loadConfig>[0] = {}) {
  return loadConfig({ env: { HOME: "/home/tester" }, searchPaths: [], ...options });
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems.map(
    (p) => `${p.path}: ${p.message}${p.source ? ` [${p.source}]` : ""}`,
  );
}

describe("loadConfig defaults", () => {
  it("fills every section from the schema when there is no file and no environment", async () => {
    const { config, path } = await load();
    expect(path).toBeUndefined();
    expect(config.room).toBe("default");
    expect(config.dataDir).toBe("/home/tester/.local/share/voiceid");
    expect(config.modelsDir).toBeUndefined();
    expect(config.logLevel).toBe("info");
    expect(config.audio).toEqual({
      source: "microphone",
      device: "default",
      recorder: "arecord",
      sampleRate: 16000,
      channels: 1,
      format: "auto",
      realtime: false,
      restartBackoffMs: { min: 500, max: 30000 },
    });
    expect(config.vad).toEqual({
      model: "silero-vad-v5",
      startThreshold: 0.5,
      stopThreshold: 0.35,
      minSpeechMs: 250,
      hangoverMs: 400,
      preRollMs: 200,
      maxSegmentMs: 30000,
      quietGate: true,
    });
    expect(config.identification.encoder).toBe("auto");
    expect(config.hardware).toEqual({
      maxRealTimeFactor: 0.15,
      gpu: "auto",
      releaseEncoderAfterSeconds: 60,
    });
    expect(config.identification.threshold).toBeUndefined();
    expect(config.identification.minSpeechSeconds).toBe(1);
    expect(config.identification.learn).toBe(true);
    expect(config.mqtt.url).toBe("mqtt://localhost:1883");
    expect(config.mqtt.tls.rejectUnauthorized).toBe(true);
    expect(config.mqtt.haStatusTopic).toBe("homeassistant/status");
    expect(config.http).toEqual({
      allowedHosts: [],
      enabled: true,
      host: "127.0.0.1",
      port: 8787,
      bodyLimitBytes: 20 * 1024 * 1024,
      maxUploadSeconds: 120,
    });
    expect(config.enrolment).toEqual({
      keepClips: true,
      simulateRooms: true,
      minSpeechSeconds: 3,
      consistencyWarning: 0.75,
    });
    expect(config.timeline).toEqual({ persist: true, keepHours: 24, maxTurns: 5000 });
  });

  it("bounds the timeline: how long and how many turns it keeps", async () => {
    expect(
      await problemsOf(
        load({ overrides: { "timeline.keepHours": 0, "timeline.maxTurns": 5.5, "timeline.persist": "no" } }),
      ),
    ).toEqual([
      'timeline.persist: expected true or false, got "no" [command line]',
      "timeline.keepHours: must be > 0 [command line]",
      "timeline.maxTurns: must be a whole number [command line]",
      "timeline.maxTurns: must be >= 10 [command line]",
    ]);
    expect(
      await problemsOf(load({ overrides: { "timeline.keepHours": 169, "timeline.maxTurns": 100_001 } })),
    ).toEqual([
      "timeline.keepHours: must be <= 168 (a week) [command line]",
      "timeline.maxTurns: must be <= 100000 [command line]",
    ]);
    const { config } = await load({ env: { VOICEID__TIMELINE__PERSIST: "false" } });
    expect(config.timeline.persist).toBe(false);
  });

  it("takes dataDir from XDG_DATA_HOME, and VOICEID_DATA_DIR over it", async () => {
    const xdg = await loadConfig({ env: { HOME: "/h", XDG_DATA_HOME: "/xdg" }, searchPaths: [] });
    expect(xdg.config.dataDir).toBe("/xdg/voiceid");
    const explicit = await loadConfig({
      env: { HOME: "/h", XDG_DATA_HOME: "/xdg", VOICEID_DATA_DIR: "/var/lib/voiceid" },
      searchPaths: [],
    });
    expect(explicit.config.dataDir).toBe("/var/lib/voiceid");
  });
});

describe("loadConfig sources and precedence", () => {
  it("reads the file, lets the environment override it and command-line overrides win", async () => {
    const path = await yamlFile(
      "precedence.yaml",
      "room: kitchen\nhttp:\n  port: 9000\n  host: 127.0.0.1\nmqtt:\n  url: mqtt://broker:1883\n  username: fromfile\n",
    );
    const { config, path: used } = await loadConfig({
      configPath: path,
      env: {
        HOME: "/h",
        VOICEID_HTTP_PORT: "9100",
        VOICEID_MQTT_PASSWORD: "pw",
        VOICEID__VAD__START_THRESHOLD: "0.6",
        VOICEID__AUDIO__RESTART_BACKOFF_MS__MIN: "250",
        VOICEID__MQTT__TLS__REJECT_UNAUTHORIZED: "false",
      },
      searchPaths: [],
      overrides: { room: "hall", "audio.source": "file", "audio.file": "/tmp/x.wav" },
    });
    expect(used).toBe(path);
    expect(config.room).toBe("hall");
    expect(config.http.port).toBe(9100);
    expect(config.mqtt.url).toBe("mqtt://broker:1883");
    expect(config.mqtt.username).toBe("fromfile");
    expect(config.mqtt.password).toBe("pw");
    expect(config.mqtt.tls.rejectUnauthorized).toBe(false);
    expect(config.vad.startThreshold).toBe(0.6);
    expect(config.audio.restartBackoffMs).toEqual({ min: 250, max: 30000 });
    expect(config.audio.source).toBe("file");
    expect(config.audio.file).toBe("/tmp/x.wav");
    expect(redactConfig(config).mqtt.password).toBe("***");
  });

  it("finds the file through VOICEID_CONFIG, then the search path; --config wins over both", async () => {
    const a = await yamlFile("a.yaml", "room: a\n");
    const b = await yamlFile("b.yaml", "room: b\n");
    const c = await yamlFile("c.yaml", "room: c\n");
    const searched = await loadConfig({ env: {}, searchPaths: [join(dir, "missing.yaml"), c] });
    expect(searched.config.room).toBe("c");
    const viaEnv = await loadConfig({ env: { VOICEID_CONFIG: b }, searchPaths: [c] });
    expect(viaEnv.config.room).toBe("b");
    const viaOption = await loadConfig({ configPath: a, env: { VOICEID_CONFIG: b }, searchPaths: [c] });
    expect(viaOption.config.room).toBe("a");
  });

  it("reads secrets from *_FILE variables", async () => {
    const tokenFile = await yamlFile("token", "0123456789abcdef0123\n");
    const { config } = await load({
      env: { VOICEID_HTTP_TOKEN_FILE: tokenFile, VOICEID_HTTP_HOST: "0.0.0.0" },
    });
    expect(config.http.token).toBe("0123456789abcdef0123");
    expect(config.http.host).toBe("0.0.0.0");
  });

  it("treats an empty file as all defaults", async () => {
    const { config } = await load({ configPath: await yamlFile("empty.yaml", "# nothing\n") });
    expect(config.room).toBe("default");
  });
});

describe("loadConfig errors", () => {
  it("lists every problem at once, each with its path and origin", async () => {
    const path = await yamlFile(
      "bad.yaml",
      [
        "room: ''",
        "logLevel: chatty",
        "audio:",
        "  sampleRate: 44100.5",
        "  source: file",
        "vad:",
        "  startThreshold: 1.5",
        "  stopThreshold: 0.9",
        "mqtt:",
        "  url: http://broker",
        "  baseTopic: voiceid/#",
        "  tls: { cert: /c.pem }",
        "http:",
        "  host: 0.0.0.0",
        "",
      ].join("\n"),
    );
    const problems = await problemsOf(
      loadConfig({ configPath: path, env: { VOICEID_HTTP_PORT: "eighty" }, searchPaths: [] }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'http.port: expected a number, got "eighty" [VOICEID_HTTP_PORT]',
        "room: must not be empty",
        'logLevel: must be one of "debug", "info", "warn", "error", got "chatty"',
        "audio.sampleRate: must be a whole number",
        "audio.file: required when audio.source is file",
        "vad.startThreshold: must be between 0 and 1",
        "mqtt.url: must be mqtt://, mqtts://, ws:// or wss://",
        "mqtt.baseTopic: must be an MQTT topic without wildcards (+, #) or leading/trailing '/'",
        "mqtt.tls.key: cert and key must be given together",
        "http.token: required when http.host is not loopback",
      ]),
    );
    expect(problems).toHaveLength(10);
    // The message carries all of them on one line, because the CLI prints only the first line.
    const err = await loadConfig({ configPath: path, env: {}, searchPaths: [] }).catch((e: Error) => e);
    expect((err as Error).message.split("\n")).toHaveLength(1);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain("mqtt.url: must be mqtt://");
    expect((err as Error).message).toContain("http.token: required when http.host is not loopback");
  });

  it("rejects unknown keys with their path and suggests the intended key", async () => {
    const path = await yamlFile(
      "typo.yaml",
      "audio:\n  sampelRate: 48000\nmqtt:\n  tls:\n    rejectUnauthorised: false\nspeakers: []\n",
    );
    const problems = await problemsOf(
      loadConfig({ configPath: path, env: { VOICEID__HTTP__PROT: "1" }, searchPaths: [] }),
    );
    expect(problems.sort()).toEqual(
      [
        'audio.sampelRate: unknown key (did you mean "sampleRate"?)',
        'mqtt.tls.rejectUnauthorised: unknown key (did you mean "rejectUnauthorized"?)',
        "speakers: unknown key",
        "http.prot: unknown key [VOICEID__HTTP__PROT]",
      ].sort(),
    );
  });

  it("takes a threshold per encoder, and one number only when the encoder is fixed", async () => {
    const identification = (v: unknown) => load({ overrides: { identification: v } });
    expect(await problemsOf(identification({ threshold: 0.8 }))).toEqual([
      'identification.threshold: one number cannot fit every encoder\'s scale: with encoder "auto" give one per model, e.g. { campplus-zh-en: 0.5, resemblyzer-0.1.4: 0.8 } [command line]',
    ]);
    const fixed = await identification({ encoder: "resemblyzer-0.1.4", threshold: 0.8 });
    expect(configuredThreshold(fixed.config.identification, "resemblyzer-0.1.4")).toBe(0.8);
    const perModel = await identification({ threshold: { "ecapa-voxceleb": 0.3 } });
    expect(configuredThreshold(perModel.config.identification, "ecapa-voxceleb")).toBe(0.3);
    expect(configuredThreshold(perModel.config.identification, "resemblyzer-0.1.4")).toBeUndefined();
    expect(await problemsOf(identification({ threshold: { "ecapa-voxceleb": 3 } }))).toHaveLength(1);
    expect(await problemsOf(identification({ encoder: "ecapa" }))).toHaveLength(1);
  });

  it("reads the encoder budget under its older name, the new name winning", async () => {
    const hardware = async (v: unknown) => (await load({ overrides: { hardware: v } })).config.hardware;
    expect((await hardware({ maxEcapaRealTimeFactor: 0.3 })).maxRealTimeFactor).toBe(0.3);
    expect((await hardware({ maxEcapaRealTimeFactor: 0.3, maxRealTimeFactor: 0.1 })).maxRealTimeFactor).toBe(
      0.1,
    );
    expect(await hardware({ maxEcapaRealTimeFactor: 0.3 })).not.toHaveProperty("maxEcapaRealTimeFactor");
    expect(await problemsOf(load({ overrides: { hardware: { maxRealTimeFactor: 2 } } }))).toHaveLength(1);
    expect(await problemsOf(load({ overrides: { hardware: { maxRealTimefactor: 0.1 } } }))).toEqual([
      expect.stringContaining('did you mean "maxRealTimeFactor"'),
    ]);
  });

  it("requires a token exactly when the API is reachable beyond loopback", async () => {
    for (const host of ["127.0.0.1", "::1", "localhost", "127.0.0.53"]) {
      await expect(load({ env: { VOICEID_HTTP_HOST: host } })).resolves.toBeDefined();
    }
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "voiceid.local"]) {
      expect(await problemsOf(load({ env: { VOICEID_HTTP_HOST: host } }))).toEqual([
        "http.token: required when http.host is not loopback",
      ]);
    }
    const ok = await load({
      env: { VOICEID_HTTP_HOST: "0.0.0.0", VOICEID_HTTP_TOKEN: "a-long-enough-token" },
    });
    expect(ok.config.http.token).toBe("a-long-enough-token");
    const disabled = await load({ env: { VOICEID_HTTP_HOST: "0.0.0.0", VOICEID_HTTP_ENABLED: "no" } });
    expect(disabled.config.http.enabled).toBe(false);
    expect(await problemsOf(load({ env: { VOICEID_HTTP_TOKEN: "short" } }))).toEqual([
      "http.token: must be at least 16 characters [VOICEID_HTTP_TOKEN]",
    ]);
    // A token the Authorization header could never carry is refused at start, not silently unusable.
    for (const token of ["a long token with spaces", "tab\tseparated-token-xx", "ünïcödé-token-1234"]) {
      expect(await problemsOf(load({ env: { VOICEID_HTTP_TOKEN: token } }))).toEqual([
        "http.token: must be printable ASCII without spaces [VOICEID_HTTP_TOKEN]",
      ]);
    }
  });

  it("reports YAML syntax errors with their position, a missing --config file and a non-mapping file", async () => {
    const broken = await yamlFile("broken.yaml", "room: [unclosed\n");
    const syntax = await problemsOf(load({ configPath: broken }));
    expect(syntax).toHaveLength(1);
    expect(syntax[0]).toMatch(/^: YAML syntax: line \d+, column \d+/);
    const missing = await problemsOf(load({ configPath: join(dir, "nope.yaml") }));
    expect(missing).toEqual([": config file not found [--config]"]);
    const list = await problemsOf(load({ configPath: await yamlFile("list.yaml", "- a\n- b\n") }));
    expect(list).toEqual([": the file must contain a YAML mapping (key: value)"]);
    const dupe = await problemsOf(load({ configPath: await yamlFile("dupe.yaml", "room: a\nroom: b\n") }));
    expect(dupe[0]).toMatch(/YAML syntax: .*unique/i);
  });

  it("bounds every text setting, from the file and the environment, and quotes no long value back", async () => {
    const long = (n: number) => "r".repeat(n);
    const path = await yamlFile(
      "long.yaml",
      [
        `room: ${long(70_000)}`,
        `dataDir: /${long(5000)}`,
        "mqtt:",
        `  baseTopic: ${long(200)}`,
        `  clientId: ${long(65_536)}`,
        `  password: ${long(2000)}`,
        `  username: ${long(300)}`,
        "http:",
        `  allowedHosts: [${Array.from({ length: 65 }, (_, i) => `h${i}`).join(", ")}]`,
        "",
      ].join("\n"),
    );
    const problems = await problemsOf(
      loadConfig({
        configPath: path,
        env: {
          VOICEID_HTTP_HOST: `${long(300)}.lan`,
          VOICEID_HTTP_TOKEN: long(2000),
          VOICEID__MQTT__DISCOVERY_PREFIX: long(129),
          VOICEID_HTTP_PORT: long(100_000),
        },
        searchPaths: [],
      }),
    );
    expect(problems.sort()).toEqual(
      [
        "room: must be at most 64 characters, got 70000",
        "dataDir: must be at most 4096 characters, got 5001",
        "mqtt.username: must be at most 256 characters, got 300",
        "mqtt.password: must be at most 1024 characters, got 2000",
        "mqtt.clientId: must be at most 128 characters, got 65536",
        "mqtt.baseTopic: must be at most 128 characters, got 200",
        "mqtt.discoveryPrefix: must be at most 128 characters, got 129 [VOICEID__MQTT__DISCOVERY_PREFIX]",
        "http.host: must be at most 253 characters, got 304 [VOICEID_HTTP_HOST]",
        "http.token: must be at most 1024 characters, got 2000 [VOICEID_HTTP_TOKEN]",
        "http.allowedHosts: must list at most 64 names",
        `http.port: expected a number, got "${long(40)}"… (100000 characters) [VOICEID_HTTP_PORT]`,
      ].sort(),
    );
    // The same bound whichever way the room is given; the one-line message stays short.
    const fromEnv = await load({ env: { VOICEID_ROOM: long(65_536) } }).catch((e: Error) => e);
    expect((fromEnv as Error).message).toBe(
      "invalid configuration: room: must be at most 64 characters, got 65536 (from VOICEID_ROOM)",
    );
    expect((await load({ env: { VOICEID_ROOM: long(64) } })).config.room).toBe(long(64));
  });

  it("refuses a YAML alias bomb as invalid configuration of that file", async () => {
    // Nine aliases to the level below at each of ten levels: 9^10 nodes from a 1 kB file.
    const levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i <= 10; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const bomb = await yamlFile("bomb.yaml", `${levels.join("\n")}\n`);
    const err = await load({ configPath: bomb }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `invalid configuration (${bomb}): YAML: Excessive alias count indicates a resource exhaustion attack`,
    );
  });

  it("rejects booleans and sections given wrongly in the environment", async () => {
    const problems = await problemsOf(
      load({ env: { VOICEID_MQTT_ENABLED: "maybe", VOICEID__MQTT__TLS: "x" } }),
    );
    expect(problems.sort()).toEqual(
      [
        'mqtt.enabled: expected true or false, got "maybe" [VOICEID_MQTT_ENABLED]',
        "mqtt.tls: is a section; set its keys instead [VOICEID__MQTT__TLS]",
      ].sort(),
    );
  });
});

describe("inputs: several microphones in one daemon", () => {
  it("without inputs, the one room heard through audio, as before", async () => {
    const { config } = await load({ env: { VOICEID_ROOM: "Hall", VOICEID_AUDIO_DEVICE: "hw:2" } });
    expect(config.inputs).toBeUndefined();
    expect(roomInputs(config)).toEqual([{ room: "Hall", audio: config.audio }]);
  });

  it("gives every input the audio keys it leaves out", async () => {
    const path = await yamlFile(
      "inputs.yaml",
      [
        "audio:",
        "  recorder: sox",
        "  realtime: true",
        "inputs:",
        "  - { room: Kitchen, source: microphone, device: 'plughw:1,0' }",
        "  - { room: Living Room, source: file, file: /srv/living.wav, realtime: false }",
      ].join("\n"),
    );
    const { config } = await load({ configPath: path });
    const [kitchen, living] = roomInputs(config);
    expect(kitchen).toEqual({ room: "Kitchen", audio: { ...config.audio, device: "plughw:1,0" } });
    expect(living.room).toBe("Living Room");
    expect(living.audio).toMatchObject({
      source: "file",
      file: "/srv/living.wav",
      recorder: "sox",
      realtime: false,
      device: "default",
    });
  });

  it("lists every problem of every input at once, by its place in the list", async () => {
    const path = await yamlFile(
      "bad-inputs.yaml",
      [
        "inputs:",
        "  - { room: Living Room, source: file, file: /a.wav }",
        "  - { room: living-room, source: microphone }",
        "  - { room: Hall }",
        "  - { room: Attic, source: file, sampleRat: 8000 }",
        "  - { room: Porch, source: stdin }",
        "  - { room: Garage, source: stdin }",
        "  - { source: microphone }",
        "  - { room: Cellar, source: radio }",
      ].join("\n"),
    );
    expect(await problemsOf(load({ configPath: path }))).toEqual([
      'inputs[2].source: required (one of "microphone", "command", "file", "stdin")',
      'inputs[3].sampleRat: unknown key (did you mean "sampleRate"?)',
      "inputs[3].file: required when source is file",
      "inputs[6].room: required",
      'inputs[7].source: must be one of "microphone", "command", "file", "stdin", got "radio"',
      'inputs[1].room: must differ from inputs[0].room (both are the topic level "living_room")',
      "inputs[5].source: only one input can read stdin (inputs[4] does)",
    ]);
    expect(await problemsOf(load({ configPath: await yamlFile("no-inputs.yaml", "inputs: []\n") }))).toEqual([
      "inputs: must list at least one input (or leave inputs out and use room and audio)",
    ]);
    expect(
      await problemsOf(load({ configPath: await yamlFile("map.yaml", "inputs: { room: x }\n") })),
    ).toEqual(["inputs: expected a list, got a mapping"]);
  });
});

describe("config/voiceid.example.yaml", () => {
  it("is valid and shows exactly the defaults", async () => {
    const env = { HOME: "/home/tester" };
    const fromExample = await loadConfig({ configPath: EXAMPLE.pathname, env, searchPaths: [] });
    const defaults = await loadConfig({ env, searchPaths: [] });
    expect(fromExample.config).toEqual(defaults.config);
  });

  it("documents every key with a comment, and mentions every schema key", async () => {
    const lines = (await readFile(EXAMPLE, "utf8")).split("\n");
    const keyLine = /^\s*#?\s*([A-Za-z]+):(\s|$)/;
    const documented = new Set<string>();
    lines.forEach((line, i) => {
      const m = keyLine.exec(line);
      if (!m || (line.trim().startsWith("#") && !line.includes("# example"))) return;
      documented.add(m[1]);
      // The line before a key is its comment (a commented-out example key counts as the key itself).
      expect(lines[i - 1].trim().startsWith("#"), `no comment above "${line.trim()}"`).toBe(true);
    });
    const { configSchema } = await import("../../src/config/schema.js");
    const { objectKeys } = await import("../../src/config/introspect.js");
    const walk = (path: string[]): string[] =>
      (objectKeys(configSchema, path) ?? []).flatMap((k) => [k, ...walk([...path, k])]);
    for (const key of walk([])) expect(documented, `example does not mention ${key}`).toContain(key);
  });
});
