import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { exampleConfig, runShipped } from "../helpers/cli.js";
import { freePort, type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { librispeechWav } from "../helpers/paths.js";
import { MqttRecorder } from "../mqtt/recorder.js";

/**
 * Every command of the shipped bundle (dist/cli/main.js, with the systemd unit's node options) with a
 * configuration file, found each way a user's is: --config as the systemd unit passes it, the default
 * path ./config/voiceid.yaml, and $VOICEID_CONFIG. The file is the example the installer copies, with the
 * room edited as the installer asks; the room in the daemon's topics shows the file was read. A
 * configuration file once crashed every command of the bundle while the tests of src/ passed.
 */
const SAMPLE_RATE = 16_000;

let dir: string;
let broker: MosquittoBroker;
let example: string;
/** First and second halves of two speakers' utterances, and a stream of both second halves. */
const clips = { alice: ["", ""], bob: ["", ""], stream: "" };

async function halves(file: string, name: string): Promise<[string, string, Float32Array, Float32Array]> {
  const samples = readWavAs16kMono(await readFile(librispeechWav(file)));
  const mid = samples.length >> 1;
  const [first, second] = [samples.subarray(0, mid), samples.subarray(mid)];
  const paths = [path.join(dir, `${name}-1.wav`), path.join(dir, `${name}-2.wav`)];
  await writeFile(paths[0], encodePcm16Wav(first, SAMPLE_RATE));
  await writeFile(paths[1], encodePcm16Wav(second, SAMPLE_RATE));
  return [paths[0], paths[1], first, second];
}

/** The example configuration with the room a user would give it. */
async function configFile(at: string, room: string): Promise<string> {
  await mkdir(path.dirname(at), { recursive: true });
  await writeFile(at, example.replace(/^room: default$/m, `room: ${room}`));
  return at;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "voiceid-shipped-"));
  example = await readFile(exampleConfig, "utf8");
  expect(example).toMatch(/^room: default$/m);
  const [a1, a2, , aliceLater] = await halves("1040-133433-0000.wav", "alice");
  const [b1, b2, , bobLater] = await halves("103-1240-0000.wav", "bob");
  clips.alice = [a1, a2];
  clips.bob = [b1, b2];
  // Alice, 2 s of silence, Bob: what the daemon hears from a file.
  const stream = new Float32Array(aliceLater.length + 2 * SAMPLE_RATE + bobLater.length);
  stream.set(aliceLater);
  stream.set(bobLater, aliceLater.length + 2 * SAMPLE_RATE);
  clips.stream = path.join(dir, "stream.wav");
  await writeFile(clips.stream, encodePcm16Wav(stream, SAMPLE_RATE));
  broker = await startMosquitto();
});

