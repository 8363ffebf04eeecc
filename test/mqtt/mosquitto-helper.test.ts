import { createConnection } from "node:net";
import { describe, expect, it } from "vitest";
import { MosquittoNotInstalledError, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder } from "./recorder.js";

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("startMosquitto test helper", () => {
  it("says how to install mosquitto when the binary is missing", async () => {
    const err = await startMosquitto({ binary: "/nonexistent/mosquitto" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MosquittoNotInstalledError);
    expect((err as Error).message).toContain("apt-get install mosquitto");
  });

  it("restarts on the same port and really stops", async () => {
    const broker = await startMosquitto();
    try {
      expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
      await broker.restart();
      const recorder = await MqttRecorder.start(broker.url, ["helper/test"]);
      await recorder.publish("helper/test", "hello");
      expect((await recorder.next("helper/test")).payload).toBe("hello");
      await recorder.stop();
    } finally {
      await broker.stop();
    }
    expect(await accepts(broker.port)).toBe(false);
    await broker.stop(); // idempotent
    await expect(broker.restart()).rejects.toThrow(/was stopped/);
  });
});
