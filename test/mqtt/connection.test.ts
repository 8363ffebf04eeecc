import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MqttConnection } from "../../src/mqtt/connection.js";
import { silentLogger } from "../../src/util/log.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "./recorder.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const childScript = fileURLToPath(new URL("./fixtures/connection-child.ts", import.meta.url));

describe("last will", () => {
  let broker: MosquittoBroker;
  let child: ChildProcess | null = null;
  let recorder: MqttRecorder | null = null;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterEach(async () => {
    child?.kill("SIGKILL");
    child = null;
    await recorder?.stop();
    recorder = null;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("the broker publishes the retained will when the connection's process is killed", async () => {
    const room = "willroom";
    recorder = await MqttRecorder.start(broker.url, [`voiceid/${room}/status`]);
    const proc = spawn(
      process.execPath,
      ["--import", "tsx", childScript, broker.url, `voiceid/${room}/status`],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on("data", (d: Buffer) => {
        if (d.toString().includes("connected")) resolve();
      });
      proc.once("exit", (code) => reject(new Error(`connection child exited early (${code}): ${stderr}`)));
    });
    await recorder.waitFor((m) => m.payload === "online", "online from the child");

    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
    const offline = await recorder.waitFor((m) => m.payload === "offline", "last will");
    expect(offline.topic).toBe(`voiceid/${room}/status`);
    const retained = await readRetained(broker.url, [`voiceid/${room}/status`]);
    expect(retained.get(`voiceid/${room}/status`)).toBe("offline");
  });
});

describe("username/password authentication", () => {
  let broker: MosquittoBroker;
  const connections: MqttConnection[] = [];

  beforeAll(async () => {
    broker = await startMosquitto({ users: { voiceid: "s3cret", watcher: "w" } });
  });
  afterEach(async () => {
    for (const c of connections.splice(0)) await c.stop();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  const connectAs = (password: string) => {
    const c = new MqttConnection({
      url: broker.url,
      username: "voiceid",
      password,
      will: { topic: "voiceid/authroom/status", payload: "offline" },
      logger: silentLogger,
      reconnectMinMs: 100,
      reconnectMaxMs: 200,
    });
    c.onConnect(() => c.publishState("voiceid/authroom/status", "online"));
    connections.push(c);
    return c;
  };

  it("connects with the right password", async () => {
    const recorder = await MqttRecorder.start(broker.url, ["voiceid/authroom/status"], {
      username: "watcher",
      password: "w",
    });
    try {
      const b = connectAs("s3cret");
      await b.start();
      expect((await recorder.waitFor((m) => m.payload === "online", "online")).topic).toBe(
        "voiceid/authroom/status",
      );
      expect(b.status().connected).toBe(true);
    } finally {
      await recorder.stop();
    }
  });

  it("with a wrong password stays disconnected, reports why and keeps retrying", async () => {
    const b = connectAs("wrong");
    await b.start();
    const deadline = Date.now() + 10_000;
    while (b.status().reconnects < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const status = b.status();
    expect(status.reconnects).toBeGreaterThanOrEqual(2);
    expect(status.connected).toBe(false);
    expect(status.lastError).toMatch(/not authorized|bad user ?name or password/i);
  });
});
