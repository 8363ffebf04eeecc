import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import {
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  SAMPLE_RATE,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
} from "../daemon/helpers.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder } from "../mqtt/recorder.js";
import { HA_MQTT_PORT, HomeAssistant, homeAssistantMissing } from "./home-assistant.js";

/**
 * voiceid against a real Home Assistant Core with its MQTT integration (opt-in: `npm run test:ha`,
 * after ../shared/home-assistant/setup.sh). Everything is checked through Home Assistant's own APIs.
 */
const missing = homeAssistantMissing();
// A room of its own per run: entities of earlier runs stay in this Home Assistant's registry.
const room = `HA Test ${Date.now().toString(36)}`;
const device = `voiceid_${room.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
const entity = {
  aliceTalking: `binary_sensor.${device}_alice_talking`,
  bobTalking: `binary_sensor.${device}_bob_talking`,
  aliceLastHeard: `sensor.${device}_alice_last_heard`,
  bobLastHeard: `sensor.${device}_bob_last_heard`,
  lastSpeaker: `sensor.${device}_last_speaker`,
  identified: `event.${device}_speaker_identified`,
  listening: `switch.${device}_listening`,
  audio: `sensor.${device}_audio_input`,
  encoder: `sensor.${device}_encoder`,
  lastError: `sensor.${device}_last_error`,
};

let broker: MosquittoBroker;
let ha: HomeAssistant;
let daemon: DaemonProcess;
let dataDir: string;
const nowS = () => Date.now() / 1000;

/** Raw 16 kHz s16le (stdin stays open between plays, so no WAV header after the first bytes). */
function raw(samples: Float32Array, silenceAfterS = 0): Uint8Array {
  const all = new Float32Array(samples.length + Math.round(silenceAfterS * SAMPLE_RATE));
  all.set(samples);
  return encodePcm16Wav(all, SAMPLE_RATE).subarray(44);
}

async function startDaemon(): Promise<DaemonProcess> {
  const d = await spawnDaemon({
    mqttUrl: `mqtt://127.0.0.1:${HA_MQTT_PORT}`,
    room,
    realtime: true,
    dataDir,
  });
  await waitForHealth(d, (h) => h.components.mqtt?.state === "ok", "the daemon connected to the broker");
  // Raw input: the first bytes must not look like a WAV header.
  d.feed(raw(new Float32Array(SAMPLE_RATE)), false);
  return d;
}

