import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HA_ONLINE_QUIET_MS } from "../../src/mqtt/home-assistant.js";
import { asRf64 } from "../audio/make-wav.js";
import { exampleConfig } from "../helpers/cli.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { rawRequest } from "../http/helpers.js";
import { MqttRecorder, readRetained } from "../mqtt/recorder.js";
import {
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  spawnDaemon,
  waitForHealth,
  within,
} from "./helpers.js";

/**
 * Hostile input against the daemon as it ships (the bundle, the unit's node options, the example
 * configuration, a real broker): what must neither hang it nor show up as its errors.
 */

let broker: MosquittoBroker;
const daemons: DaemonProcess[] = [];
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  for (const d of daemons) await d.dispose();
  await broker?.stop();
});

describe("a room name longer than MQTT can carry", () => {
  it("is a configuration error at start: the daemon exits 1 at once instead of hanging", async () => {
    // Over 65,535 characters the last-will topic cannot be written: the daemon used to hang there.
    const daemon = await spawnDaemon({ mqttUrl: broker.url, room: "r".repeat(70_000) });
    daemons.push(daemon);
    expect(await within(daemon.exited, 15_000, "the daemon to exit", daemon)).toBe(1);
    expect(daemon.log()).toBe(
      `voiceid: invalid configuration (${exampleConfig}): room: must be at most 64 characters, got 70000 (from VOICEID_ROOM)\n`,
    );
  });
});

/** registry.json and every clip, byte for byte. */
async function dataSnapshot(dataDir: string): Promise<string> {
  const files: string[] = [];
  for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const hash = createHash("sha256")
      .update(await readFile(file))
      .digest("hex");
    files.push(`${path.relative(dataDir, file)} ${hash}`);
  }
  return files.sort().join("\n");
}

describe("round two of hostile input against the running daemon", () => {
  it("serves real uploads throughout, and leaves the registry, its clips and the retained topics as they were", async () => {
    const room = "hostile";
    const base = `voiceid/${room}`;
    const discovery = `homeassistant/device/voiceid_${room}/config`;
    const daemon = await spawnDaemon({ mqttUrl: broker.url, room });
    daemons.push(daemon);
    await waitForHealth(
      daemon,
      (h) => h.httpStatus === 200 && h.components.mqtt.state === "ok",
      "a healthy daemon",
    );
    const api = daemon.httpUrl;
    const clips = enrolmentClips();
    await enrolOverHttp(daemon, "Alice", clips.A);
    const retainedTopics = [`${base}/#`, discovery];
    const readState = async () =>
      JSON.stringify([
        await dataSnapshot(daemon.dataDir),
        [...(await readRetained(broker.url, retainedTopics))].sort(),
      ]);
    const before = await readState();
    const recorder = await MqttRecorder.start(broker.url, [discovery]);
    const mallory = await MqttRecorder.start(broker.url, ["never"]);
    try {
      const json = (method: string, route: string, body: string) =>
        fetch(`${api}${route}`, { method, body, headers: { "Content-Type": "application/json" } });
      const identify = () =>
        fetch(`${api}/api/identify`, {
          method: "POST",
          headers: { "Content-Type": "audio/wav" },
          body: clips.B,
        });

      // 1. Four trickled uploads: a real one is served at once, and they are cut off after a few seconds.
      const trickles = Array.from({ length: 4 }, () =>
        rawRequest(api, {
          send: [
            "POST /api/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 192044\r\n\r\n",
          ],
          trickle: { chunk: "RIFFxxxxxx", everyMs: 1000 },
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect((await identify()).status).toBe(200);
      // 2. A 19 MiB invalid name, created and renamed.
      const huge = JSON.stringify({ name: `${"x".repeat(19 * 1024 * 1024)}+` });
      for (const [method, route] of [
        ["POST", "/api/speakers"],
        ["PATCH", "/api/speakers/alice"],
      ]) {
        const res = await json(method, route, huge);
        expect(res.status).toBe(413);
        expect((await res.text()).length).toBeLessThan(200);
      }
      // (3, the room name, is the test above.) 4. A client hanging up mid-body.
      const quitter = rawRequest(api, {
        send: [
          "POST /api/speakers/alice/samples HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 192044\r\n\r\nRIFF",
        ],
      });
      await new Promise((r) => setTimeout(r, 200));
      quitter.hangUp();
      // 5. Twelve event streams.
      const streams = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const abort = new AbortController();
          const res = await fetch(`${api}/api/events`, { signal: abort.signal });
          expect(res.status).toBe(200);
          return abort;
        }),
      );
      // 6. RF64 without its ds64 chunk.
      const rf64 = asRf64(clips.B, { ds64: false });
      for (const route of ["/api/identify", "/api/speakers/alice/samples"]) {
        const res = await fetch(`${api}${route}`, {
          method: "POST",
          headers: { "Content-Type": "audio/wav" },
          body: rf64,
        });
        expect(res.status, route).toBe(422);
      }
      // 7. Look-alike and reserved names.
      for (const name of ["Ａｌｉｃｅ", "\u0410lice", "unrecognized", "Unknown"]) {
        expect(
          (await json("POST", "/api/speakers", JSON.stringify({ name }))).status,
          name,
        ).toBeGreaterThanOrEqual(400);
      }
      // 8 and 9. Junk where the last speaker goes, then 200 "online" messages from another client.
      const mark = recorder.messages.length;
      await mallory.publish(`${base}/last_speaker`, '{"speaker":"Mallory"}', true);
      await Promise.all(Array.from({ length: 200 }, () => mallory.publish("homeassistant/status", "online")));
      await recorder.next(discovery, mark);

      for (const answer of await Promise.all(trickles.map((t) => t.answer))) expect(answer.status).toBe(408);
      for (const abort of streams) abort.abort();
      await new Promise((r) => setTimeout(r, HA_ONLINE_QUIET_MS * 3));
      expect(recorder.messages.slice(mark)).toHaveLength(1);
      expect(await readState()).toBe(before);
      const diagnostics = JSON.parse(
        (await readRetained(broker.url, [`${base}/diagnostics`])).get(`${base}/diagnostics`) ?? "{}",
      );
      expect(diagnostics.lastError).toBeNull();
      expect(daemon.log()).not.toMatch(/ERROR|MaxListenersExceededWarning|Warning:/);
    } finally {
      await recorder.stop();
      await mallory.stop();
    }
  }, 60_000);
});
