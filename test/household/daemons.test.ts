import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { newHouseholdKey, open, parseHouseholdKey, seal } from "../../src/household/crypto.js";
import { decodeMessage, encodeMessage } from "../../src/household/wire.js";
import {
  buildStream,
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
} from "../daemon/helpers.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder } from "../mqtt/recorder.js";
import { openBrowser } from "../web/helpers.js";

/**
 * Three real daemons (the shipped bundle, as the systemd unit runs it) in three rooms on one real broker,
 * sharing their registry through it.
 */

const KEY = newHouseholdKey();
const key = parseHouseholdKey(KEY, "test key");
const env = {
  VOICEID__HOUSEHOLD__SHARE: "true",
  VOICEID_HOUSEHOLD_KEY: KEY,
  VOICEID__MQTT__RECONNECT_MIN_MS: "200",
  VOICEID__MQTT__RECONNECT_MAX_MS: "1000",
};
const personTopic = (id: string) => `voiceid/_household/person/${id}`;

interface SpeakerView {
  id: string;
  name: string;
  samples: number;
}

interface HouseholdHealth {
  household?: {
    synced: boolean;
    rejected: number;
    recordsIn: number;
    recordsOut: number;
    nodes: { room: string; self: boolean }[];
  };
}

let broker: MosquittoBroker;
let client: MqttClient;
const dir = mkdtempSync(path.join(tmpdir(), "voiceid-household-"));
const daemons: Record<"A" | "B" | "C", DaemonProcess> = {} as never;
const all: DaemonProcess[] = [];
const recorders: MqttRecorder[] = [];

async function start(name: "A" | "B" | "C", room: string): Promise<DaemonProcess> {
  const daemon = await spawnDaemon({ mqttUrl: broker.url, room, env, dataDir: path.join(dir, name) });
  all.push(daemon);
  daemons[name] = daemon;
  await waitForHealth(
    daemon,
    (h) => (h as unknown as HouseholdHealth).household?.synced === true,
    `${name} in step`,
    60_000,
  );
  return daemon;
}

/**
 * After a long wait the pooled keep-alive socket may be closed by the daemon just as it is reused
 * ("other side closed"): one retry on a fresh socket.
 */
async function get(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch {
    return await fetch(url);
  }
}

async function speakers(daemon: DaemonProcess): Promise<SpeakerView[]> {
  const res = await get(`${daemon.httpUrl}/api/speakers`);
  const body = (await res.json()) as { speakers: Array<{ id: string; name: string; samples: unknown[] }> };
  return body.speakers.map((s) => ({ id: s.id, name: s.name, samples: s.samples.length }));
}

async function householdHealth(daemon: DaemonProcess): Promise<NonNullable<HouseholdHealth["household"]>> {
  const res = await get(`${daemon.httpUrl}/health`);
  return ((await res.json()) as HouseholdHealth).household as NonNullable<HouseholdHealth["household"]>;
}

