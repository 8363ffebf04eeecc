import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  HomeAssistantBridge,
  type HomeAssistantBridgeOptions,
  MqttConfigError,
} from "../../src/mqtt/bridge.js";
import type { DeviceDiscoveryPayload, DiscoveryComponent } from "../../src/mqtt/discovery.js";
import type { TimedDecision } from "../../src/mqtt/topics.js";
import { silentLogger } from "../../src/util/log.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "./recorder.js";

const alice = { id: "alice", name: "Alice" };
const bob = { id: "bob", name: "Bob" };

let broker: MosquittoBroker;
let roomCounter = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  broker = await startMosquitto();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
afterAll(async () => {
  await broker?.stop();
});

/** A unique room per test keeps retained messages of different tests apart on the shared broker. */
function newRoom(): string {
  roomCounter++;
  return `room${roomCounter}`;
}

function makeBridge(room: string, overrides: Partial<HomeAssistantBridgeOptions> = {}): HomeAssistantBridge {
  const bridge = new HomeAssistantBridge({
    url: broker.url,
    room,
    logger: silentLogger,
    reconnectMinMs: 100,
    reconnectMaxMs: 400,
    haStatusTopic: `ha-${room}/status`,
    softwareVersion: "0.1.0-test",
    ...overrides,
  });
  cleanups.push(() => bridge.stop());
  return bridge;
}

async function record(url: string, room: string, extra: string[] = []): Promise<MqttRecorder> {
  const recorder = await MqttRecorder.start(url, [
    `voiceid/${room}/#`,
    `homeassistant/device/voiceid_${room}/config`,
    ...extra,
  ]);
  cleanups.push(() => recorder.stop());
  return recorder;
}

