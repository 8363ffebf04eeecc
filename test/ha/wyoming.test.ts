import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  freePort,
  SAMPLE_RATE,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
} from "../daemon/helpers.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { repoRoot } from "../helpers/paths.js";
import { pcm16, type ReferenceUpstream, startReferenceUpstream } from "../wyoming/helpers.js";
import {
  HA_CONFIG,
  HA_KIT,
  HA_MQTT_PORT,
  HA_PORT,
  HA_ROOT,
  HomeAssistant,
  homeAssistantMissing,
} from "./home-assistant.js";

/**
 * voiceid as the speech-to-text of a real Home Assistant's voice pipeline (opt-in: `npm run test:ha`):
 * the Wyoming integration added through Home Assistant's config flow, an Assist pipeline with it as
 * speech-to-text, run over the websocket API from the stt stage with real speech. The upstream is the
 * reference `wyoming` server of the tests.
 */
const run = promisify(execFile);
const missing = homeAssistantMissing();
const room = `HA Cmd ${Date.now().toString(36)}`;
const device = `voiceid_${room.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
const sensor = `sensor.${device}_last_command_speaker`;

let broker: MosquittoBroker;
let ha: HomeAssistant;
let daemon: DaemonProcess;
let upstream: ReferenceUpstream;
let pipelineId = "";
const dir = mkdtempSync(path.join(tmpdir(), "voiceid-ha-wyoming-"));
const seconds = (s: number) => Math.round(s * SAMPLE_RATE);

interface PipelineRun {
  events: string[];
  stt_text: string | null;
  sensor_at_intent: { state: string; attributes: Record<string, unknown> } | null;
  error: string | null;
}

/** One pipeline run with `audio` as the satellite's command (test/ha/assist_pipeline.py in the chroot). */
async function runPipeline(audio: Buffer): Promise<PipelineRun> {
  // The chroot sees the configuration folder at the same path: the script and the audio go there.
  const script = path.join(HA_CONFIG, "voiceid-assist-pipeline.py");
  copyFileSync(path.join(repoRoot, "test/ha/assist_pipeline.py"), script);
  const audioFile = path.join(HA_CONFIG, "voiceid-command.raw");
  writeFileSync(audioFile, audio);
  const { stdout } = await run(
    path.join(HA_KIT, "chroot.sh"),
    ["python3", script, pipelineId, audioFile, sensor],
    { env: { ...process.env, HA_ROOT, HA_CONFIG, HA_PORT: String(HA_PORT) }, timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as PipelineRun;
}

describe("voiceid in Home Assistant's voice pipeline", () => {
  beforeAll(async () => {
    if (missing !== null) throw new Error(missing);
    broker = await startMosquitto({ port: HA_MQTT_PORT });
    ha = new HomeAssistant();
    await ha.start();
    upstream = await startReferenceUpstream(dir);
    const port = await freePort();
    daemon = await spawnDaemon({
      mqttUrl: broker.url,
      room,
      dataDir: path.join(dir, "data"),
      env: {
        VOICEID__WYOMING__ENABLED: "true",
        VOICEID__WYOMING__LISTEN: `tcp://127.0.0.1:${port}`,
        VOICEID__WYOMING__UPSTREAM: upstream.uri,
        VOICEID__WYOMING__MODE: "gate",
      },
    });
    await waitForHealth(
      daemon,
      (h) => h.components.mqtt?.state === "ok",
      "the daemon connected to the broker",
    );
    await enrolOverHttp(daemon, "Alice", enrolmentClips().A);

    // The Wyoming integration, through the config flow as a user adds it.
    const flow = await ha.api<{ flow_id: string; type: string }>("POST", "/api/config/config_entries/flow", {
      handler: "wyoming",
    });
    expect(flow.status).toBe(200);
    const done = await ha.api<{ type: string; title: string; result?: { entry_id: string } }>(
      "POST",
      `/api/config/config_entries/flow/${flow.body.flow_id}`,
      { host: "127.0.0.1", port },
    );
    expect(done.body).toMatchObject({ type: "create_entry", title: "voiceid (reference-stt)" });
    const entryId = done.body.result?.entry_id;
    const stt = await ha.until("the speech-to-text entity", async () => {
      const registry = await ha.ws<Array<{ entity_id: string; config_entry_id: string | null }>>({
        type: "config/entity_registry/list",
      });
      return registry.find((e) => e.config_entry_id === entryId && e.entity_id.startsWith("stt."))?.entity_id;
    });
    const pipeline = await ha.ws<{ id: string }>({
      type: "assist_pipeline/pipeline/create",
      name: `voiceid ${room}`,
      language: "en",
      conversation_engine: "conversation.home_assistant",
      conversation_language: "en",
      stt_engine: stt,
      stt_language: "en",
      tts_engine: null,
      tts_language: null,
      tts_voice: null,
      wake_word_entity: null,
      wake_word_id: null,
    });
    pipelineId = pipeline.id;
    expect(pipelineId).toBeTruthy();
  }, 900_000);

  afterAll(async () => {
    await daemon?.dispose();
    await upstream?.stop();
    await ha?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it("names Alice on the last-command-speaker sensor by the time the pipeline reaches its intent stage", async () => {
    const alice = streamedPieces().a1.subarray(seconds(0.5), seconds(3.5));
    const audio = pcm16(alice);
    const result = await runPipeline(audio);
    expect(result.error).toBeNull();
    // Home Assistant's own voice activity detection ends the stream once the speech is over.
    const heard = Number(/^heard (\d+) bytes$/.exec(result.stt_text ?? "")?.[1]);
    expect(heard).toBeGreaterThan(audio.length * 0.8);
    expect(result.events).toContain("intent-start");
    expect(result.sensor_at_intent?.state).toBe("Alice");
    expect(result.sensor_at_intent?.attributes).toMatchObject({ forwarded: true });
  });

  it("a visitor's command in gate mode ends with no intent, and the sensor says unrecognized", async () => {
    const visitor = streamedPieces().stranger.subarray(seconds(1), seconds(4));
    const before = upstream.count();
    const result = await runPipeline(pcm16(visitor));
    expect(result.events).not.toContain("intent-start");
    expect(result.error).toBe("stt-no-text-recognized");
    expect(upstream.count()).toBe(before);
    await ha.until(
      "the sensor to say unrecognized",
      async () => (await ha.state(sensor))?.state === "unrecognized",
    );
  });
});