/** Polls until every daemon's speaker list satisfies `accept`; returns how long it took. */
async function untilAll(
  nodes: DaemonProcess[],
  accept: (list: SpeakerView[]) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<number> {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  let last: SpeakerView[][] = [];
  while (Date.now() < deadline) {
    last = await Promise.all(nodes.map(speakers));
    if (last.every(accept)) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `timed out waiting for ${what}: ${JSON.stringify(last)}\n${nodes.map((n) => n.log()).join("\n")}`,
  );
}

async function retained(topic: string): Promise<Buffer> {
  const reader = await connectAsync(broker.url);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing retained on ${topic}`)), 5000);
      reader.on("message", (t, payload) => {
        if (t !== topic || payload.length === 0) return;
        clearTimeout(timer);
        resolve(Buffer.from(payload));
      });
      void reader.subscribeAsync(topic);
    });
  } finally {
    await reader.endAsync();
  }
}

beforeAll(async () => {
  broker = await startMosquitto();
  client = await connectAsync(broker.url);
  await Promise.all([start("A", "Kitchen"), start("B", "Living Room"), start("C", "Bedroom")]);
}, 120_000);

afterAll(async () => {
  await client?.endAsync();
  for (const r of recorders) await r.stop().catch(() => {});
  for (const d of all) await d.dispose();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("one household over the broker", () => {
  it("a person enrolled on A reaches B and C", async () => {
    const alice = await enrolOverHttp(daemons.A, "Alice", enrolmentClips().A);
    const ms = await untilAll(
      [daemons.B, daemons.C],
      (list) => list.some((s) => s.id === alice && s.samples === 1),
      "Alice on B and C",
    );
    console.log(`[household] enrolment on A in the registry of B and C after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000);
  });

  it("a rename on B shows on A, and its record on the broker is sealed", async () => {
    const before = await retained(personTopic("alice"));
    expect(before.includes(Buffer.from("Alice"))).toBe(false);
    const res = await fetch(`${daemons.B.httpUrl}/api/speakers/alice`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Alicia" }),
    });
    expect(res.status).toBe(200);
    const ms = await untilAll(
      [daemons.A, daemons.C],
      (list) => list.some((s) => s.name === "Alicia"),
      "the rename",
    );
    console.log(`[household] rename on B on A and C after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000);

    // A replay of the old record, retained again, changes nobody, and the broker gets the current one back.
    await client.publishAsync(personTopic("alice"), before, { retain: true, qos: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    for (const d of Object.values(daemons)) {
      expect((await speakers(d)).find((s) => s.id === "alice")?.name).toBe("Alicia");
    }
    const now = decodeMessage(open(key, personTopic("alice"), await retained(personTopic("alice"))));
    expect(now.kind === "person" && now.record.name?.v).toBe("Alicia");
  });

  it("forged messages (another key, garbage, a record on someone else's topic) change nothing and are counted", async () => {
    const rejectedBefore = (await householdHealth(daemons.A)).rejected;
    const forger = parseHouseholdKey(newHouseholdKey(), "forger");
    const forged = (id: string, name: string) => {
      const at = `${Date.now() + 60_000}`.padStart(13, "0");
      return encodeMessage({
        kind: "person",
        from: "ffffffffffff",
        room: "Hall",
        sentAt: new Date().toISOString(),
        record: { id, inc: `${at}-0000-ffffffffffff`, name: { t: `${at}-0001-ffffffffffff`, v: name } },
      });
    };
    await client.publishAsync(
      personTopic("mallory"),
      seal(forger, personTopic("mallory"), forged("mallory", "Mallory")),
      { retain: true, qos: 1 },
    );
    await client.publishAsync(
      personTopic("alice"),
      seal(forger, personTopic("alice"), forged("alice", "Mallory")),
      { qos: 1 },
    );
    await client.publishAsync(personTopic("eve"), Buffer.from("not sealed at all"), { qos: 1 });
    // Sealed with the right key for one topic, sent on another: the topic is authenticated too.
    await client.publishAsync(
      personTopic("alice"),
      seal(key, personTopic("mallory"), forged("alice", "Mallory")),
      { qos: 1 },
    );
    await waitForHealth(
      daemons.A,
      (h) => ((h as unknown as HouseholdHealth).household?.rejected ?? 0) >= rejectedBefore + 4,
      "4 rejected messages",
      10_000,
    );
    for (const d of Object.values(daemons)) {
      const list = await speakers(d);
      expect(list.map((s) => s.name)).toEqual(["Alicia"]);
    }
    const metrics = await (await fetch(`${daemons.A.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/voiceid_household_rejected_total [1-9]/);
    expect(metrics).toMatch(/voiceid_household_nodes 3/);
    await client.publishAsync(personTopic("mallory"), Buffer.alloc(0), { retain: true, qos: 1 });
  });

  it("goes quiet once in step: no node keeps answering another", async () => {
    const out = async () =>
      Promise.all(Object.values(daemons).map(async (d) => (await householdHealth(d)).recordsOut));
    const before = await out();
    await new Promise((r) => setTimeout(r, 2000));
    expect(await out()).toEqual(before);
  });

  it("/health lists the nodes seen with their rooms", async () => {
    const household = await householdHealth(daemons.B);
    expect(household.nodes.map((n) => n.room).sort()).toEqual(["Bedroom", "Kitchen", "Living Room"]);
    expect(household.nodes.filter((n) => n.self).map((n) => n.room)).toEqual(["Living Room"]);
    // And so does the web page, in a real browser.
    const browser = await openBrowser(daemons.B.httpUrl, encodePcm16Wav(new Float32Array(16_000), 16_000));
    try {
      const status = browser.page.locator("#status");
      await expect.poll(() => status.textContent(), { timeout: 15_000 }).toContain("Living Room (this node)");
      const text = (await status.textContent()) ?? "";
      expect(text).toMatch(/Householdin step: records in \d+, out \d+, rejected \d+/);
      expect(text).toMatch(/Kitchenlast heard/);
      expect(text).toMatch(/Bedroomlast heard/);
    } finally {
      await browser.close();
    }
  });

  it("a delete while C is down stays deleted after C returns", async () => {
    const bob = await enrolOverHttp(daemons.A, "Bob", enrolmentClips().B);
    await untilAll(Object.values(daemons), (list) => list.some((s) => s.id === bob), "Bob everywhere");
    daemons.C.child.kill("SIGTERM");
    await daemons.C.exited;
    const res = await fetch(`${daemons.A.httpUrl}/api/speakers/${bob}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    await untilAll([daemons.A, daemons.B], (list) => !list.some((s) => s.id === bob), "the delete on B");
    // C still has him on disk while it is down.
    expect(readFileSync(path.join(dir, "C", "registry.json"), "utf8")).toContain(`"${bob}"`);

    const c = await start("C", "Bedroom");
    await untilAll([c], (list) => !list.some((s) => s.id === bob), "C caught up");
    await new Promise((r) => setTimeout(r, 1000));
    for (const d of [daemons.A, daemons.B, c]) {
      expect((await speakers(d)).map((s) => s.id)).toEqual(["alice"]);
    }
    expect(readFileSync(path.join(dir, "C", "registry.json"), "utf8")).not.toContain('"Bob"');
    // What the broker retains for him is a tombstone: stamps, no name, no voiceprint.
    const tomb = decodeMessage(open(key, personTopic(bob), await retained(personTopic(bob))));
    expect(tomb.kind === "person" && Object.keys(tomb.record).sort()).toEqual(["del", "id", "inc"]);
  });

  it("B names the person enrolled on A from its own input, and her room sensor follows her from A's room to B's", async () => {
    const alice = "alice";
    const recorder = await MqttRecorder.start(broker.url, [
      "voiceid/living_room/event",
      "voiceid/_household/presence/#",
      "homeassistant/device/voiceid_household/config",
    ]);
    recorders.push(recorder);
    const presence = (room: string) => (m: { topic: string; payload: string }) =>
      m.topic === `voiceid/_household/presence/${alice}` &&
      m.payload !== "" &&
      JSON.parse(m.payload).room === room;
    const p = streamedPieces();
    // Each input ends after its stream, and its daemon with it: this test comes last.
    daemons.A.feed(buildStream([0.5, ["A", p.a1], 1]).wav);
    const kitchen = await recorder.waitFor(presence("Kitchen"), "Alicia heard in the kitchen", 30_000);
    daemons.B.feed(buildStream([0.5, ["A", p.a2], 1]).wav);
    const named = await recorder.waitFor(
      (m) => {
        if (m.topic !== "voiceid/living_room/event") return false;
        const e = JSON.parse(m.payload) as { type: string; speakerId: string | null };
        return e.type === "stopped" && e.speakerId !== null;
      },
      "B's decision",
      30_000,
    );
    expect(JSON.parse(named.payload)).toMatchObject({ speakerId: alice, room: "Living Room" });
    const living = await recorder.waitFor(presence("Living Room"), "Alicia heard in the living room", 30_000);
    expect(JSON.parse(living.payload).at > JSON.parse(kitchen.payload).at).toBe(true);
    expect(JSON.parse(living.payload).speaker).toBe("Alicia");

    const discovery = JSON.parse(
      (await recorder.waitFor((m) => m.topic.endsWith("voiceid_household/config"), "household device"))
        .payload,
    );
    expect(discovery.dev.name).toBe("voiceid household");
    expect(discovery.cmps.alice_room).toMatchObject({
      p: "sensor",
      default_entity_id: "sensor.voiceid_alice_room",
      stat_t: `voiceid/_household/presence/${alice}`,
    });
    // Bob was deleted: his sensor is announced as gone.
    expect(discovery.cmps.bob_room).toEqual({ p: "sensor" });
  });
});
