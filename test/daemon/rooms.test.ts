import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { runVoiceid } from "../helpers/cli.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "../mqtt/recorder.js";
import { openBrowser } from "../web/helpers.js";
import {
  buildStream,
  type DaemonProcess,
  enrolmentClips,
  SAMPLE_RATE,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
  within,
} from "./helpers.js";

/**
 * One daemon, several microphones (`inputs:`): the shipped bundle run as the systemd unit runs it, with a
 * configuration listing two rooms, on a real broker. Each room has its own topics and Home Assistant
 * device; the household room sensor follows a person from one input to the other.
 */

let broker: MosquittoBroker;
const dir = mkdtempSync(path.join(tmpdir(), "voiceid-rooms-"));
const daemons: DaemonProcess[] = [];
const recorders: MqttRecorder[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
});

afterAll(async () => {
  for (const r of recorders) await r.stop().catch(() => {});
  for (const d of daemons) await d.dispose();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, bytes: Uint8Array | string): string {
  const at = path.join(dir, name);
  writeFileSync(at, bytes);
  return at;
}

/** A configuration with these inputs (YAML flow mappings), files paced like live microphones. */
function configWith(name: string, inputs: string[]): string {
  return file(
    name,
    [
      "mqtt:",
      "  reconnectMinMs: 200",
      "audio:",
      "  realtime: true",
      "inputs:",
      ...inputs.map((i) => `  - ${i}`),
    ].join("\n"),
  );
}

async function start(configFile: string, dataDir: string): Promise<DaemonProcess> {
  const daemon = await spawnDaemon({ mqttUrl: broker.url, configFile, input: null, dataDir });
  daemons.push(daemon);
  return daemon;
}

/** Silence at the pace of a microphone; the loop ends when its reader is gone (head fails on the pipe). */
const OFFICE_STREAM = "VOICEID_TEST_OFFICE=1; while head -c 3200 /dev/zero; do sleep 0.1; done";

/** Processes running the office's command. */
async function officeStreams(): Promise<number> {
  let n = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("VOICEID_TEST_OFFICE=1")) n++;
  }
  return n;
}

interface InputHealth {
  room: string;
  state: string;
  audio: string;
  restarts: number;
}
const inputsOf = (h: unknown) => (h as { inputs?: InputHealth[] }).inputs ?? [];

interface Detection {
  room: string;
  type: string;
  speakerId: string | null;
}

/** Server-sent detections until `enough` says so; returns them. */
async function detections(url: string, enough: (events: Detection[]) => boolean): Promise<Detection[]> {
  const res = await fetch(`${url}/api/events`);
  const reader = res.body!.getReader();
  const events: Detection[] = [];
  let text = "";
  while (!enough(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const data = /^event: detection\ndata: (.*)$/m.exec(text.slice(0, end))?.[1];
      if (data) events.push(JSON.parse(data));
      text = text.slice(end + 2);
    }
  }
  await reader.cancel();
  return events;
}

