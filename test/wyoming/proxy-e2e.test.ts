import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resample } from "../../src/audio/resample.js";
import {
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  freePort,
  SAMPLE_RATE,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
} from "../daemon/helpers.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "../mqtt/recorder.js";
import {
  pcm16,
  type ReferenceUpstream,
  referenceClient,
  sendCommand,
  startReferenceUpstream,
} from "./helpers.js";

/**
 * The shipped daemon as a Wyoming speech-to-text proxy, between the reference `wyoming` client (as Home
 * Assistant's speech-to-text entity talks) and a reference `wyoming` server as the upstream that records
 * what it got. Real models, real speech, real mosquitto. One data directory: Alice and Bob are enrolled
 * once over the API, then the daemon runs in each mode.
 */

const room = "hall";
const dir = mkdtempSync(path.join(tmpdir(), "voiceid-wyoming-"));
let broker: MosquittoBroker;
let upstream: ReferenceUpstream;
let recorder: MqttRecorder;
const daemons: DaemonProcess[] = [];
let aliceId = "";

const seconds = (s: number) => Math.round(s * SAMPLE_RATE);
const pieces = streamedPieces();
/** Alice's command (3 s, never used for enrolment) and a visitor's (nobody enrolled). */
const alice = pieces.a1.subarray(seconds(0.5), seconds(3.5));
const visitor = pieces.stranger.subarray(seconds(1), seconds(4));

async function daemonIn(
  mode: string,
  env: Record<string, string> = {},
): Promise<{ daemon: DaemonProcess; uri: string }> {
  const port = await freePort();
  const daemon = await spawnDaemon({
    mqttUrl: broker.url,
    room,
    dataDir: path.join(dir, "data"),
    env: {
      VOICEID__WYOMING__ENABLED: "true",
      VOICEID__WYOMING__LISTEN: `tcp://127.0.0.1:${port}`,
      VOICEID__WYOMING__UPSTREAM: upstream.uri,
      VOICEID__WYOMING__MODE: mode,
      ...env,
    },
  });
  daemons.push(daemon);
  await waitForHealth(daemon, (h) => h.httpStatus === 200, "a healthy daemon");
  return { daemon, uri: `tcp://127.0.0.1:${port}` };
}

async function stopDaemon(daemon: DaemonProcess): Promise<void> {
  daemon.child.kill("SIGTERM");
  await daemon.exited;
}

beforeAll(async () => {
  broker = await startMosquitto();
  upstream = await startReferenceUpstream(mkdtempSync(path.join(dir, "upstream-")));
  recorder = await MqttRecorder.start(broker.url, [`voiceid/${room}/#`, "homeassistant/#"]);
});

