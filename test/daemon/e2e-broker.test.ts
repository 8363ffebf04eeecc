import { afterAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "../mqtt/recorder.js";
import {
  buildStream,
  type DaemonProcess,
  type EventPayload,
  enrolmentClips,
  enrolOverHttp,
  freePort,
  parseEvents,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
  within,
} from "./helpers.js";

/**
 * The broker is not the daemon's to rely on: it may restart under a running daemon or be down
 * when the daemon starts. Real mosquitto, real daemon process, real speech.
 */

// Reconnect quickly so the tests do not wait out the production backoff (1 s doubling to 30 s).
const FAST_RECONNECT = {
  VOICEID__MQTT__RECONNECT_MIN_MS: "200",
  VOICEID__MQTT__RECONNECT_MAX_MS: "1000",
};

const brokers: MosquittoBroker[] = [];
const recorders: MqttRecorder[] = [];
const daemons: DaemonProcess[] = [];

afterAll(async () => {
  for (const r of recorders) await r.stop().catch(() => {});
  for (const d of daemons) await d.dispose();
  for (const b of brokers) await b.stop();
});

const isEvent =
  (room: string, type: string, speakerId?: string) => (m: { topic: string; payload: string }) => {
    if (m.topic !== `voiceid/${room}/event`) return false;
    const e = JSON.parse(m.payload) as EventPayload;
    return e.type === type && (speakerId === undefined || e.speakerId === speakerId);
  };

describe("broker restarted during a run", () => {
  it("keeps identifying, reconnects, republishes online and discovery, and later events arrive", async () => {
    const room = "restart";
    const broker = await startMosquitto();
    brokers.push(broker);
    const before = await MqttRecorder.start(broker.url, [`voiceid/${room}/#`]);
    recorders.push(before);
    const daemon = await spawnDaemon({ mqttUrl: broker.url, room, realtime: true, env: FAST_RECONNECT });
    daemons.push(daemon);
    await waitForHealth(daemon, (h) => h.httpStatus === 200, "a healthy daemon");
    const clips = enrolmentClips();
    const alice = await enrolOverHttp(daemon, "Alice", clips.A);
    const bob = await enrolOverHttp(daemon, "Bob", clips.B);

    // Paced like a microphone: A from 0.5 s (~4.3 s), 5 s of silence, then 5 s of B.
    const p = streamedPieces();
    daemon.feed(buildStream([0.5, ["A", p.a1], 5, ["B", p.b.subarray(0, 16_000 * 5)], 1]).wav);
    await before.waitFor(isEvent(room, "stopped", alice), "A's stopped event", 20_000);

    // In the silence after A: the broker goes away and comes back empty (no persistence).
    await broker.restart();
    const after = await MqttRecorder.start(broker.url, [`voiceid/${room}/#`, "homeassistant/#"]);
    recorders.push(after);
    await after.waitFor(
      (m) => m.topic === `voiceid/${room}/status` && m.payload === "online",
      "online again",
      15_000,
    );
    const discovery = await after.waitFor(
      (m) => m.topic === `homeassistant/device/voiceid_${room}/config`,
      "discovery again",
      15_000,
    );
    expect(discovery.payload).toContain(alice);
    expect(discovery.payload).toContain(bob);

    await after.waitFor(isEvent(room, "updated", bob), "B named after the restart", 20_000);
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^voiceid_mqtt_connected 1$/m);
    expect(metrics).toMatch(/^voiceid_mqtt_reconnects_total [1-9]/m);
    expect(await within(daemon.exited, 30_000, "the daemon to exit", daemon), daemon.log()).toBe(0);

    const events = parseEvents(after.messages, `voiceid/${room}/event`);
    expect(events.filter((e) => e.type === "stopped").map((e) => e.speakerId)).toContain(bob);
    expect(events.every((e) => e.speakerId !== alice)).toBe(true);
    // B talked after the restart: its talking state went ON on the new broker and ended OFF.
    const bobTalking = after.on(`voiceid/${room}/speaker/${encodeURIComponent(bob)}/talking`);
    expect(bobTalking.map((m) => m.payload)).toContain("ON");
    expect(daemon.log()).toMatch(/MQTT reconnected/);
    const state = await readRetained(broker.url, [`voiceid/${room}/#`]);
    expect(state.get(`voiceid/${room}/status`)).toBe("offline");
    expect(state.get(`voiceid/${room}/speaker/${encodeURIComponent(bob)}/talking`)).toBe("OFF");
    expect(JSON.parse(state.get(`voiceid/${room}/last_speaker`) ?? "{}")).toMatchObject({ speakerId: bob });
  });
});

describe("broker down when the daemon starts", () => {
  it("runs without it (health degraded, 503), then connects when it comes up (health ok)", async () => {
    const room = "late";
    const port = await freePort();
    const daemon = await spawnDaemon({
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      room,
      env: FAST_RECONNECT,
    });
    daemons.push(daemon);
    const degraded = await waitForHealth(daemon, (h) => h.components?.mqtt !== undefined, "a health report");
    expect(degraded.httpStatus).toBe(503);
    expect(degraded.status).toBe("degraded");
    expect(degraded.components.mqtt.state).toBe("degraded");
    for (const part of ["audio", "vad", "model"]) expect(degraded.components[part].state).toBe("ok");
    // Enrolment does not need the broker.
    const alice = await enrolOverHttp(daemon, "Alice", enrolmentClips().A);

    const broker = await startMosquitto({ port });
    brokers.push(broker);
    const recorder = await MqttRecorder.start(broker.url, [`voiceid/${room}/#`, "homeassistant/#"]);
    recorders.push(recorder);
    const ok = await waitForHealth(daemon, (h) => h.httpStatus === 200, "health ok once the broker is up");
    expect(ok.components.mqtt.state).toBe("ok");
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    await recorder.waitFor(
      (m) => m.topic === `homeassistant/device/voiceid_${room}/config` && m.payload.includes(alice),
      "discovery with the speaker enrolled while offline",
    );

    daemon.feed(buildStream([0.5, ["A", streamedPieces().a1], 1]).wav);
    expect(await within(daemon.exited, 30_000, "the daemon to exit", daemon), daemon.log()).toBe(0);
    const stopped = parseEvents(recorder.messages, `voiceid/${room}/event`).filter(
      (e) => e.type === "stopped",
    );
    expect(stopped.map((e) => e.speakerId)).toEqual([alice]);
    const state = await readRetained(broker.url, [`voiceid/${room}/status`]);
    expect(state.get(`voiceid/${room}/status`)).toBe("offline");
  });
});