describe("voiceid in a real Home Assistant", () => {
  beforeAll(async () => {
    // Opt-in (npm run test:ha): without Home Assistant this says how to get it, rather than passing empty.
    if (missing !== null) throw new Error(missing);
    broker = await startMosquitto({ port: HA_MQTT_PORT });
    // Another client's junk where the last speaker goes: voiceid, which has none yet, must replace it.
    const mallory = await MqttRecorder.start(broker.url, ["never"]);
    await mallory.publish(
      `voiceid/${device.slice("voiceid_".length)}/last_speaker`,
      '{"speaker":"Mallory"}',
      true,
    );
    await mallory.stop();
    ha = new HomeAssistant();
    await ha.start();
    // Kept across the daemon's restarts (a spawned daemon's own temp dir goes with it).
    dataDir = mkdtempSync(path.join(tmpdir(), "voiceid-ha-data-"));
    daemon = await spawnDaemon({ mqttUrl: broker.url, room, realtime: true, dataDir });
    await waitForHealth(
      daemon,
      (h) => h.components.mqtt?.state === "ok",
      "the daemon connected to the broker",
    );
    daemon.feed(raw(new Float32Array(SAMPLE_RATE)), false);
    const clips = enrolmentClips();
    await enrolOverHttp(daemon, "Alice", clips.A);
    await enrolOverHttp(daemon, "Bob", clips.B);
  }, 900_000);

  afterAll(async () => {
    await daemon?.dispose();
    await ha?.stop();
    await broker?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);

  it("shows the device and all its entities, diagnostics as diagnostic", async () => {
    for (const id of Object.values(entity)) {
      // Created unavailable from discovery; available once the retained "online" reached it.
      await ha.until(`${id} available in Home Assistant`, async () => {
        const state = await ha.state(id);
        return state !== null && state.state !== "unavailable";
      });
    }
    expect((await ha.state(entity.aliceTalking))?.state).toBe("off");
    expect((await ha.state(entity.listening))?.state).toBe("on");
    expect((await ha.state(entity.audio))?.state).toBe("running");
    // The encoder the daemon chose for this machine (auto), as its /health reports it.
    const { encoder } = await waitForHealth(daemon, (h) => h.encoder !== null, "the encoder chosen");
    expect(encoder?.model).toBeTruthy();
    expect((await ha.state(entity.encoder))?.state).toBe(encoder?.model);
    expect((await ha.state(entity.lastError))?.state).toBe("none");
    // Nobody spoke yet: no data, not "Mallory" (retained by another client) nor "unrecognized".
    expect((await ha.state(entity.lastSpeaker))?.state).toBe("unknown");
    expect((await ha.state(entity.aliceLastHeard))?.attributes.device_class).toBe("timestamp");
    const registry = await ha.ws<Array<{ entity_id: string; entity_category: string | null }>>({
      type: "config/entity_registry/list",
    });
    const category = (id: string) => registry.find((e) => e.entity_id === id)?.entity_category;
    expect(category(entity.audio)).toBe("diagnostic");
    expect(category(entity.encoder)).toBe("diagnostic");
    expect(category(entity.lastError)).toBe("diagnostic");
    expect(category(entity.aliceTalking)).toBeNull();
  });

  it("follows a played conversation: talking, last speaker, last heard and the event entity", async () => {
    const p = streamedPieces();
    const since = nowS();
    daemon.feed(raw(p.a1, 3), false);
    daemon.feed(raw(p.stranger, 3), false);
    daemon.feed(raw(p.b, 4), false);
    await ha.until(
      "Bob's talking to go on and off",
      async () => ha.changesOf(entity.bobTalking, since).some((c) => c.old === "on" && c.new === "off"),
      90_000,
    );
    // Transitions between real states (not the entity's first unknown -> off).
    const talking = (id: string) =>
      ha
        .changesOf(id, since)
        .filter((c) => c.old === "on" || c.old === "off")
        .map((c) => c.new);
    expect(talking(entity.aliceTalking)).toEqual(["on", "off"]);
    expect(talking(entity.bobTalking)).toEqual(["on", "off"]);
    const aliceOff = ha.changesOf(entity.aliceTalking, since).at(-1)!.t;
    expect(ha.changesOf(entity.bobTalking, since)[0].t).toBeGreaterThan(aliceOff);
    const eventTypes = ha.changesOf(entity.identified, since).map((c) => c.attrs?.event_type);
    expect(eventTypes).toEqual(["alice", "unrecognized", "bob"]);
    // A turn's final score changes the attributes only: keep the changes of the state itself.
    const speakers = ha
      .changesOf(entity.lastSpeaker, since)
      .filter((c) => c.new !== c.old)
      .map((c) => c.new);
    expect(speakers).toEqual(["Alice", "unrecognized", "Bob"]);
    // Home Assistant keeps a timestamp sensor's state to the second.
    const heard = Date.parse((await ha.state(entity.aliceLastHeard))?.state ?? "");
    expect(heard / 1000).toBeGreaterThanOrEqual(Math.floor(since));
  }, 180_000);

  it("mutes and unmutes from the switch in Home Assistant", async () => {
    await ha.call("switch", "turn_off", { entity_id: entity.listening });
    await waitForHealth(daemon, (h) => h.listening.listening === false, "muted");
    await ha.until("the switch off", async () => (await ha.state(entity.listening))?.state === "off");
    await ha.until(
      "audio input muted",
      async () => (await ha.state(entity.audio))?.state === "muted",
      15_000,
    );
    await ha.call("switch", "turn_on", { entity_id: entity.listening });
    await waitForHealth(daemon, (h) => h.listening.listening === true, "listening");
    await ha.until("the switch on", async () => (await ha.state(entity.listening))?.state === "on");
  }, 60_000);

  it("drops a removed speaker's entities", async () => {
    const res = await fetch(`${daemon.httpUrl}/api/speakers/bob`, { method: "DELETE" });
    expect(res.status).toBe(204);
    await ha.until(
      "Bob's entities gone",
      async () =>
        (await ha.state(entity.bobTalking)) === null && (await ha.state(entity.bobLastHeard)) === null,
    );
    const registry = await ha.ws<Array<{ entity_id: string }>>({ type: "config/entity_registry/list" });
    expect(
      registry.some((e) => e.entity_id === entity.bobTalking || e.entity_id === entity.bobLastHeard),
    ).toBe(false);
    expect(await ha.state(entity.aliceTalking)).not.toBeNull();
  }, 60_000);

  it("restores every entity and its state after Home Assistant restarts", async () => {
    const before = await ha.state(entity.lastSpeaker);
    await ha.restart();
    for (const id of [entity.aliceTalking, entity.lastSpeaker, entity.listening, entity.aliceLastHeard]) {
      const state = await ha.until(`${id} back and available`, async () => {
        const s = await ha.state(id);
        return s && s.state !== "unavailable" && s.state !== "unknown" ? s : null;
      });
      expect(state, id).toBeTruthy();
    }
    expect((await ha.state(entity.lastSpeaker))?.state).toBe(before?.state);
    expect((await ha.state(entity.aliceTalking))?.state).toBe("off");
  }, 300_000);

  it("goes unavailable within a second of voiceid stopping", async () => {
    const stoppedAt = nowS();
    daemon.child.kill("SIGTERM");
    await daemon.exited;
    const change = await ha.until("unavailable", async () =>
      ha.changesOf(entity.aliceTalking, stoppedAt).find((c) => c.new === "unavailable"),
    );
    console.info(`unavailable ${((change.t - stoppedAt) * 1000).toFixed(0)} ms after SIGTERM`);
    expect(change.t - stoppedAt).toBeLessThan(1);
    await daemon.dispose();
    daemon = await startDaemon();
    await ha.until("available again", async () => (await ha.state(entity.aliceTalking))?.state === "off");
  }, 120_000);

  it("after kill -9 mid-speech: unavailable within a second, and no false 'on' on restart", async () => {
    const since = nowS();
    daemon.feed(raw(streamedPieces().a1, 1), false);
    await ha.until(
      "Alice talking",
      async () => ha.changesOf(entity.aliceTalking, since).some((c) => c.new === "on"),
      60_000,
    );
    const killedAt = nowS();
    daemon.child.kill("SIGKILL");
    await daemon.exited;
    const gone = await ha.until("unavailable after the kill", async () =>
      ha.changesOf(entity.aliceTalking, killedAt).find((c) => c.new === "unavailable"),
    );
    console.info(`unavailable ${((gone.t - killedAt) * 1000).toFixed(0)} ms after SIGKILL`);
    expect(gone.t - killedAt).toBeLessThan(1);
    const restartedAt = nowS();
    daemon = await startDaemon();
    await ha.until(
      "Alice's sensor available again",
      async () => (await ha.state(entity.aliceTalking))?.state === "off",
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(ha.changesOf(entity.aliceTalking, restartedAt).map((c) => c.new)).toEqual(["off"]);
  }, 180_000);
});
