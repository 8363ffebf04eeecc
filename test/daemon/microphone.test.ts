import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { childPids } from "../audio/sources/helpers.js";
import { runVoiceid } from "../helpers/cli.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { librispeechWav } from "../helpers/paths.js";
import { MqttRecorder } from "../mqtt/recorder.js";
import { type DaemonProcess, health, spawnDaemon, waitForHealth, within } from "./helpers.js";

/**
 * The daemon on a microphone, for real but without a sound card, and as shipped: the bundle in dist/
 * run as the systemd unit runs it (`run --config` with the example configuration, the unit's node
 * options), its default source, arecord, capturing from an ALSA `file` PCM whose infile is raw
 * 16 kHz s16le speech (defined in a temporary HOME's .asoundrc). That is the recorder process a
 * Raspberry Pi runs; from the bundle it once failed at start (`__dirname is not defined`).
 */
const SPEAKER = "1040-133433-0000.wav";
const ROOM = "kitchen";

let home: string;
let dataDir: string;
let broker: MosquittoBroker;
let recorder: MqttRecorder;
let daemon: DaemonProcess;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${daemon?.log() ?? ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The microphone daemon: the example configuration, the device and broker from the environment. */
async function startOnMicrophone(): Promise<DaemonProcess> {
  const started = await spawnDaemon({
    mqttUrl: broker.url,
    room: ROOM,
    input: null,
    dataDir,
    env: {
      HOME: home,
      VOICEID_AUDIO_DEVICE: "voiceidtest",
      VOICEID__AUDIO__RESTART_BACKOFF_MS__MIN: "200",
      VOICEID__AUDIO__RESTART_BACKOFF_MS__MAX: "1000",
      VOICEID__MQTT__RECONNECT_MIN_MS: "100",
    },
  });
  // Fails at once, with the daemon's log, if it exits instead of serving.
  await waitForHealth(started, () => true, "the daemon to serve /health");
  return started;
}

const arecordPids = () => childPids("arecord", daemon.child.pid);

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "voiceid-mic-home-"));
  dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-mic-data-"));
  const samples = readWavAs16kMono(await readFile(librispeechWav(SPEAKER)));

  // Carol enrolled with the first half of her recording, by the shipped command line.
  const firstHalf = path.join(home, "carol-1.wav");
  await writeFile(firstHalf, encodePcm16Wav(samples.subarray(0, samples.length >> 1), 16_000));
  const enrolled = await runVoiceid(dataDir, "enroll", "Carol", firstHalf);
  expect(enrolled.code, enrolled.stderr).toBe(0);

  // What the "microphone" hears: 1 s of silence, then the second half of Carol's recording.
  const heard = new Float32Array(16_000 + (samples.length - (samples.length >> 1)));
  heard.set(samples.subarray(samples.length >> 1), 16_000);
  await writeFile(path.join(home, "capture.raw"), encodePcm16Wav(heard, 16_000).subarray(44));
  await writeFile(
    path.join(home, ".asoundrc"),
    `pcm.voiceidtest {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n  infile "${home}/capture.raw"\n  format "raw"\n}\n`,
  );

  broker = await startMosquitto();
  recorder = await MqttRecorder.start(broker.url, ["voiceid/#"]);
  daemon = await startOnMicrophone();
});