describe("one daemon, several inputs", () => {
  it("two files in one daemon: each room its own topics and device, and the room sensor follows Alice from one to the other", async () => {
    const dataDir = path.join(dir, "follow");
    const enrolled = await runVoiceid(dataDir, "enroll", "Alice", file("alice.wav", enrolmentClips().A));
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const p = streamedPieces();
    // The kitchen hears her first; the living room, after 8 s of silence, once the kitchen's turn is over.
    const kitchenWav = file("kitchen.wav", buildStream([0.5, ["A", p.a1], 1]).wav);
    const livingWav = file("living.wav", buildStream([8, ["A", p.a2], 3]).wav);
    const config = configWith("two-files.yaml", [
      `{ room: Kitchen, source: file, file: ${kitchenWav} }`,
      `{ room: Living Room, source: file, file: ${livingWav} }`,
    ]);
    const recorder = await MqttRecorder.start(broker.url, [
      "voiceid/kitchen/#",
      "voiceid/living_room/#",
      "voiceid/_household/presence/alice",
      "homeassistant/device/#",
    ]);
    recorders.push(recorder);

    const daemon = await start(config, dataDir);
    const health = await waitForHealth(daemon, (h) => inputsOf(h).length === 2, "both inputs");
    expect(inputsOf(health).map((i) => i.room)).toEqual(["Kitchen", "Living Room"]);
    expect(health.components.audio.state).toBe("ok");
    const feed = detections(daemon.httpUrl, (events) =>
      ["Kitchen", "Living Room"].every((room) => events.some((e) => e.room === room && e.type === "stopped")),
    );
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/voiceid_input_running\{room="Kitchen",state="running"\} 1/);
    expect(metrics).toMatch(/voiceid_input_running\{room="Living Room",state="running"\} 1/);
    expect(metrics).toMatch(/voiceid_input_restarts_total\{room="Kitchen"\} 0/);

    const presence = (room: string) => (m: { topic: string; payload: string }) =>
      m.topic === "voiceid/_household/presence/alice" &&
      m.payload !== "" &&
      JSON.parse(m.payload).room === room;
    const kitchen = await recorder.waitFor(presence("Kitchen"), "Alice heard in the kitchen", 30_000);
    const living = await recorder.waitFor(presence("Living Room"), "Alice heard in the living room", 30_000);
    expect(JSON.parse(living.payload).at > JSON.parse(kitchen.payload).at).toBe(true);
    expect(JSON.parse(living.payload).speaker).toBe("Alice");

    // Both files ended: the daemon reports the last turns and exits, each room saying offline.
    expect(await within(daemon.exited, 30_000, "the daemon to exit", daemon)).toBe(0);
    const named = (topic: string) =>
      recorder
        .on(topic)
        .map((m) => JSON.parse(m.payload) as { type: string; speakerId: string | null; room: string })
        .filter((e) => e.type === "stopped");
    expect(named("voiceid/kitchen/event")).toEqual([
      expect.objectContaining({ speakerId: "alice", room: "Kitchen" }),
    ]);
    expect(named("voiceid/living_room/event")).toEqual([
      expect.objectContaining({ speakerId: "alice", room: "Living Room" }),
    ]);
    const sse = await within(feed, 5000, "the detections of both rooms");
    expect(sse.filter((e) => e.type === "stopped").map((e) => [e.room, e.speakerId])).toEqual([
      ["Kitchen", "alice"],
      ["Living Room", "alice"],
    ]);

    const retained = await readRetained(broker.url, [
      "homeassistant/device/voiceid_kitchen/config",
      "homeassistant/device/voiceid_living_room/config",
      "voiceid/kitchen/status",
      "voiceid/living_room/status",
      "voiceid/kitchen/speaker/alice/last_heard",
      "voiceid/living_room/speaker/alice/last_heard",
    ]);
    const device = (room: string) =>
      JSON.parse(retained.get(`homeassistant/device/voiceid_${room}/config`) ?? "null");
    expect(device("kitchen").dev).toMatchObject({ ids: ["voiceid_kitchen"], name: "voiceid Kitchen" });
    expect(device("kitchen").avty_t).toBe("voiceid/kitchen/status");
    expect(device("kitchen").cmps.alice_talking.stat_t).toBe("voiceid/kitchen/speaker/alice/talking");
    expect(device("living_room").dev).toMatchObject({
      ids: ["voiceid_living_room"],
      name: "voiceid Living Room",
    });
    expect(device("living_room").cmps.alice_talking.stat_t).toBe("voiceid/living_room/speaker/alice/talking");
    // The connection's last will is the kitchen's: the living room's device needs both online.
    expect(device("living_room").avty).toEqual([
      { t: "voiceid/living_room/status", pl_avail: "online", pl_not_avail: "offline" },
      { t: "voiceid/kitchen/status", pl_avail: "online", pl_not_avail: "offline" },
    ]);
    expect(device("living_room").avty_mode).toBe("all");
    expect(retained.get("voiceid/kitchen/status")).toBe("offline");
    expect(retained.get("voiceid/living_room/status")).toBe("offline");
    expect(retained.get("voiceid/kitchen/speaker/alice/last_heard")).toBeDefined();
    expect(retained.get("voiceid/living_room/speaker/alice/last_heard")).toBeDefined();
    expect(daemon.log()).toMatch(/voiceid started.*Kitchen \(file\), Living Room \(file\)/);
  });

  it("one switch for the daemon: off from one room's switch mutes every input, on from the API resumes all", async () => {
    const silence = file("silence.wav", encodePcm16Wav(new Float32Array(120 * SAMPLE_RATE), SAMPLE_RATE));
    // The office's is a live stream from a command (as ffmpeg would give a camera's): silence, paced.
    const config = configWith("two-rooms.yaml", [
      `{ room: Hall, source: file, file: ${silence} }`,
      `{ room: Office, source: command, command: "${OFFICE_STREAM}" }`,
    ]);
    const recorder = await MqttRecorder.start(broker.url, ["voiceid/hall/#", "voiceid/office/#"]);
    recorders.push(recorder);
    const daemon = await start(config, path.join(dir, "switch"));
    await waitForHealth(
      daemon,
      (h) => inputsOf(h).length === 2 && inputsOf(h).every((i) => i.audio === "running"),
      "both inputs running",
    );
    await recorder.waitFor(
      (m) => m.topic === "voiceid/office/status" && m.payload === "online",
      "office online",
    );
    const from = recorder.messages.length;
    await recorder.publish("voiceid/office/listening/set", "OFF");
    const muted = await waitForHealth(
      daemon,
      (h) => inputsOf(h).every((i) => i.audio === "muted"),
      "both inputs muted",
    );
    expect(muted.listening.listening).toBe(false);
    expect(muted.components.audio.state).toBe("disabled");
    // Muted, the office's command is stopped: nothing is captured.
    expect(await officeStreams()).toBe(0);
    for (const room of ["hall", "office"])
      await recorder.waitUntil(
        () =>
          recorder.messages
            .slice(from)
            .find((m) => m.topic === `voiceid/${room}/listening` && m.payload === "OFF"),
        `${room} switch OFF`,
      );

    const res = await fetch(`${daemon.httpUrl}/api/listening`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ listening: true }),
    });
    expect(res.status).toBe(200);
    const resumed = await waitForHealth(
      daemon,
      (h) => inputsOf(h).every((i) => i.audio === "running"),
      "both inputs running again",
    );
    expect(resumed.listening.listening).toBe(true);
    expect(await officeStreams()).toBeGreaterThan(0);
    // The page shows every input, by room, in a real browser.
    const browser = await openBrowser(
      daemon.httpUrl,
      encodePcm16Wav(new Float32Array(SAMPLE_RATE), SAMPLE_RATE),
    );
    try {
      const status = browser.page.locator("#status");
      await expect.poll(() => status.textContent(), { timeout: 15_000 }).toContain("Audio input: Office");
      expect(await status.textContent()).toContain("Audio input: Hallok");
    } finally {
      await browser.close();
    }

    // Killed: the broker's last will (the hall's status) makes the office's device unavailable too.
    daemon.child.kill("SIGKILL");
    await daemon.exited;
    const retained = await readRetained(broker.url, [
      "voiceid/hall/status",
      "voiceid/hall/listening",
      "voiceid/office/listening",
    ]);
    expect(retained.get("voiceid/hall/status")).toBe("offline");
    expect(retained.get("voiceid/hall/listening")).toBe("ON");
    expect(retained.get("voiceid/office/listening")).toBe("ON");
  });

  it("refuses a configuration with bad inputs, naming each problem by its place in the list", async () => {
    const config = configWith("bad.yaml", [
      "{ room: Kitchen, source: microphone }",
      "{ room: kitchen, source: microphone }",
      "{ room: Hall }",
    ]);
    const run = await runVoiceid(path.join(dir, "bad"), "run", "--config", config);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'inputs[1].room: must differ from inputs[0].room (both are the topic level "kitchen")',
    );
    expect(run.stderr).toContain(
      'inputs[2].source: required (one of "microphone", "command", "file", "stdin")',
    );
    const both = await runVoiceid(
      path.join(dir, "bad"),
      "run",
      "--config",
      configWith("ok.yaml", ["{ room: A, source: microphone }"]),
      "--input",
      "x.wav",
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--input is for one input");
  });
});
