import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MqttConfigError, MqttConnection, type MqttConnectionOptions } from "../../src/mqtt/connection.js";
import type { DeviceDiscoveryPayload, DiscoveryComponent } from "../../src/mqtt/discovery.js";
import {
  availabilityWill,
  HA_ONLINE_MAX_WAIT_MS,
  HA_ONLINE_QUIET_MS,
  HomeAssistantPublisher,
} from "../../src/mqtt/home-assistant.js";
import { buildTopics, type TimedDecision } from "../../src/mqtt/topics.js";
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

interface Link {
  connection: MqttConnection;
  ha: HomeAssistantPublisher;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Wired as the daemon wires them: the publisher on one connection whose last will is "offline". */
function makeLink(room: string, overrides: Partial<MqttConnectionOptions> = {}): Link {
  const topics = buildTopics("voiceid", room);
  const connection = new MqttConnection({
    url: broker.url,
    will: availabilityWill(topics),
    logger: silentLogger,
    reconnectMinMs: 100,
    reconnectMaxMs: 400,
    ...overrides,
  });
  const ha = new HomeAssistantPublisher({
    connection,
    topics,
    haStatusTopic: `ha-${room}/status`,
    softwareVersion: "0.1.0-test",
    logger: overrides.logger ?? silentLogger,
  });
  const link: Link = {
    connection,
    ha,
    start: async () => {
      await connection.start();
      await ha.start();
    },
    stop: async () => {
      await ha.stop();
      await connection.stop();
    },
  };
  cleanups.push(() => link.stop());
  return link;
}

/** A started link with `speakers`, a recorder on its room, once every initial state is out. */
async function connectedLink(
  speakers: { id: string; name: string }[],
): Promise<{ room: string; recorder: MqttRecorder; link: Link }> {
  const room = newRoom();
  const recorder = await record(broker.url, room);
  const link = makeLink(room);
  link.ha.setSpeakers(speakers);
  await link.start();
  // Availability comes last, after discovery and every state.
  await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
  return { room, recorder, link };
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
    voice: null,
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

describe("HomeAssistantPublisher against mosquitto", () => {
  it("on connect publishes retained availability, discovery and talking states", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const link = makeLink(room);
    link.ha.setSpeakers([alice, bob]);
    await link.start();

    const online = await recorder.next(`voiceid/${room}/status`);
    expect(online.payload).toBe("online");
    const discovery = parseDiscovery((await recorder.next(discoveryTopic(room))).payload);
    expect(Object.keys(discovery.cmps).sort()).toEqual([
      "alice_last_heard",
      "alice_talking",
      "audio_input",
      "bob_last_heard",
      "bob_talking",
      "encoder",
      "last_error",
      "last_speaker",
      "listening",
      "speaker_identified",
    ]);
    expect((discovery.cmps.speaker_identified as DiscoveryComponent).evt_typ).toEqual([
      "alice",
      "bob",
      "unrecognized",
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

    expect(link.connection.status().connected).toBe(true);
    // Counted on PUBACK, which may reach the connection after the recorder got the message.
    await eventually(() => link.connection.status().messagesPublished >= 4, "4 acknowledged publishes");
  });

  it("publishes events, retained talking state, identified events and the last speaker", async () => {
    const { room, recorder, link } = await connectedLink([alice, bob]);

    const talking = `voiceid/${room}/speaker/alice/talking`;
    const mark = recorder.messages.length;
    link.ha.publishEvent(speech());
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

    link.ha.publishEvent(speech({ type: "updated", score: 0.93 }));
    link.ha.publishEvent(speech({ type: "stopped", score: 0.94, durationS: 2.5 }));
    await recorder.waitFor(
      (m) => m.topic === talking && m.payload === "OFF" && recorder.messages.indexOf(m) > mark,
      "alice OFF",
    );
    const events = recorder.on(`voiceid/${room}/event`).map((m) => JSON.parse(m.payload));
    expect(events.map((e) => e.type)).toEqual(["started", "updated", "stopped"]);
    expect(events[2].durationS).toBe(2.5);
    // Same speaker all segment long: one identified event only.
    expect(recorder.on(`voiceid/${room}/identified`)).toHaveLength(1);

    // Unidentified speech: "unrecognized" event type, last speaker null; too short speech: no identification.
    link.ha.publishEvent(
      speech({ turnId: 2, speaker: null, speakerId: null, reason: "unknown", score: 0.5 }),
    );
    link.ha.publishEvent(
      speech({ turnId: 3, speaker: null, speakerId: null, reason: "too_short", score: null }),
    );
    await recorder.waitFor(
      (m) => m.topic === `voiceid/${room}/event` && m.payload.includes('"turnId":3'),
      "turn 3 event",
    );
    const identifiedTypes = recorder
      .on(`voiceid/${room}/identified`)
      .map((m) => JSON.parse(m.payload).event_type);
    expect(identifiedTypes).toEqual(["alice", "unrecognized"]);

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

  it("a stranger's turn that another voice ended is reported on the event topic only, never as unrecognized", async () => {
    const { room, recorder, link } = await connectedLink([alice, bob]);
    const mark = recorder.messages.length;
    const stranger = { turnId: 7, speaker: null, speakerId: null, score: 0.2, startS: 10, durationS: 3.2 };
    // As the tracker decides it: the stranger's turn pending, then ended "unknown" as Alice took over.
    link.ha.publishEvent(speech({ ...stranger, type: "started", reason: "pending", decidedAtS: 10 }));
    link.ha.publishEvent(speech({ ...stranger, type: "stopped", reason: "unknown", decidedAtS: 13.8 }));
    link.ha.publishEvent(speech({ turnId: 8, type: "started", startS: 13.2, decidedAtS: 13.8 }));
    link.ha.publishEvent(
      speech({ turnId: 8, type: "stopped", startS: 13.2, durationS: 4, decidedAtS: 18.7 }),
    );
    await recorder.waitFor(
      (m) =>
        m.topic === `voiceid/${room}/event` &&
        m.payload.includes('"turnId":8') &&
        m.payload.includes("stopped"),
      "turn 8 stopped",
    );
    const events = recorder.on(`voiceid/${room}/event`).map((m) => JSON.parse(m.payload));
    expect(events.filter((e) => e.turnId === 7).map((e) => [e.type, e.reason])).toEqual([
      ["started", "pending"],
      ["stopped", "unknown"],
    ]);
    const identified = recorder.on(`voiceid/${room}/identified`).map((m) => JSON.parse(m.payload).event_type);
    expect(identified).toEqual(["alice"]);
    const lastSpeakers = recorder
      .on(`voiceid/${room}/last_speaker`)
      .filter((m) => recorder.messages.indexOf(m) > mark)
      .map((m) => JSON.parse(m.payload).speakerId);
    expect(lastSpeakers).toEqual(["alice", "alice"]);
  });

  it("removing a speaker sends {p} for its component, clears its retained state, then drops it", async () => {
    const { room, recorder, link } = await connectedLink([alice, bob]);
    const mark = recorder.messages.length;

    link.ha.setSpeakers([alice]);
    const removal = parseDiscovery((await recorder.next(discoveryTopic(room), mark)).payload);
    expect(removal.cmps.bob_talking).toEqual({ p: "binary_sensor" });
    expect(removal.cmps.bob_last_heard).toEqual({ p: "sensor" });
    expect((removal.cmps.speaker_identified as DiscoveryComponent).evt_typ).toEqual([
      "alice",
      "unrecognized",
    ]);
    const cleared = await recorder.next(`voiceid/${room}/speaker/bob/talking`, mark);
    expect(cleared.payload).toBe("");
    expect((await recorder.next(`voiceid/${room}/speaker/bob/last_heard`, mark)).payload).toBe("");
    const retained = await readRetained(broker.url, [`voiceid/${room}/#`]);
    expect(retained.has(`voiceid/${room}/speaker/bob/talking`)).toBe(false);
    expect(retained.get(`voiceid/${room}/speaker/alice/talking`)).toBe("OFF");

    const mark2 = recorder.messages.length;
    link.ha.setSpeakers([alice, { id: "carol", name: "Carol" }]);
    const next = parseDiscovery((await recorder.next(discoveryTopic(room), mark2)).payload);
    expect("bob_talking" in next.cmps).toBe(false);
    expect(next.cmps.carol_talking).toMatchObject({ p: "binary_sensor", name: "Carol talking" });
    expect((await recorder.next(`voiceid/${room}/speaker/carol/talking`, mark2)).payload).toBe("OFF");
  });

  it("a rename republishes discovery and the last speaker with the new name", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const link = makeLink(room);
    link.ha.setSpeakers([alice]);
    await link.start();
    link.ha.publishEvent(speech());
    await recorder.next(`voiceid/${room}/last_speaker`);
    const mark = recorder.messages.length;

    link.ha.setSpeakers([{ id: "alice", name: "Alicia" }]);
    const discovery = parseDiscovery((await recorder.next(discoveryTopic(room), mark)).payload);
    expect((discovery.cmps.alice_talking as DiscoveryComponent).name).toBe("Alicia talking");
    const last = JSON.parse((await recorder.next(`voiceid/${room}/last_speaker`, mark)).payload);
    expect(last).toMatchObject({ speaker: "Alicia", speakerId: "alice" });
  });

  it("republishes discovery and state when Home Assistant announces it is online", async () => {
    const { room, recorder } = await connectedLink([alice]);
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

  it("answers a burst of 200 'online' messages from any client with one republish", async () => {
    const people = Array.from({ length: 23 }, (_, i) => ({ id: `p${i}`, name: `Person ${i}` }));
    const { room, recorder } = await connectedLink(people);
    // What one republish is: everything the connect published (discovery, states, availability last).
    const once = recorder.messages.map((m) => m.topic).sort();
    expect(once).toHaveLength(1 + 23 + 3);
    const mark = recorder.messages.length;

    const noise = await MqttRecorder.start(broker.url, [`ha-${room}/never`]);
    cleanups.push(() => noise.stop());
    await Promise.all(Array.from({ length: 200 }, () => noise.publish(`ha-${room}/status`, "online")));
    await recorder.next(`voiceid/${room}/status`, mark);
    // Nothing more after the quiet period.
    await new Promise((r) => setTimeout(r, HA_ONLINE_QUIET_MS * 3));
    expect(
      recorder.messages
        .slice(mark)
        .map((m) => m.topic)
        .sort(),
    ).toEqual(once);
  });

  it("answers a steady stream of 'online' messages with one republish per few seconds", async () => {
    const { room, recorder } = await connectedLink([alice]);
    const mark = recorder.messages.length;
    const noise = await MqttRecorder.start(broker.url, [`ha-${room}/never`]);
    cleanups.push(() => noise.stop());
    const started = Date.now();
    while (Date.now() - started < HA_ONLINE_MAX_WAIT_MS + 1500) {
      await noise.publish(`ha-${room}/status`, "online");
      await new Promise((r) => setTimeout(r, HA_ONLINE_QUIET_MS / 5));
    }
    // The first republish came no later than the maximum wait, despite the noise never pausing.
    const republishes = recorder.messages.slice(mark).filter((m) => m.topic === discoveryTopic(room));
    expect(republishes).toHaveLength(1);
  }, 20_000);

  it("replaces a last speaker another client retained, on connect and on every republish", async () => {
    const room = newRoom();
    const mallory = await MqttRecorder.start(broker.url, [`never-${room}`]);
    cleanups.push(() => mallory.stop());
    const topic = `voiceid/${room}/last_speaker`;
    await mallory.publish(topic, JSON.stringify({ speaker: "Mallory" }), true);
    const noLastSpeaker = { speaker: null, speakerId: null, score: null, turnId: null, at: null };

    const link = makeLink(room);
    link.ha.setSpeakers([alice]);
    await link.start();
    await waitForRetained(broker.url, [topic], (r) =>
      r.get(topic) === JSON.stringify(noLastSpeaker) ? r : undefined,
    );
    // Again while connected: Home Assistant's next "online" (its restart) corrects it too.
    await mallory.publish(topic, JSON.stringify({ speaker: "Mallory" }), true);
    await mallory.publish(`ha-${room}/status`, "online");
    await waitForRetained(broker.url, [topic], (r) =>
      r.get(topic) === JSON.stringify(noLastSpeaker) ? r : undefined,
    );
    // With a last speaker of its own, that one is what stays.
    link.ha.publishEvent(speech());
    await waitForRetained(broker.url, [topic], (r) =>
      JSON.parse(r.get(topic) ?? "{}").speakerId === "alice" ? r : undefined,
    );
  });

  it("publishes every state before availability, so a crash's stale 'ON' is replaced while unavailable", async () => {
    const room = newRoom();
    // What a kill -9 while Alice talked leaves on the broker: her retained ON and the will's offline.
    const crashed = await MqttRecorder.start(broker.url, [`never-${room}`]);
    cleanups.push(() => crashed.stop());
    await crashed.publish(`voiceid/${room}/speaker/alice/talking`, "ON", true);
    await crashed.publish(`voiceid/${room}/status`, "offline", true);

    const recorder = await record(broker.url, room);
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status`, "the retained offline");
    const mark = recorder.messages.length;
    const link = makeLink(room);
    link.ha.setSpeakers([alice]);
    link.ha.setDiagnostics({ audio: "running", encoder: "test-encoder", lastError: null, lastErrorAt: null });
    await link.start();
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    const after = recorder.messages.slice(mark).map((m) => m.topic);
    const online = after.indexOf(`voiceid/${room}/status`);
    expect(online).toBe(after.length - 1);
    for (const topic of [
      discoveryTopic(room),
      `voiceid/${room}/speaker/alice/talking`,
      `voiceid/${room}/listening`,
      `voiceid/${room}/diagnostics`,
    ]) {
      expect(after.indexOf(topic), topic).toBeGreaterThanOrEqual(0);
      expect(after.indexOf(topic), topic).toBeLessThan(online);
    }
    const seen = recorder.messages
      .slice(mark)
      .filter((m) => m.topic === `voiceid/${room}/speaker/alice/talking`);
    expect(seen.map((m) => m.payload)).toEqual(["OFF"]);
  });

  it("sends a person's last-heard time when they are named and when their turn ends", async () => {
    const { room, recorder, link } = await connectedLink([alice, bob]);
    const before = Date.now();
    link.ha.publishEvent(speech({ type: "started", speaker: null, speakerId: null, reason: "pending" }));
    link.ha.publishEvent(speech({ type: "updated" }));
    const first = await recorder.next(`voiceid/${room}/speaker/alice/last_heard`);
    expect(first.retain).toBe(false);
    expect(Date.parse(first.payload)).toBeGreaterThanOrEqual(before - 5);
    expect(first.payload).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const mark = recorder.messages.length;
    await new Promise((r) => setTimeout(r, 20));
    link.ha.publishEvent(speech({ type: "stopped", durationS: 2 }));
    const last = await recorder.next(`voiceid/${room}/speaker/alice/last_heard`, mark);
    expect(Date.parse(last.payload)).toBeGreaterThan(Date.parse(first.payload));
    const retained = await readRetained(broker.url, [`voiceid/${room}/#`]);
    expect(retained.get(`voiceid/${room}/speaker/alice/last_heard`)).toBe(last.payload);
    expect(retained.has(`voiceid/${room}/speaker/bob/last_heard`)).toBe(false);
  });

  it("passes the switch's ON/OFF commands on, and re-asserts its state for anything else", async () => {
    const room = newRoom();
    const recorder = await record(broker.url, room);
    const link = makeLink(room);
    const commands: boolean[] = [];
    link.ha.onListeningCommand((on) => {
      commands.push(on);
      link.ha.setListening(on);
    });
    await link.start();
    await recorder.next(`voiceid/${room}/status`);
    expect(
      (await readRetained(broker.url, [`voiceid/${room}/listening`])).get(`voiceid/${room}/listening`),
    ).toBe("ON");
    const ha = await MqttRecorder.start(broker.url, [`never-${room}`]);
    cleanups.push(() => ha.stop());
    await ha.publish(`voiceid/${room}/listening/set`, "OFF");
    await recorder.waitFor(
      (m) => m.topic === `voiceid/${room}/listening` && m.payload === "OFF",
      "OFF state",
    );
    const mark = recorder.messages.length;
    await ha.publish(`voiceid/${room}/listening/set`, "maybe");
    const reasserted = await recorder.next(`voiceid/${room}/listening`, mark);
    expect(reasserted.payload).toBe("OFF");
    const mark2 = recorder.messages.length;
    await ha.publish(`voiceid/${room}/listening/set`, "on");
    expect((await recorder.next(`voiceid/${room}/listening`, mark2)).payload).toBe("ON");
    expect(commands).toEqual([false, true]);
  });

  it("publishes diagnostics once per change", async () => {
    const { room, recorder, link } = await connectedLink([]);
    const d = { audio: "running", encoder: "resemblyzer", lastError: null, lastErrorAt: null };
    link.ha.setDiagnostics(d);
    link.ha.setDiagnostics({ ...d });
    link.ha.setDiagnostics({
      ...d,
      audio: "retrying",
      lastError: "recorder exited",
      lastErrorAt: "2026-01-01T00:00:00.000Z",
    });
    await recorder.waitFor((m) => m.payload.includes("recorder exited"), "the second diagnostics");
    const sent = recorder.on(`voiceid/${room}/diagnostics`).map((m) => JSON.parse(m.payload).audio);
    expect(sent).toEqual(["running", "retrying"]);
  });

  it("a clean stop leaves a retained 'offline' and is idempotent", async () => {
    const { room, link } = await connectedLink([]);
    await link.stop();
    await link.stop();
    expect(link.connection.status().connected).toBe(false);
    const retained = await readRetained(broker.url, [`voiceid/${room}/status`]);
    expect(retained.get(`voiceid/${room}/status`)).toBe("offline");
  });

  it("rejects a bad URL or unreadable TLS file at start with a clear error", async () => {
    await expect(makeLink(newRoom(), { url: "not a url" }).start()).rejects.toThrow(MqttConfigError);
    await expect(makeLink(newRoom(), { url: "http://127.0.0.1:1" }).start()).rejects.toThrow(
      /unsupported protocol/,
    );
    await expect(
      makeLink(newRoom(), { url: "mqtts://127.0.0.1:1", tls: { ca: "/nonexistent/ca.pem" } }).start(),
    ).rejects.toThrow(/cannot read MQTT TLS CA file "\/nonexistent\/ca.pem"/);
  });
});

describe("MqttConnection + publisher when the broker comes and goes", () => {
  it("keeps retrying while the broker is down, then connects and flushes recent events", async () => {
    const dead = await startMosquitto();
    const { port, url } = dead;
    await dead.stop();
    const room = newRoom();
    const link = makeLink(room, { url, offlineEventLimit: 2 });
    link.ha.setSpeakers([alice]);
    await link.start(); // must not throw
    await eventually(() => link.connection.status().reconnects >= 2, "two retries");
    const status = link.connection.status();
    expect(status.connected).toBe(false);
    expect(status.lastError).toMatch(/ECONNREFUSED/);
    for (const id of [1, 2, 3]) {
      link.ha.publishEvent(
        speech({ turnId: id, speaker: null, speakerId: null, reason: "too_short", score: null }),
      );
    }
    expect(link.connection.status().queuedEvents).toBe(2);

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
    expect(link.connection.status()).toMatchObject({ connected: true, queuedEvents: 0 });
  });

  it("drops events that waited longer than offlineEventMaxAgeMs", async () => {
    const dead = await startMosquitto();
    const { port, url } = dead;
    await dead.stop();
    const room = newRoom();
    const link = makeLink(room, { url, offlineEventMaxAgeMs: 50 });
    await link.start();
    link.ha.publishEvent(
      speech({ turnId: 7, speaker: null, speakerId: null, reason: "too_short", score: null }),
    );
    await eventually(() => link.connection.status().reconnects >= 2, "two retries"); // >= 100 + 200 ms later
    const revived = await startMosquitto({ port });
    cleanups.push(() => revived.stop());
    const recorder = await record(url, room);
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    link.ha.publishEvent(
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
    const link = makeLink(room, { url, logger });
    link.ha.setSpeakers([alice]);
    await link.start();
    // Alice talked and stopped while the broker was away.
    link.ha.publishEvent(speech({ turnId: 11 }));
    link.ha.publishEvent(speech({ turnId: 11, type: "stopped", durationS: 3 }));
    await new Promise((r) => setTimeout(r, 2300));
    const revived = await startMosquitto({ port });
    cleanups.push(() => revived.stop());
    const recorder = await record(url, room);
    await recorder.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    await eventually(() => link.connection.status().droppedEvents > 0, "the stale events dropped");
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
    const link = makeLink(room, { url: own.url });
    link.ha.setSpeakers([alice, bob]);
    await link.start();
    const first = await record(own.url, room);
    await first.waitFor((m) => m.topic === `voiceid/${room}/status` && m.payload === "online", "online");
    link.ha.publishEvent(speech()); // alice talking, last speaker alice
    await first.next(`voiceid/${room}/last_speaker`);

    await own.restart(); // no persistence: every retained message is gone
    await eventually(
      () => link.connection.status().reconnects >= 1 && link.connection.status().connected,
      "reconnect",
    );
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
    const link = makeLink(newRoom(), { url: dead.url });
    await link.start();
    await eventually(() => link.connection.status().reconnects >= 1, "a retry");
    await link.stop();
    expect(link.connection.status().connected).toBe(false);
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
