import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ModelStack } from "../../src/embedding/stack.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import type { RegistryData } from "../../src/registry/schema.js";
import { silentLogger } from "../../src/util/log.js";
import { librispeechWav, modelsDir } from "../helpers/paths.js";
import { readWav16kMono } from "../vad/helpers.js";
import { type InProcessDaemon, SAMPLE_RATE, startDaemonInProcess } from "./helpers.js";

/**
 * The room in a real daemon: learning from its input, and simulated rooms for clips kept from before
 * (real models, real speech, its HTTP API and metrics).
 */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

// LibriSpeech 1040: enrolled on the first half of the file, heard speaking the second half.
const voice = readWav16kMono(librispeechWav("1040-133433-0000.wav"));
const enrolment = encodePcm16Wav(voice.subarray(0, voice.length >> 1), SAMPLE_RATE);
const later = voice.subarray(voice.length >> 1);

async function daemonWithAlice(overrides: Record<string, unknown> = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-learning-"));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const started = await startDaemonInProcess(dataDir, { room: "Living Room", ...overrides });
  cleanups.push(() => started.stop());
  const created = await fetch(`${started.url}/api/speakers`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Alice" }),
  });
  expect(created.status).toBe(201);
  const sample = await fetch(`${started.url}/api/speakers/alice/samples`, {
    method: "POST",
    headers: { "Content-Type": "audio/wav" },
    body: enrolment,
  });
  expect(sample.status).toBe(201);
  return { ...started, dataDir };
}

/** Alice talks, then 3 s of silence end her turn; resolves once the daemon said the turn stopped. */
async function aliceTalks(daemon: InProcessDaemon): Promise<void> {
  const events = await fetch(`${daemon.url}/api/events`);
  const reader = events.body!.getReader();
  daemon.speak(later);
  daemon.speak(new Float32Array(3 * SAMPLE_RATE));
  let text = "";
  while (!/"type":"stopped"/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`event stream ended before the turn stopped: ${text}`);
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
}

async function learnedIn(dataDir: string) {
  const data = JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8")) as RegistryData;
  return data.speakers[0].learned ?? [];
}

async function learnedMetric(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^voiceid_learned_voiceprints_total (\S+)$/m.exec(text)?.[1]);
}

/** Learning is written in the background: give it a moment, checking. */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 50 && !ok(value); i++) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

describe("learning the room in the daemon", () => {
  it("learns from a confidently named turn, counts it, keeps no audio, and forgets on request", async () => {
    const daemon = await daemonWithAlice();
    const clipsBefore = await readdir(path.join(daemon.dataDir, "clips", "alice"));
    await aliceTalks(daemon);
    const learned = await eventually(
      () => learnedIn(daemon.dataDir),
      (l) => l.length > 0,
    );
    expect(learned).toHaveLength(1);
    expect(learned[0]).toMatchObject({ modelId: "campplus-zh-en", room: "Living Room" });
    expect(learned[0].speechSeconds).toBeGreaterThan(3);
    expect(await learnedMetric(daemon.url)).toBe(1);
    expect(await readdir(path.join(daemon.dataDir, "clips", "alice"))).toEqual(clipsBefore);
    const view = (await (await fetch(`${daemon.url}/api/speakers/alice`)).json()) as {
      speaker: { voiceprints: unknown };
    };
    expect(view.speaker.voiceprints).toEqual({ enrolled: 1, simulated: 8, learned: 1 });

    const forget = await fetch(`${daemon.url}/api/speakers/alice/learned`, { method: "DELETE" });
    expect(forget.status).toBe(200);
    expect(await learnedIn(daemon.dataDir)).toEqual([]);
  });

  it("learns nothing while muted", async () => {
    const daemon = await daemonWithAlice();
    const mute = await fetch(`${daemon.url}/api/listening`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ listening: false }),
    });
    expect(mute.status).toBe(200);
    daemon.speak(later);
    daemon.speak(new Float32Array(3 * SAMPLE_RATE));
    await new Promise((r) => setTimeout(r, 3000));
    expect(await learnedIn(daemon.dataDir)).toEqual([]);
    expect(await learnedMetric(daemon.url)).toBe(0);
  });

  it("learns nothing with identification.learn: false", async () => {
    const daemon = await daemonWithAlice({ "identification.learn": false });
    await aliceTalks(daemon);
    await new Promise((r) => setTimeout(r, 500));
    expect(await learnedIn(daemon.dataDir)).toEqual([]);
    expect(await learnedMetric(daemon.url)).toBe(0);
  });
});

describe("simulated rooms for clips enrolled before them", () => {
  it("are made in the background while the daemon already listens", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-catch-up-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    // A registry as the previous version wrote it: the clip kept, no simulated rooms.
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start();
    // The encoder the daemon's "auto" runs here.
    const stack = new ModelStack({ modelsDir, encoder: "campplus-zh-en" });
    await stack.start();
    try {
      const enroller = new Enroller(registry, stack.extractor, { simulateRooms: false });
      await enroller.enrol("Alice", [{ bytes: enrolment, source: "cli" }], { create: true });
    } finally {
      await stack.stop();
      await registry.stop();
    }
    const simulated = async () =>
      (JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8")) as RegistryData).speakers[0]
        .samples[0].simulated;
    expect(await simulated()).toBeUndefined();

    const daemon = await startDaemonInProcess(dataDir, {});
    cleanups.push(() => daemon.stop());
    expect((await fetch(`${daemon.url}/health`)).status).toBe(200);
    const made = await eventually(simulated, (s) => s !== undefined);
    expect(made?.["campplus-zh-en"]).toMatchObject({ version: 1, rooms: 8 });
  });
});
