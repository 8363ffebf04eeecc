import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { loadConfig } from "../../src/config/load.js";
import type { VoiceidConfig } from "../../src/config/schema.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { ModelStack } from "../../src/embedding/stack.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";
import { childPids, waitFor } from "../audio/sources/helpers.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { librispeechWav, modelsDir } from "../helpers/paths.js";
import { MqttRecorder } from "../mqtt/recorder.js";

/**
 * The daemon on a microphone, for real but without a sound card: arecord captures from an ALSA
 * `file` PCM whose infile is raw 16 kHz s16le speech (defined in a temporary HOME's .asoundrc),
 * exactly the recorder process a Raspberry Pi runs.
 */
const SPEAKER = "1040-133433-0000.wav";

let home: string;
let dataDir: string;
let broker: MosquittoBroker;
let recorder: MqttRecorder;
let daemon: Daemon;
let config: VoiceidConfig;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function enrolFirstHalf(samples: Float32Array): Promise<void> {
  const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
  const stack = new ModelStack({ modelsDir, encoder: "resemblyzer-0.1.4" });
  await Promise.all([registry.start(), stack.start()]);
  const enroller = new Enroller(registry, stack.extractor);
  const firstHalf = encodePcm16Wav(samples.subarray(0, samples.length >> 1), 16_000);
  await enroller.enrol("Carol", [{ bytes: firstHalf, source: "cli" }], { create: true });
  await Promise.all([registry.stop(), stack.stop()]);
}

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "voiceid-mic-home-"));
  dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-mic-data-"));
  const samples = readWavAs16kMono(await readFile(librispeechWav(SPEAKER)));
  await enrolFirstHalf(samples);

  // What the "microphone" hears: 1 s of silence, then the second half of Carol's recording.
  const heard = new Float32Array(16_000 + (samples.length - (samples.length >> 1)));
  heard.set(samples.subarray(samples.length >> 1), 16_000);
  const pcm = encodePcm16Wav(heard, 16_000).subarray(44);
  await writeFile(path.join(home, "capture.raw"), pcm);
  await writeFile(
    path.join(home, ".asoundrc"),
    `pcm.voiceidtest {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n  infile "${home}/capture.raw"\n  format "raw"\n}\n`,
  );

  broker = await startMosquitto();
  recorder = await MqttRecorder.start(broker.url, ["voiceid/#"]);
  ({ config } = await loadConfig({
    env: {},
    searchPaths: [],
    overrides: {
      dataDir,
      modelsDir,
      room: "kitchen",
      "audio.source": "microphone",
      "audio.device": "voiceidtest",
      "audio.restartBackoffMs": { min: 200, max: 1000 },
      "mqtt.url": broker.url,
      "mqtt.reconnectMinMs": 100,
      "http.enabled": false,
    },
  }));
  daemon = new Daemon({ config, logger: silentLogger, env: { ...process.env, HOME: home } });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  await recorder?.stop();
  await broker?.stop();
  await rm(home, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe("voiceid on a microphone (arecord on an ALSA file PCM)", () => {
  it("names the enrolled speaker it hears through arecord", async () => {
    const isEvent = (m: { topic: string }) => m.topic === "voiceid/kitchen/event";
    const named = await recorder.waitFor(
      (m) => isEvent(m) && JSON.parse(m.payload).speaker !== null,
      "an event naming a speaker",
      30_000,
    );
    const event = JSON.parse(named.payload) as { speaker: string; score: number; offsetS: number };
    // The first decision rests on one 1.6 s window and may still say "unknown"; it is refined.
    expect(event.speaker).toBe("Carol");
    expect(event.score).toBeGreaterThanOrEqual(0.82);
    // Speech starts after the 1 s of silence at the head of the capture.
    const first = JSON.parse(recorder.messages.find(isEvent)!.payload) as { offsetS: number };
    expect(first.offsetS).toBeGreaterThan(0.5);
    expect(first.offsetS).toBeLessThan(3.5);
    await recorder.waitFor(
      (m) => m.topic === "voiceid/kitchen/speaker/carol/talking" && m.payload === "ON",
      "Carol talking ON",
    );
    expect(daemon.health().components.audio.state).toBe("ok");
  });

  it("survives the recorder being killed: health shows it, capture resumes", async () => {
    const [pid] = await childPids("arecord");
    expect(pid).toBeGreaterThan(0);
    const eventsBefore = recorder.on("voiceid/kitchen/event").length;
    process.kill(pid, "SIGKILL");
    await waitFor(
      "the audio source to restart",
      () =>
        daemon.health().components.audio.state === "ok" &&
        recorder.on("voiceid/kitchen/event").length > eventsBefore,
      30_000,
    );
    const restarted = await childPids("arecord");
    expect(restarted.length).toBe(1);
    expect(restarted[0]).not.toBe(pid);
    expect(await daemon.metrics.registry.metrics()).toMatch(/voiceid_audio_restarts_total [1-9]/);
    // Home Assistant's "last error" diagnostic says what happened.
    const diagnostics = await recorder.waitFor(
      (m) => m.topic === "voiceid/kitchen/diagnostics" && JSON.parse(m.payload).lastError !== null,
      "a last error in the diagnostics",
      15_000,
    );
    expect(JSON.parse(diagnostics.payload).lastError).toMatch(/recorder|arecord/i);
  });

  it("the switch in Home Assistant mutes: arecord stops, talking goes OFF, and it stays muted after a restart", async () => {
    const ha = await MqttRecorder.start(broker.url, ["never/#"]);
    try {
      const mark = recorder.messages.length;
      await ha.publish("voiceid/kitchen/listening/set", "OFF");
      await recorder.waitFor(
        (m) =>
          m.topic === "voiceid/kitchen/listening" &&
          m.payload === "OFF" &&
          recorder.messages.indexOf(m) >= mark,
        "listening OFF",
      );
      await until("arecord to stop", async () => (await childPids("arecord")).length === 0);
      expect(daemon.health()).toMatchObject({
        status: "ok",
        listening: { listening: false },
        components: { audio: { state: "disabled" } },
      });
      const talking = recorder.on("voiceid/kitchen/speaker/carol/talking");
      expect(talking.at(-1)?.payload).toBe("OFF");
      const muted = recorder.messages.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(recorder.messages.slice(muted).filter((m) => m.topic === "voiceid/kitchen/event")).toEqual([]);

      // A restart (a reboot) keeps it muted: nothing is recorded.
      await daemon.stop();
      daemon = new Daemon({ config, logger: silentLogger, env: { ...process.env, HOME: home } });
      await daemon.start();
      expect(daemon.health().listening.listening).toBe(false);
      await new Promise((r) => setTimeout(r, 500));
      expect(await childPids("arecord")).toEqual([]);

      const unmutedAt = Date.now();
      const beforeOn = recorder.messages.length;
      await ha.publish("voiceid/kitchen/listening/set", "ON");
      await until("arecord to run again", async () => (await childPids("arecord")).length === 1);
      await waitFor(
        "the audio input to be ok",
        () => daemon.health().components.audio.state === "ok",
        10_000,
      );
      expect(daemon.health().listening.listening).toBe(true);
      // Events after the switch count from when listening resumed, not from the first start.
      const event = await recorder.waitFor(
        (m) => m.topic === "voiceid/kitchen/event" && recorder.messages.indexOf(m) >= beforeOn,
        "an event after listening resumed",
        30_000,
      );
      expect(Date.parse(JSON.parse(event.payload).startedAt)).toBeGreaterThanOrEqual(unmutedAt);
    } finally {
      await ha.stop();
    }
  });
});
