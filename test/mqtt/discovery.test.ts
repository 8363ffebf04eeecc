import { describe, expect, it } from "vitest";
import {
  buildComponents,
  type DeviceDiscoveryPayload,
  type DiscoveryComponent,
  type DiscoveryContext,
  DiscoveryState,
  deviceIdForRoom,
  discoveryTopic,
} from "../../src/mqtt/discovery.js";
import { buildTopics } from "../../src/mqtt/topics.js";

const ctx: DiscoveryContext = {
  topics: buildTopics("voiceid", "kitchen"),
  discoveryPrefix: "homeassistant",
  softwareVersion: "1.2.3",
};
const alice = { id: "alice", name: "Alice" };
const bob = { id: "bob", name: "Bob" };

function keysDeep(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysDeep(v, out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysDeep(v, out);
    }
  }
  return out;
}

describe("device discovery payload", () => {
  it("lives on <prefix>/device/voiceid_<room>/config", () => {
    expect(new DiscoveryState(ctx).topic).toBe("homeassistant/device/voiceid_kitchen/config");
    expect(discoveryTopic("ha", deviceIdForRoom("Living Room"))).toBe("ha/device/voiceid_living_room/config");
  });

  it("describes the device, origin, availability, the switch, diagnostics and two entities per speaker", () => {
    const state = new DiscoveryState(ctx);
    expect(state.setSpeakers([bob, alice]).changed).toBe(true);
    const p: DeviceDiscoveryPayload = state.payload();
    expect(p.dev).toEqual({
      ids: ["voiceid_kitchen"],
      name: "voiceid kitchen",
      mf: "voiceid",
      mdl: "Speaker identification",
      sw: "1.2.3",
    });
    expect(p.o).toEqual({ name: "voiceid", sw: "1.2.3" });
    expect(p.avty_t).toBe("voiceid/kitchen/status");
    expect(Object.keys(p.cmps).sort()).toEqual([
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
    expect(p.cmps.alice_last_heard).toEqual({
      p: "sensor",
      name: "Alice last heard",
      uniq_id: "voiceid_kitchen_alice_last_heard",
      default_entity_id: "sensor.voiceid_kitchen_alice_last_heard",
      stat_t: "voiceid/kitchen/speaker/alice/last_heard",
      dev_cla: "timestamp",
      ic: "mdi:account-clock",
    });
    expect(p.cmps.listening).toMatchObject({
      p: "switch",
      stat_t: "voiceid/kitchen/listening",
      cmd_t: "voiceid/kitchen/listening/set",
      pl_on: "ON",
      pl_off: "OFF",
    });
    for (const key of ["audio_input", "encoder", "last_error"]) {
      expect(p.cmps[key]).toMatchObject({
        p: "sensor",
        ent_cat: "diagnostic",
        stat_t: "voiceid/kitchen/diagnostics",
      });
    }
    expect(p.cmps.alice_talking).toEqual({
      p: "binary_sensor",
      name: "Alice talking",
      uniq_id: "voiceid_kitchen_alice_talking",
      default_entity_id: "binary_sensor.voiceid_kitchen_alice_talking",
      stat_t: "voiceid/kitchen/speaker/alice/talking",
      pl_on: "ON",
      pl_off: "OFF",
      ic: "mdi:account-voice",
    });
    const sensor = p.cmps.last_speaker as DiscoveryComponent;
    expect(sensor).toMatchObject({
      p: "sensor",
      stat_t: "voiceid/kitchen/last_speaker",
      json_attr_t: "voiceid/kitchen/last_speaker",
    });
    const event = p.cmps.speaker_identified as DiscoveryComponent;
    expect(event).toMatchObject({
      p: "event",
      stat_t: "voiceid/kitchen/identified",
      evt_typ: ["alice", "bob", "unrecognized"],
    });
  });

  it("gives every entity a default_entity_id and unique id, and never uses object_id", () => {
    const state = new DiscoveryState(ctx);
    state.setSpeakers([alice, { id: "Bob Smith", name: "Bob" }]);
    const p = state.payload();
    for (const c of Object.values(p.cmps) as DiscoveryComponent[]) {
      expect(c.default_entity_id).toMatch(new RegExp(`^${c.p}\\.[a-z0-9_]+$`));
      expect(c.uniq_id).toMatch(/^voiceid_kitchen_/);
    }
    const keys = keysDeep(p);
    expect(keys.has("object_id")).toBe(false);
    expect(keys.has("obj_id")).toBe(false);
    expect(new Set(Object.values(p.cmps).map((c) => (c as DiscoveryComponent).uniq_id)).size).toBe(10);
  });

  it("with no speakers still offers the last speaker, the event entity (with 'unrecognized'), the switch and diagnostics", () => {
    const components = buildComponents(ctx, []);
    expect(Object.keys(components).sort()).toEqual([
      "audio_input",
      "encoder",
      "last_error",
      "last_speaker",
      "listening",
      "speaker_identified",
    ]);
    expect(components.speaker_identified.evt_typ).toEqual(["unrecognized"]);
  });
});

describe("discovery diff", () => {
  it("reports no change when the speaker set is the same in another order", () => {
    const state = new DiscoveryState(ctx);
    state.setSpeakers([alice, bob]);
    expect(state.setSpeakers([bob, alice])).toEqual({ changed: false, removedSpeakerIds: [] });
  });

  it("announces a removed speaker once as {p} and drops it at the next change", () => {
    const state = new DiscoveryState(ctx);
    state.setSpeakers([alice, bob]);
    expect(state.setSpeakers([alice])).toEqual({ changed: true, removedSpeakerIds: ["bob"] });
    const removal = state.payload();
    expect(removal.cmps.bob_talking).toEqual({ p: "binary_sensor" });
    expect(removal.cmps.bob_last_heard).toEqual({ p: "sensor" });
    expect((removal.cmps.speaker_identified as DiscoveryComponent).evt_typ).toEqual([
      "alice",
      "unrecognized",
    ]);
    // Republishing (reconnect, HA restart) keeps the tombstone until something else changes.
    expect(state.payload().cmps.bob_talking).toEqual({ p: "binary_sensor" });

    state.setSpeakers([alice, { id: "carol", name: "Carol" }]);
    const next = state.payload();
    expect("bob_talking" in next.cmps).toBe(false);
    expect(next.cmps.carol_talking).toMatchObject({ p: "binary_sensor", name: "Carol talking" });
  });

  it("updates names on rename without changing ids", () => {
    const state = new DiscoveryState(ctx);
    state.setSpeakers([alice]);
    expect(state.setSpeakers([{ id: "alice", name: "Alicia" }])).toEqual({
      changed: true,
      removedSpeakerIds: [],
    });
    const c = state.payload().cmps.alice_talking as DiscoveryComponent;
    expect(c.name).toBe("Alicia talking");
    expect(c.uniq_id).toBe("voiceid_kitchen_alice_talking");
    expect(state.speakerNames().get("alice")).toBe("Alicia");
  });
});
