import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { slugify } from "../../src/mqtt/topics.js";
import {
  buildStream,
  type DaemonProcess,
  enrolmentClips,
  SAMPLE_RATE,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
  within,
} from "../daemon/helpers.js";
import { runVoiceid } from "../helpers/cli.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { HA_MQTT_PORT, HomeAssistant, homeAssistantMissing } from "./home-assistant.js";

/**
 * One daemon with two inputs (`inputs:`) in a real Home Assistant: two devices, one per room, and the
 * household's per-person room sensor following a person from one room to the other.
 */
const missing = homeAssistantMissing();
const run = Date.now().toString(36);
const rooms = [`HA Kitchen ${run}`, `HA Living ${run}`];
const devices = rooms.map((r) => `voiceid_${slugify(r)}`);
const talking = devices.map((d) => `binary_sensor.${d}_alice_talking`);
const aliceRoom = "sensor.voiceid_alice_room";

let broker: MosquittoBroker;
let ha: HomeAssistant;
let daemon: DaemonProcess | null = null;
const dir = mkdtempSync(path.join(tmpdir(), "voiceid-ha-rooms-"));
const dataDir = path.join(dir, "data");
const nowS = () => Date.now() / 1000;

function file(name: string, bytes: Uint8Array | string): string {
  const at = path.join(dir, name);
  writeFileSync(at, bytes);
  return at;
}

async function startDaemon(kitchen: Uint8Array, living: Uint8Array, name: string): Promise<DaemonProcess> {
  const config = file(
    `${name}.yaml`,
    [
      "audio:",
      "  realtime: true",
      "inputs:",
      `  - { room: "${rooms[0]}", source: file, file: ${file(`${name}-kitchen.wav`, kitchen)} }`,
      `  - { room: "${rooms[1]}", source: file, file: ${file(`${name}-living.wav`, living)} }`,
    ].join("\n"),
  );
  const d = await spawnDaemon({ mqttUrl: broker.url, configFile: config, input: null, dataDir });
  await waitForHealth(d, (h) => h.components.mqtt?.state === "ok", "the daemon connected to the broker");
  return d;
}

describe("one daemon, two rooms, in a real Home Assistant", () => {
  beforeAll(async () => {
    if (missing !== null) throw new Error(missing);
    broker = await startMosquitto({ port: HA_MQTT_PORT });
    ha = new HomeAssistant();
    await ha.start();
    const enrolled = await runVoiceid(dataDir, "enroll", "Alice", file("alice.wav", enrolmentClips().A));
    expect(enrolled.code, enrolled.stderr).toBe(0);
  }, 900_000);

  afterAll(async () => {
    await daemon?.dispose();
    await ha?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it("shows a device per room, and Alice's room sensor follows her from the kitchen to the living room", async () => {
    const since = nowS();
    const p = streamedPieces();
    // Time for Home Assistant to make the entities before she speaks; the living room hears her later.
    daemon = await startDaemon(
      buildStream([4, ["A", p.a1], 1]).wav,
      buildStream([14, ["A", p.a2], 3]).wav,
      "follow",
    );
    for (const id of talking) {
      await ha.until(`${id} available`, async () => {
        const s = await ha.state(id);
        return s !== null && s.state !== "unavailable";
      });
    }
    await ha.until(
      "Alice's room: the living room",
      async () => (await ha.state(aliceRoom))?.state === rooms[1],
      90_000,
    );
    const visited = ha
      .changesOf(aliceRoom, since)
      .map((c) => c.new)
      .filter((s) => rooms.includes(s ?? ""));
    expect(visited).toEqual(rooms);
    const onOff = (id: string) =>
      ha
        .changesOf(id, since)
        .filter((c) => c.old === "on" || c.old === "off")
        .map((c) => c.new);
    await ha.until(
      "Alice's turn over in the living room",
      async () => onOff(talking[1]).includes("off"),
      30_000,
    );
    expect(onOff(talking[0])).toEqual(["on", "off"]);
    expect(onOff(talking[1])).toEqual(["on", "off"]);
    // Both files ended: the daemon exits, and both rooms' devices go unavailable.
    expect(await within(daemon.exited, 30_000, "the daemon to exit", daemon)).toBe(0);
    for (const id of talking)
      await ha.until(`${id} unavailable`, async () => (await ha.state(id))?.state === "unavailable");
  }, 240_000);

  it("after kill -9, both rooms' devices go unavailable within a second (the last will is the first room's)", async () => {
    const silence = encodePcm16Wav(new Float32Array(120 * SAMPLE_RATE), SAMPLE_RATE);
    await daemon?.dispose();
    daemon = await startDaemon(silence, silence, "kill");
    for (const id of talking)
      await ha.until(`${id} available again`, async () => (await ha.state(id))?.state === "off");
    const killedAt = nowS();
    daemon.child.kill("SIGKILL");
    await daemon.exited;
    for (const id of talking) {
      const gone = await ha.until(`${id} unavailable after the kill`, async () =>
        ha.changesOf(id, killedAt).find((c) => c.new === "unavailable"),
      );
      console.info(`${id}: unavailable ${((gone.t - killedAt) * 1000).toFixed(0)} ms after SIGKILL`);
      expect(gone.t - killedAt).toBeLessThan(1);
    }
  }, 120_000);
});