async function eventually<T>(
  probe: () => T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function speech(overrides: Partial<TimedDecision> = {}): TimedDecision {
  return {
    type: "started",
    turnId: 1,
    speaker: "Alice",
    speakerId: "alice",
    reason: null,
    score: 0.9,
    nearestSpeaker: "Alice",
    nearestSpeakerId: "alice",
    margin: 0.3,
    threshold: 0.82,
    scores: { alice: 0.9, bob: 0.6 },
    startS: 1,
    durationS: 1.6,
    decidedAtS: 2.6,
    startedAt: new Date("2025-05-01T10:00:00.000Z"),
    ...overrides,
  };
}

const discoveryTopic = (room: string) => `homeassistant/device/voiceid_${room}/config`;
const parseDiscovery = (payload: string) => JSON.parse(payload) as DeviceDiscoveryPayload;

describe("HomeAssistantBridge against mosquitto", () => {
  it("on connect publishes retained availability, discovery and talking states", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const bridge = makeBridge(room);
    bridge.setSpeakers([alice, bob]);
    await bridge.start();

    const online = await recorder.next(`voiceid/${room}/status`);
    expect(online.payload).toBe("online");
    const discovery = parseDiscovery((await recorder.next(discoveryTopic(room))).payload);
    expect(Object.keys(discovery.cmps).sort()).toEqual([
      "alice_talking",
      "bob_talking",
      "last_speaker",
      "speaker_identified",
    ]);
    expect((discovery.cmps.speaker_identified as DiscoveryComponent).evt_typ).toEqual([
      "alice",
      "bob",
      "unknown",
    ]);
    expect(discovery.avty_t).toBe(`voiceid/${room}/status`);
    expect(discovery.dev.sw).toBe("0.1.0-test");
    for (const c of Object.values(discovery.cmps) as DiscoveryComponent[]) {
      expect(c.default_entity_id).toBeTruthy();
      expect("object_id" in c || "obj_id" in c).toBe(false);
    }
    await recorder.next(`voiceid/${room}/speaker/bob/talking`);

    const retained = await readRetained(broker.url, [`voiceid/${room}/#`, discoveryTopic(room)]);
    expect(retained.get(`voiceid/${room}/status`)).toBe("online");
    expect(retained.get(`voiceid/${room}/speaker/alice/talking`)).toBe("OFF");
    expect(retained.get(`voiceid/${room}/speaker/bob/talking`)).toBe("OFF");
    expect(parseDiscovery(retained.get(discoveryTopic(room)) ?? "{}").cmps.alice_talking).toBeDefined();

    expect(bridge.status().connected).toBe(true);
    // Counted on PUBACK, which may reach the bridge after the recorder got the message.
    await eventually(() => bridge.status().messagesPublished >= 4, "4 acknowledged publishes");
  });

  it("publishes events, retained talking state, identified events and the last speaker", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const bridge = makeBridge(room);
    bridge.setSpeakers([alice, bob]);
    await bridge.start();
    await recorder.next(`voiceid/${room}/speaker/bob/talking`);

    const talking = `voiceid/${room}/speaker/alice/talking`;
    const mark = recorder.messages.length;
    bridge.publishEvent(speech());
    const on = await recorder.waitFor((m) => m.topic === talking && m.payload === "ON", "alice ON");
    expect(on.retain).toBe(false); // live delivery; retention is checked below via a fresh subscriber
    expect((await readRetained(broker.url, [talking])).get(talking)).toBe("ON");

    const started = JSON.parse((await recorder.next(`voiceid/${room}/event`, mark)).payload);
    expect(started).toMatchObject({
      type: "started",
      speaker: "Alice",
      speakerId: "alice",
      room,
      reason: null,
    });
    expect(started.startedAt).toBe("2025-05-01T10:00:00.000Z");
    const identified = JSON.parse((await recorder.next(`voiceid/${room}/identified`, mark)).payload);
    expect(identified).toMatchObject({ event_type: "alice", speaker: "Alice", turnId: 1, room });

    bridge.publishEvent(speech({ type: "updated", score: 0.93 }));
    bridge.publishEvent(speech({ type: "stopped", score: 0.94, durationS: 2.5 }));
    await recorder.waitFor(
      (m) => m.topic === talking && m.payload === "OFF" && recorder.messages.indexOf(m) > mark,
      "alice OFF",
    );
    const events = recorder.on(`voiceid/${room}/event`).map((m) => JSON.parse(m.payload));
    expect(events.map((e) => e.type)).toEqual(["started", "updated", "stopped"]);
    expect(events[2].durationS).toBe(2.5);
    // Same speaker all segment long: one identified event only.
    expect(recorder.on(`voiceid/${room}/identified`)).toHaveLength(1);

    // Unidentified speech: "unknown" event type, last speaker null; too short speech: no identification.
    bridge.publishEvent(speech({ turnId: 2, speaker: null, speakerId: null, reason: "unknown", score: 0.5 }));
    bridge.publishEvent(
      speech({ turnId: 3, speaker: null, speakerId: null, reason: "too_short", score: null }),
    );
    await recorder.waitFor(
      (m) => m.topic === `voiceid/${room}/event` && m.payload.includes('"turnId":3'),
      "turn 3 event",
    );
    const identifiedTypes = recorder
      .on(`voiceid/${room}/identified`)
      .map((m) => JSON.parse(m.payload).event_type);
    expect(identifiedTypes).toEqual(["alice", "unknown"]);

    const retained = await readRetained(broker.url, [`voiceid/${room}/#`]);
    expect(retained.get(talking)).toBe("OFF");
    expect(JSON.parse(retained.get(`voiceid/${room}/last_speaker`) ?? "{}")).toMatchObject({
      speaker: null,
      speakerId: null,
      score: 0.5,
      turnId: 2,
    });
    expect(retained.has(`voiceid/${room}/event`)).toBe(false);
    expect(retained.has(`voiceid/${room}/identified`)).toBe(false);
  });

  it("removing a speaker sends {p} for its component, clears its retained state, then drops it", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const bridge = makeBridge(room);
    bridge.setSpeakers([alice, bob]);
    await bridge.start();
    await recorder.next(`voiceid/${room}/speaker/bob/talking`);
    const mark = recorder.messages.length;

    bridge.setSpeakers([alice]);
    const removal = parseDiscovery((await recorder.next(discoveryTopic(room), mark)).payload);
    expect(removal.cmps.bob_talking).toEqual({ p: "binary_sensor" });
    expect((removal.cmps.speaker_identified as DiscoveryComponent).evt_typ).toEqual(["alice", "unknown"]);
    const cleared = await recorder.next(`voiceid/${room}/speaker/bob/talking`, mark);
    expect(cleared.payload).toBe("");
    const retained = await readRetained(broker.url, [`voiceid/${room}/#`]);
    expect(retained.has(`voiceid/${room}/speaker/bob/talking`)).toBe(false);
    expect(retained.get(`voiceid/${room}/speaker/alice/talking`)).toBe("OFF");

    const mark2 = recorder.messages.length;
    bridge.setSpeakers([alice, { id: "carol", name: "Carol" }]);
    const next = parseDiscovery((await recorder.next(discoveryTopic(room), mark2)).payload);
    expect("bob_talking" in next.cmps).toBe(false);
    expect(next.cmps.carol_talking).toMatchObject({ p: "binary_sensor", name: "Carol talking" });
    expect((await recorder.next(`voiceid/${room}/speaker/carol/talking`, mark2)).payload).toBe("OFF");
  });

  it("a rename republishes discovery and the last speaker with the new name", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const bridge = makeBridge(room);
    bridge.setSpeakers([alice]);
    await bridge.start();
    bridge.publishEvent(speech());
    await recorder.next(`voiceid/${room}/last_speaker`);
    const mark = recorder.messages.length;

    bridge.setSpeakers([{ id: "alice", name: "Alicia" }]);
    const discovery = parseDiscovery((await recorder.next(discoveryTopic(room), mark)).payload);
    expect((discovery.cmps.alice_talking as DiscoveryComponent).name).toBe("Alicia talking");
    const last = JSON.parse((await recorder.next(`voiceid/${room}/last_speaker`, mark)).payload);
    expect(last).toMatchObject({ speaker: "Alicia", speakerId: "alice" });
  });

  it("republishes discovery and state when Home Assistant announces it is online", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const bridge = makeBridge(room);
    bridge.setSpeakers([alice]);
    await bridge.start();
    await recorder.next(`voiceid/${room}/speaker/alice/talking`);
    const mark = recorder.messages.length;

    const ha = await MqttRecorder.start(broker.url, [`ha-${room}/never`]);
    cleanups.push(() => ha.stop());
    await ha.publish(`ha-${room}/status`, "offline");
    await ha.publish(`ha-${room}/status`, "online");
    await recorder.next(discoveryTopic(room), mark);
    const talking = await recorder.next(`voiceid/${room}/speaker/alice/talking`, mark);
    expect(talking.payload).toBe("OFF");
    // Exactly one republish: the "offline" birth message does not trigger one.
    expect(recorder.messages.slice(mark).filter((m) => m.topic === discoveryTopic(room))).toHaveLength(1);
  });

  it("a clean stop leaves a retained 'offline' and is idempotent", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const bridge = makeBridge(room);
    await bridge.start();
    await recorder.next(`voiceid/${room}/status`);
    await bridge.stop();
    await bridge.stop();
    expect(bridge.status().connected).toBe(false);
    const retained = await readRetained(broker.url, [`voiceid/${room}/status`]);
    expect(retained.get(`voiceid/${room}/status`)).toBe("offline");
  });

  it("rejects a bad URL or unreadable TLS file at start with a clear error", async () => {
    await expect(makeBridge(newRoom(), { url: "not a url" }).start()).rejects.toThrow(MqttConfigError);
    await expect(makeBridge(newRoom(), { url: "http://127.0.0.1:1" }).start()).rejects.toThrow(
      /unsupported protocol/,
    );
    await expect(
      makeBridge(newRoom(), { url: "mqtts://127.0.0.1:1", tls: { ca: "/nonexistent/ca.pem" } }).start(),
    ).rejects.toThrow(/cannot read MQTT TLS CA file "\/nonexistent\/ca.pem"/);
  });
});