afterAll(async () => {
  await daemon?.dispose();
  await recorder?.stop();
  await broker?.stop();
  await rm(home, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe("the shipped daemon on a microphone (arecord on an ALSA file PCM)", () => {
  it("names the enrolled speaker it hears through arecord", async () => {
    const isEvent = (m: { topic: string }) => m.topic === `voiceid/${ROOM}/event`;
    const named = await recorder.waitFor(
      (m) => isEvent(m) && JSON.parse(m.payload).speaker !== null,
      "an event naming a speaker",
      30_000,
    );
    const event = JSON.parse(named.payload) as {
      speaker: string;
      score: number;
      threshold: number;
      offsetS: number;
    };
    // The first decision rests on one 1.6 s window and may still say "unknown"; it is refined.
    expect(event.speaker).toBe("Carol");
    // The encoder "auto" chose (CAM++ here, threshold 0.5) named her at or above its threshold.
    expect(event.threshold).toBe(0.5);
    expect(event.score).toBeGreaterThanOrEqual(event.threshold);
    // Speech starts after the 1 s of silence at the head of the capture.
    const first = JSON.parse(recorder.messages.find(isEvent)!.payload) as { offsetS: number };
    expect(first.offsetS).toBeGreaterThan(0.5);
    expect(first.offsetS).toBeLessThan(3.5);
    await recorder.waitFor(
      (m) => m.topic === `voiceid/${ROOM}/speaker/carol/talking` && m.payload === "ON",
      "Carol talking ON",
    );
    expect((await arecordPids()).length).toBe(1);
    expect((await health(daemon))?.components.audio.state).toBe("ok");
  });

  it("survives the recorder being killed: health shows it, capture resumes", async () => {
    const [pid] = await arecordPids();
    expect(pid).toBeGreaterThan(0);
    const mark = recorder.messages.length;
    process.kill(pid, "SIGKILL");
    await until("a new arecord", async () => {
      const now = await arecordPids();
      return now.length === 1 && now[0] !== pid;
    });
    await waitForHealth(daemon, (h) => h.components.audio.state === "ok", "the audio source to restart");
    // The turn cut by the kill ends; the speech captured anew opens a new one.
    await recorder.waitFor(
      (m) =>
        m.topic === `voiceid/${ROOM}/event` &&
        recorder.messages.indexOf(m) >= mark &&
        JSON.parse(m.payload).type === "started",
      "a turn from the restarted recorder",
      30_000,
    );
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/voiceid_audio_restarts_total [1-9]/);
    // Home Assistant's "last error" diagnostic says what happened.
    const diagnostics = await recorder.waitFor(
      (m) => m.topic === `voiceid/${ROOM}/diagnostics` && JSON.parse(m.payload).lastError !== null,
      "a last error in the diagnostics",
      15_000,
    );
    expect(JSON.parse(diagnostics.payload).lastError).toMatch(/recorder|arecord/i);
  });

  it("the switch in Home Assistant mutes: arecord stops, talking goes OFF, and it stays muted after a restart", async () => {
    const ha = await MqttRecorder.start(broker.url, ["never/#"]);
    try {
      const mark = recorder.messages.length;
      await ha.publish(`voiceid/${ROOM}/listening/set`, "OFF");
      await recorder.waitFor(
        (m) =>
          m.topic === `voiceid/${ROOM}/listening` &&
          m.payload === "OFF" &&
          recorder.messages.indexOf(m) >= mark,
        "listening OFF",
      );
      await until("arecord to stop", async () => (await arecordPids()).length === 0);
      const muted = await waitForHealth(
        daemon,
        (h) => h.components.audio.state === "disabled",
        "the audio input to be disabled",
      );
      expect(muted).toMatchObject({
        status: "ok",
        listening: { listening: false },
        components: { audio: { state: "disabled" } },
      });
      const talking = recorder.on(`voiceid/${ROOM}/speaker/carol/talking`);
      expect(talking.at(-1)?.payload).toBe("OFF");
      const quietFrom = recorder.messages.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(recorder.messages.slice(quietFrom).filter((m) => m.topic === `voiceid/${ROOM}/event`)).toEqual(
        [],
      );

      // A restart (a reboot: systemd stops the service with SIGTERM) keeps it muted: nothing is recorded.
      const stoppedAt = recorder.messages.length;
      daemon.child.kill("SIGTERM");
      expect(await within(daemon.exited, 15_000, "the daemon to stop after SIGTERM", daemon)).toBe(0);
      expect(recorder.messages.slice(stoppedAt)).toContainEqual(
        expect.objectContaining({ topic: `voiceid/${ROOM}/status`, payload: "offline" }),
      );
      await daemon.dispose();
      daemon = await startOnMicrophone();
      const restarted = await waitForHealth(daemon, (h) => h.components.mqtt?.state === "ok", "MQTT");
      expect(restarted).toMatchObject({
        listening: { listening: false },
        components: { audio: { state: "disabled" } },
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(await arecordPids()).toEqual([]);

      const unmutedAt = Date.now();
      const beforeOn = recorder.messages.length;
      await ha.publish(`voiceid/${ROOM}/listening/set`, "ON");
      await until("arecord to run again", async () => (await arecordPids()).length === 1);
      const resumed = await waitForHealth(daemon, (h) => h.components.audio.state === "ok", "audio ok");
      expect(resumed.listening.listening).toBe(true);
      // Events after the switch count from when listening resumed, not from the first start.
      const event = await recorder.waitFor(
        (m) => m.topic === `voiceid/${ROOM}/event` && recorder.messages.indexOf(m) >= beforeOn,
        "an event after listening resumed",
        30_000,
      );
      expect(Date.parse(JSON.parse(event.payload).startedAt)).toBeGreaterThanOrEqual(unmutedAt);
    } finally {
      await ha.stop();
    }
  });
});
