import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HouseholdPresence } from "../../src/household/presence.js";
import { MqttConnection } from "../../src/mqtt/connection.js";
import { silentLogger } from "../../src/util/log.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "../mqtt/recorder.js";

/**
 * Where everyone was last heard, without household sharing: presence components of separate daemons
 * (each its own connection) on one real broker; the later decision wins, whichever arrives last.
 */

let broker: MosquittoBroker;
const stops: Array<() => Promise<void>> = [];
const people = [
  { id: "alice", name: "Alice" },
  { id: "bob", name: "Bob" },
];

async function node(): Promise<HouseholdPresence> {
  const connection = new MqttConnection({
    url: broker.url,
    will: { topic: "presence-test/will", payload: "offline" },
    logger: silentLogger,
  });
  const presence = new HouseholdPresence({
    connection,
    baseTopic: "voiceid",
    discoveryPrefix: "homeassistant",
    logger: silentLogger,
  });
  presence.setSpeakers(people);
  await connection.start();
  await presence.start();
  stops.push(async () => {
    await presence.stop();
    await connection.stop();
  });
  const deadline = Date.now() + 5000;
  while (!connection.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return presence;
}

beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  for (const stop of stops) await stop();
  await broker?.stop();
});

const retained = async (topic: string) => (await readRetained(broker.url, [topic])).get(topic);

describe("household presence", () => {
  it("follows a person from room to room; an older decision arriving later changes nothing", async () => {
    const [kitchen, living] = await Promise.all([node(), node()]);
    const recorder = await MqttRecorder.start(broker.url, ["voiceid/_household/presence/#"]);
    stops.push(() => recorder.stop());
    const t0 = Date.now();
    kitchen.heard("alice", "Kitchen", new Date(t0));
    await recorder.waitFor((m) => m.payload.includes("Kitchen"), "Kitchen");
    living.heard("alice", "Living Room", new Date(t0 + 1000));
    await recorder.waitFor((m) => m.payload.includes("Living Room"), "Living Room");
    expect(JSON.parse((await retained("voiceid/_household/presence/alice")) ?? "null")).toEqual({
      room: "Living Room",
      speaker: "Alice",
      at: new Date(t0 + 1000).toISOString(),
    });
    // The kitchen heard her earlier than that, but reports it only now: the living room stays.
    await new Promise((r) => setTimeout(r, 200));
    kitchen.heard("alice", "Kitchen", new Date(t0 + 500));
    await new Promise((r) => setTimeout(r, 300));
    expect(JSON.parse((await retained("voiceid/_household/presence/alice")) ?? "null").room).toBe(
      "Living Room",
    );
    expect(kitchen.where().alice.room).toBe("Living Room");
    // Someone not enrolled is nobody's business.
    kitchen.heard("mallory", "Kitchen", new Date(t0 + 2000));
    await new Promise((r) => setTimeout(r, 300));
    expect(recorder.messages.some((m) => m.topic.endsWith("/mallory"))).toBe(false);
  });

  it("announces one room sensor per person on the voiceid household device, and drops a removed person's", async () => {
    const presence = await node();
    const config = "homeassistant/device/voiceid_household/config";
    const first = JSON.parse((await retained(config)) ?? "null");
    expect(first.dev).toMatchObject({ ids: ["voiceid_household"], name: "voiceid household" });
    expect(first.cmps.bob_room).toMatchObject({
      p: "sensor",
      default_entity_id: "sensor.voiceid_bob_room",
      stat_t: "voiceid/_household/presence/bob",
      val_tpl: "{{ value_json.room }}",
    });
    presence.heard("bob", "Office", new Date());
    await new Promise((r) => setTimeout(r, 300));
    presence.setSpeakers(people.slice(0, 1));
    await new Promise((r) => setTimeout(r, 300));
    const after = JSON.parse((await retained(config)) ?? "null");
    expect(after.cmps.bob_room).toEqual({ p: "sensor" });
    expect(after.cmps.alice_room.p).toBe("sensor");
    expect(await retained("voiceid/_household/presence/bob")).toBeUndefined();
  });
});