describe("HomeAssistantBridge when the broker comes and goes", () => {
  it("keeps retrying while the broker is down, then connects and flushes recent events", async () => {
    const dead = await startMosquitto();
    const { port, url } = dead;
    await dead.stop();
    const room = newRoom();
    const bridge = makeBridge(room, { url, offlineEventLimit: 2 });
    bridge.setSpeakers([alice]);
    await bridge.start(); // must not throw
    await eventually(() => bridge.status().reconnects >= 2, "two retries");
    const status = bridge.status();
    expect(status.connected).toBe(false);
    expect(status.lastError).toMatch(/ECONNREFUSED/);
    for (const id of [1, 2, 3]) {
      bridge.publishEvent(
        speech({ turnId: id, speaker: null, speakerId: null, reason: "too_short", score: null }),
      );
    }
    expect(bridge.status().queuedEvents).toBe(2);

    const revived = await startMosquitto({ port });
    cleanups.push(() => revived.stop());
    const recorder = await record(url, room);
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    await recorder.waitFor(
      (m) => m.topic === `voiceid/${room}/event` && m.payload.includes('"turnId":3'),
      "event 3",
    );
    const turns = recorder.on(`voiceid/${room}/event`).map((m) => JSON.parse(m.payload).turnId);
    expect(turns).toEqual([2, 3]); // 1 fell out of the bounded queue
    const retained = await readRetained(url, [`voiceid/${room}/#`, discoveryTopic(room)]);
    expect(retained.get(`voiceid/${room}/speaker/alice/talking`)).toBe("OFF");
    expect(retained.has(discoveryTopic(room))).toBe(true);
    expect(bridge.status()).toMatchObject({ connected: true, queuedEvents: 0 });
  });

  it("drops events that waited longer than offlineEventMaxAgeMs", async () => {
    const dead = await startMosquitto();
    const { port, url } = dead;
    await dead.stop();
    const room = newRoom();
    const bridge = makeBridge(room, { url, offlineEventMaxAgeMs: 50 });
    await bridge.start();
    bridge.publishEvent(
      speech({ turnId: 7, speaker: null, speakerId: null, reason: "too_short", score: null }),
    );
    await eventually(() => bridge.status().reconnects >= 2, "two retries"); // >= 100 + 200 ms later
    const revived = await startMosquitto({ port });
    cleanups.push(() => revived.stop());
    const recorder = await record(url, room);
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    bridge.publishEvent(
      speech({ turnId: 8, speaker: null, speakerId: null, reason: "too_short", score: null }),
    );
    await recorder.waitFor((m) => m.payload.includes('"turnId":8'), "new event");
    expect(recorder.on(`voiceid/${room}/event`).map((m) => JSON.parse(m.payload).turnId)).toEqual([8]);
  });

  it("by default sends no event older than 2 s after an outage, and the retained states tell the truth", async () => {
    const dead = await startMosquitto();
    const { port, url } = dead;
    await dead.stop();
    const room = newRoom();
    const lines: string[] = [];
    const logger = {
      ...silentLogger,
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      child: () => logger,
    };
    const bridge = makeBridge(room, { url, logger });
    bridge.setSpeakers([alice]);
    await bridge.start();
    // Alice talked and stopped while the broker was away.
    bridge.publishEvent(speech({ turnId: 11 }));
    bridge.publishEvent(speech({ turnId: 11, type: "stopped", durationS: 3 }));
    await new Promise((r) => setTimeout(r, 2300));
    const revived = await startMosquitto({ port });
    cleanups.push(() => revived.stop());
    const recorder = await record(url, room);
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    await eventually(() => bridge.status().droppedEvents > 0, "the stale events dropped");
    expect(recorder.on(`voiceid/${room}/event`)).toEqual([]);
    expect(recorder.on(`voiceid/${room}/identified`)).toEqual([]);
    const retained = await readRetained(url, [`voiceid/${room}/#`]);
    expect(retained.get(`voiceid/${room}/speaker/alice/talking`)).toBe("OFF");
    expect(JSON.parse(retained.get(`voiceid/${room}/last_speaker`) ?? "{}")).toMatchObject({
      speakerId: "alice",
    });
    // The first connection after failed attempts is a connection, not a reconnection.
    expect(lines).toContain("MQTT connected");
    expect(lines).not.toContain("MQTT reconnected");
  });

  it("after a broker restart reconnects and republishes availability, discovery and state", async () => {
    const own = await startMosquitto();
    cleanups.push(() => own.stop());
    const room = newRoom();
    const bridge = makeBridge(room, { url: own.url });
    bridge.setSpeakers([alice, bob]);
    await bridge.start();
    const first = await record(own.url, room);
    await first.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    bridge.publishEvent(speech()); // alice talking, last speaker alice
    await first.next(`voiceid/${room}/last_speaker`);

    await own.restart(); // no persistence: every retained message is gone
    await eventually(() => bridge.status().reconnects >= 1 && bridge.status().connected, "reconnect");
    const topics = [`voiceid/${room}/#`, discoveryTopic(room)];
    // The bridge publishes right after connecting; poll the broker until the last of it is back.
    const snapshot = await waitForRetained(own.url, topics, (r) =>
      r.has(`voiceid/${room}/last_speaker`) ? r : undefined,
    );
    expect(snapshot.get(`voiceid/${room}/status`)).toBe("online");
    expect(snapshot.get(`voiceid/${room}/speaker/alice/talking`)).toBe("ON");
    expect(snapshot.get(`voiceid/${room}/speaker/bob/talking`)).toBe("OFF");
    expect(JSON.parse(snapshot.get(`voiceid/${room}/last_speaker`) ?? "{}")).toMatchObject({
      speakerId: "alice",
    });
    expect(parseDiscovery(snapshot.get(discoveryTopic(room)) ?? "{}").cmps.bob_talking).toBeDefined();
  });

  it("stop() returns promptly when the broker is unreachable", async () => {
    const dead = await startMosquitto();
    await dead.stop();
    const bridge = makeBridge(newRoom(), { url: dead.url });
    await bridge.start();
    await eventually(() => bridge.status().reconnects >= 1, "a retry");
    await bridge.stop();
    expect(bridge.status().connected).toBe(false);
  });
});

async function waitForRetained<T>(
  url: string,
  topics: string[],
  accept: (retained: Map<string, string>) => T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = accept(await readRetained(url, topics));
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(`retained messages on ${topics.join(", ")} never became complete`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
