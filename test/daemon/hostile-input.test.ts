import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig } from "../helpers/cli.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { type DaemonProcess, spawnDaemon, within } from "./helpers.js";

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