afterAll(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Placement {
  how: string;
  room: string;
  /** Writes the file; returns how to run a command so that it is found. */
  place(root: string, room: string): Promise<Placed>;
}

interface Placed {
  file: string;
  cwd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

const placements: Placement[] = [
  {
    how: "--config FILE, as the systemd unit runs it",
    room: "Unit Room",
    async place(root, room) {
      const file = await configFile(path.join(root, "etc", "voiceid.yaml"), room);
      return { file, cwd: root, args: ["--config", file], env: { VOICEID_CONFIG: "" } };
    },
  },
  {
    how: "the default path ./config/voiceid.yaml",
    room: "Default Path",
    async place(root, room) {
      const file = await configFile(path.join(root, "config", "voiceid.yaml"), room);
      return { file, cwd: root, args: [], env: { VOICEID_CONFIG: "" } };
    },
  },
  {
    how: "$VOICEID_CONFIG",
    room: "Env Room",
    async place(root, room) {
      const file = await configFile(path.join(root, "voiceid.yaml"), room);
      return { file, cwd: root, args: [], env: { VOICEID_CONFIG: file } };
    },
  },
];

describe.each(placements)("the shipped command line with the example configuration: $how", (placement) => {
  let root: string;
  let place: Placed;
  const slug = placement.room.toLowerCase().replace(/ /g, "_");

  /** `voiceid <args>` from the bundle, with this placement's file, on this placement's data dir. */
  const voiceid = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runShipped([...args, ...place.args], {
      cwd: place.cwd,
      env: { ...place.env, VOICEID_DATA_DIR: path.join(root, "data"), ...env },
    });

  beforeAll(async () => {
    root = await mkdtemp(path.join(dir, "placement-"));
    place = await placement.place(root, placement.room);
  });

  it("models check and models fetch", async () => {
    const check = await voiceid(["models", "check"]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/resemblyzer-0\.1\.4\/encoder\.onnx/);
    expect(check.stdout).toMatch(/campplus-zh-en\/encoder\.onnx/);
    const fetched = await voiceid(["models", "fetch"]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toMatch(/silero-vad-v5\/silero_vad_sequence\.onnx/);
  });

  it("hardware", async () => {
    const run = await voiceid(["hardware", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.installed).toContain("resemblyzer-0.1.4");
    // The example's "auto" takes CAM++ here (set-up installs it; this machine affords it).
    expect(report.choice.encoder).toBe("campplus-zh-en");
  });

  it("embed, enroll, speakers, identify, diarize", async () => {
    const embed = await voiceid(["embed", clips.alice[0], "--json"]);
    expect(embed.code, embed.stderr).toBe(0);
    expect(JSON.parse(embed.stdout)).toMatchObject({ model: "campplus-zh-en", dim: 192 });

    for (const [name, clip] of [
      ["Alice", clips.alice[0]],
      ["Bob", clips.bob[0]],
    ]) {
      const enrolled = await voiceid(["enroll", name, clip]);
      expect(enrolled.code, enrolled.stderr).toBe(0);
      expect(enrolled.stdout).toMatch(new RegExp(`created ${name}`));
    }
    const list = await voiceid(["speakers"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^Alice \(id alice\)/m);

    const who = await voiceid(["identify", clips.bob[1], "--json"]);
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout).speaker).toBe("Bob");

    const diarized = await voiceid(["diarize", clips.stream, "--json"]);
    expect(diarized.code, diarized.stderr).toBe(0);
    const turns = JSON.parse(diarized.stdout).turns as { speaker: string | null }[];
    expect(turns.map((t) => t.speaker)).toEqual(expect.arrayContaining(["Alice", "Bob"]));
  });

  it("speakers threshold and rename", async () => {
    const threshold = await voiceid(["speakers", "threshold", "Alice", "0.8"]);
    expect(threshold.code, threshold.stderr).toBe(0);
    const renamed = await voiceid(["speakers", "rename", "Bob", "Robert"]);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(renamed.stdout).toMatch(/renamed to Robert \(id bob\)/);
  });

  it("run --input FILE: the daemon names both over a real broker, in the configured room", async () => {
    const recorder = await MqttRecorder.start(broker.url, [`voiceid/${slug}/#`]);
    try {
      const run = await voiceid(["run", "--input", clips.stream], {
        VOICEID_MQTT_URL: broker.url,
        VOICEID_HTTP_PORT: String(await freePort()),
      });
      expect(run.code, run.stderr).toBe(0);
      const events = recorder.on(`voiceid/${slug}/event`).map((m) => JSON.parse(m.payload));
      const named = new Set(events.filter((e) => e.type === "stopped").map((e) => e.speaker));
      expect(named).toEqual(new Set(["Alice", "Robert"]));
      expect(recorder.on(`voiceid/${slug}/status`).at(-1)?.payload).toBe("offline");
    } finally {
      await recorder.stop();
    }
  });

  it("speakers rm", async () => {
    const rm = await voiceid(["speakers", "rm", "Robert"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await voiceid(["speakers"])).stdout).not.toMatch(/Robert/);
  });

  it("a mistake in the file: every command says which file and where, in one line, exit 1", async () => {
    await writeFile(place.file, `${example}\nrooom: hall\n`);
    for (const args of [["speakers"], ["models", "check"], ["run", "--input", clips.stream]]) {
      const run = await voiceid(args);
      expect(run.code, args.join(" ")).toBe(1);
      expect(run.stderr).toBe(
        `voiceid: invalid configuration (${place.file}): rooom: unknown key (did you mean "room"?)\n`,
      );
    }
    await writeFile(place.file, "room: [kitchen\n");
    const broken = await voiceid(["speakers"]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^voiceid: invalid configuration \(.+\): YAML syntax: line 2, column 1: /);
  });
});