afterAll(async () => {
  for (const d of daemons) await d.dispose();
  await recorder?.stop().catch(() => {});
  await upstream?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("Wyoming proxy in pass mode", () => {
  let daemon: DaemonProcess;
  let uri: string;
  beforeAll(async () => {
    ({ daemon, uri } = await daemonIn("pass"));
    const clips = enrolmentClips();
    aliceId = await enrolOverHttp(daemon, "Alice", clips.A);
    await enrolOverHttp(daemon, "Bob", clips.B);
  });
  afterAll(() => stopDaemon(daemon));

  it("answers describe with the upstream's speech-to-text programs and languages, named as through voiceid", async () => {
    const { info } = await referenceClient(["describe", uri]);
    expect(info?.asr).toHaveLength(1);
    expect(info?.asr[0].name).toBe("voiceid (reference-stt)");
    expect(info?.asr[0].description).toMatch(/voiceid names the speaker/);
    expect(info?.asr[0].models[0].languages).toEqual(["en", "de"]);
  });

  it("forwards the audio byte for byte, names Alice and publishes the command event and the last command speaker", async () => {
    const audio = pcm16(alice);
    const before = upstream.count();
    const result = await sendCommand(uri, audio, dir);
    expect(result.text).toBe(`heard ${audio.length} bytes`);
    expect(upstream.count()).toBe(before + 1);
    const got = upstream.received(before + 1);
    expect(got.audio.equals(audio)).toBe(true);
    expect(got.events[0]).toMatchObject({ type: "transcribe", language: "en" });
    expect(got.events[1]).toMatchObject({ type: "audio-start", rate: 16000, width: 2, channels: 1 });

    const message = await recorder.waitFor(
      (m) => m.topic === `voiceid/${room}/command` && JSON.parse(m.payload).mode === "pass",
      "the command event",
    );
    const command = JSON.parse(message.payload);
    expect(command).toMatchObject({ event_type: aliceId, speaker: "Alice", forwarded: true, mode: "pass" });
    expect(command.durationS).toBeCloseTo(3, 1);
    const retained = await readRetained(broker.url, [`voiceid/${room}/last_command_speaker`]);
    expect(JSON.parse(retained.get(`voiceid/${room}/last_command_speaker`) ?? "{}")).toMatchObject({
      speaker: "Alice",
      forwarded: true,
    });
    // Talking and last heard behave as for the room microphone, marked with the command.
    const events = recorder
      .on(`voiceid/${room}/event`)
      .map((m) => JSON.parse(m.payload))
      .filter((e) => e.commandId === command.commandId);
    expect(events.some((e) => e.type === "updated" && e.speakerId === aliceId)).toBe(true);
    expect(recorder.on(`voiceid/${room}/speaker/${aliceId}/last_heard`).length).toBeGreaterThan(0);
    // Discovered in Home Assistant: a sensor and an event entity.
    const discovery = recorder.messages
      .filter((m) => m.topic === "homeassistant/device/voiceid_hall/config")
      .at(-1);
    const cmps = JSON.parse(discovery?.payload ?? "{}").cmps;
    expect(cmps.last_command_speaker).toMatchObject({
      p: "sensor",
      stat_t: `voiceid/${room}/last_command_speaker`,
    });
    expect(cmps.voice_command).toMatchObject({ p: "event", stat_t: `voiceid/${room}/command` });
    expect(cmps.voice_command.evt_typ).toContain(aliceId);
  });

  it("resamples 22.05 kHz stereo for naming, and forwards it unchanged", async () => {
    const rate = 22_050;
    const audio = pcm16(resample(alice, SAMPLE_RATE, rate), 2);
    const before = upstream.count();
    const since = recorder.messages.length;
    const result = await sendCommand(uri, audio, dir, { rate, channels: 2, chunkBytes: 4410 });
    expect(result.text).toBe(`heard ${audio.length} bytes`);
    expect(upstream.received(before + 1).audio.equals(audio)).toBe(true);
    const message = await recorder.next(`voiceid/${room}/command`, since);
    expect(JSON.parse(message.payload)).toMatchObject({ speaker: "Alice", forwarded: true });
  });

  it("answers a malformed header, a huge payload length and a mid-stream disconnect cleanly, and keeps serving", async () => {
    const raw = async (bytes: string): Promise<string> => {
      const { port } = new URL(uri);
      const socket = connect(Number(port), "127.0.0.1");
      let got = "";
      socket.on("data", (b) => {
        got += b.toString();
      });
      socket.write(bytes);
      await new Promise((r) => socket.once("close", r));
      return got;
    };
    const malformed = await raw("this is not json\n");
    expect(malformed).toMatch(/"type": ?"error"/);
    expect(malformed).toMatch(/header is not valid JSON/);
    const huge = await raw(`${JSON.stringify({ type: "audio-chunk", payload_length: 2 ** 40 })}\n`);
    expect(huge).toMatch(/payload_length 1099511627776 is over the limit/);
    const dropped = await sendCommand(uri, pcm16(alice), dir, { dropAfter: 5 });
    expect(dropped.dropped).toBe(5);

    const audio = pcm16(alice);
    const result = await sendCommand(uri, audio, dir);
    expect(result.text).toBe(`heard ${audio.length} bytes`);
    expect(daemon.child.exitCode).toBeNull();
  });
});

describe("Wyoming proxy in gate mode", () => {
  let daemon: DaemonProcess;
  let uri: string;
  beforeAll(async () => {
    ({ daemon, uri } = await daemonIn("gate"));
  });
  afterAll(() => stopDaemon(daemon));

  it("a visitor gets an empty transcript, nothing is forwarded, and the command event says so", async () => {
    const before = upstream.count();
    const since = recorder.messages.length;
    const result = await sendCommand(uri, pcm16(visitor), dir);
    expect(result).toEqual({ text: "" });
    expect(upstream.count()).toBe(before);
    const command = JSON.parse((await recorder.next(`voiceid/${room}/command`, since)).payload);
    expect(command).toMatchObject({
      event_type: "unrecognized",
      speakerId: null,
      forwarded: false,
      mode: "gate",
    });
    expect(["unknown", "uncertain"]).toContain(command.reason);
  });

  it("Alice's command is forwarded whole and transcribed", async () => {
    const audio = pcm16(alice);
    const before = upstream.count();
    const result = await sendCommand(uri, audio, dir);
    expect(result.text).toBe(`heard ${audio.length} bytes`);
    expect(upstream.received(before + 1).audio.equals(audio)).toBe(true);
  });
});

describe("Wyoming proxy in extract mode", () => {
  let daemon: DaemonProcess;
  let uri: string;
  beforeAll(async () => {
    ({ daemon, uri } = await daemonIn("extract", { VOICEID__WYOMING__TAG_TRANSCRIPT: "true" }));
  });
  afterAll(() => stopDaemon(daemon));

  it("forwards Alice's stretch of a command the visitor talked into first, and drops the visitor's", async () => {
    // 2.5 s of the visitor, then 3 s of Alice.
    const visitorPart = pieces.stranger.subarray(seconds(4), seconds(6.5));
    const command = new Float32Array(visitorPart.length + alice.length);
    command.set(visitorPart);
    command.set(alice, visitorPart.length);
    const audio = pcm16(command);
    const before = upstream.count();
    const result = await sendCommand(uri, audio, dir);
    // wyoming.tagTranscript: the speaker as a prefix, for those who want it in the text.
    expect(result.text).toMatch(/^\[Alice\] heard \d+ bytes$/);
    const got = upstream.received(before + 1);
    // Every forwarded chunk is the command's audio at the place its timestamp says.
    const chunks = got.events.filter((e) => e.type === "audio-chunk");
    let at = 0;
    const kept = new Uint8Array(audio.length / 2);
    for (const chunk of chunks) {
      const bytes = chunk.bytes ?? 0;
      const piece = got.audio.subarray(at, at + bytes);
      at += bytes;
      const approx = Math.round(((chunk.timestamp ?? 0) / 1000) * SAMPLE_RATE) * 2;
      let offset = -1;
      for (let d = -64; d <= 64 && offset < 0; d += 2) {
        if (audio.subarray(approx + d, approx + d + bytes).equals(piece)) offset = approx + d;
      }
      expect(
        offset,
        `chunk at ${chunk.timestamp} ms is not the command's audio there`,
      ).toBeGreaterThanOrEqual(0);
      kept.fill(1, offset / 2, (offset + bytes) / 2);
    }
    const share = (from: number, to: number) =>
      kept.subarray(from, to).reduce((n, k) => n + k, 0) / (to - from);
    const visitorShare = share(0, visitorPart.length);
    const aliceShare = share(visitorPart.length, command.length);
    expect(aliceShare, `Alice's share forwarded ${aliceShare}`).toBeGreaterThanOrEqual(0.8);
    expect(visitorShare, `the visitor's share forwarded ${visitorShare}`).toBeLessThanOrEqual(0.2);
  });
});
