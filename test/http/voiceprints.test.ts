import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { ROOM_SIMULATION } from "../../src/enrolment/room-voiceprints.js";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import type { EnrolmentView, SpeakerView } from "../../src/http/views.js";
import {
  librispeech,
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
  testVoices,
} from "../enrolment/helpers.js";
import {
  errorOf,
  jsonRequest,
  makeApp,
  numberArraysIn,
  type TestApp,
  WavLiveAudio,
  wavRequest,
} from "./helpers.js";

let pipeline: RealPipeline;
let female: Uint8Array; // LibriSpeech 103
let male: Uint8Array; // LibriSpeech 1040: close-talk
let femaleInRoom: Uint8Array; // LibriSpeech 103 as a far-field room microphone hears it
beforeAll(async () => {
  pipeline = await realPipeline();
  [female, male] = await testVoices();
  femaleInRoom = await librispeech("103", "room");
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let t: TestApp;
let modelId: string;
beforeEach(async () => {
  temp = await tempRegistry();
  t = makeApp(pipeline, temp);
  modelId = pipeline.extractor.modelId;
  await temp.registry.create("Alice");
});
afterEach(() => temp.dispose());

/** A real voiceprint of Alice's voice from a part of the recording she did not enrol with. */
async function heldOutVoiceprint(fromSeconds: number): Promise<Float32Array> {
  const samples = readWavAs16kMono(slice(female, fromSeconds, fromSeconds + 3));
  return (await pipeline.extractor.fromSamples(samples)).embedding;
}

/** Learned voiceprints added as the daemon adds them, from real held-out speech. */
async function learn(count: number): Promise<string[]> {
  const createdAt: string[] = [];
  for (let i = 0; i < count; i++) {
    const voiceprint = await heldOutVoiceprint(8 + i);
    const learned = await temp.registry.addLearned("alice", {
      modelId,
      voiceprint,
      speechSeconds: 2.5,
      room: "kitchen",
    });
    createdAt.push(learned.createdAt);
  }
  return createdAt;
}

const speakerOf = async (res: Response) => ((await res.json()) as { speaker: SpeakerView }).speaker;

/** registry.json byte for byte and the clips: what "changed nothing" means. */
async function snapshot(): Promise<string> {
  const registry = await readFile(path.join(temp.dataDir, "registry.json"), "utf8");
  return JSON.stringify([registry, await temp.clipFiles()]);
}

describe("a person's voiceprints in the API", () => {
  it("counts enrolled, simulated and learned voiceprints of the running model; DELETE /learned forgets only the learned", async () => {
    for (const [from, to] of [
      [0, 4],
      [4, 8],
    ]) {
      const res = await t.app.request("/api/speakers/alice/samples", wavRequest(slice(female, from, to)));
      expect(res.status).toBe(201);
    }
    const enrolled = await speakerOf(await t.app.request("/api/speakers/alice"));
    expect(ROOM_SIMULATION.rooms).toBe(8);
    expect(enrolled.voiceprints).toEqual({ enrolled: 2, simulated: 2 * ROOM_SIMULATION.rooms, learned: 0 });
    expect(enrolled.learnedAt).toBeNull();
    expect(enrolled.samples.map((s) => s.simulatedRooms)).toEqual([
      ROOM_SIMULATION.rooms,
      ROOM_SIMULATION.rooms,
    ]);

    const learnedAt = await learn(3);
    // Another encoder's learned voiceprint (Resemblyzer's cut to ECAPA's 192 dimensions): not the
    // running model's, so not counted, but forgotten with the rest.
    await temp.registry.addLearned("alice", {
      modelId: "ecapa-voxceleb",
      voiceprint: (await heldOutVoiceprint(11)).slice(0, 192),
      speechSeconds: 2,
      room: "kitchen",
    });
    const samplesBefore = temp.registry.get("alice")?.samples;
    const clipsBefore = await temp.clipFiles();

    const [listed] = ((await (await t.app.request("/api/speakers")).json()) as { speakers: SpeakerView[] })
      .speakers;
    expect(listed.voiceprints).toEqual({ enrolled: 2, simulated: 16, learned: 3 });
    expect(listed.learnedAt).toBe(learnedAt[2]);
    // Counts only: no vector of the samples, their simulated rooms or the learned reaches the API.
    expect(numberArraysIn(listed)).toEqual([]);
    expect(listed).not.toHaveProperty("learned");

    const forgot = await t.app.request("/api/speakers/alice/learned", { method: "DELETE" });
    expect(forgot.status).toBe(200);
    const body = (await forgot.json()) as { speaker: SpeakerView; forgotten: number };
    expect(body.forgotten).toBe(4);
    expect(body.speaker).toMatchObject({
      id: "alice",
      voiceprints: { enrolled: 2, simulated: 16, learned: 0 },
      learnedAt: null,
      sampleCount: 2,
    });
    expect(temp.registry.get("alice")?.learned).toBeUndefined();
    expect(temp.registry.get("alice")?.samples).toEqual(samplesBefore);
    expect(await temp.clipFiles()).toEqual(clipsBefore);

    const again = await t.app.request("/api/speakers/alice/learned", { method: "DELETE" });
    expect(await again.json()).toMatchObject({ forgotten: 0, speaker: { voiceprints: { learned: 0 } } });
  });

  it("finds the person by name, and 404s an unknown one without touching the registry", async () => {
    await learn(1);
    const before = await snapshot();
    const unknown = await t.app.request("/api/speakers/nobody/learned", { method: "DELETE" });
    expect(await errorOf(unknown)).toMatchObject({ status: 404, code: "speaker_not_found" });
    expect(await snapshot()).toBe(before);

    const byName = await t.app.request("/api/speakers/ALICE/learned", { method: "DELETE" });
    expect(await byName.json()).toMatchObject({ forgotten: 1, speaker: { id: "alice" } });
  });

  it("counts no simulated rooms for a sample enrolled with room simulation off", async () => {
    const plain = new Enroller(temp.registry, pipeline.extractor, { simulateRooms: false });
    const { clips } = await plain.enrol("alice", [
      { bytes: slice(female, 0, 4), source: "cli", name: "a.wav" },
    ]);
    await t.app.request("/api/speakers/alice/samples", wavRequest(slice(female, 4, 8)));
    const speaker = await speakerOf(await t.app.request("/api/speakers/alice"));
    expect(speaker.voiceprints).toEqual({ enrolled: 2, simulated: ROOM_SIMULATION.rooms, learned: 0 });
    expect(speaker.samples.map((s) => [s.id === clips[0].sampleId, s.simulatedRooms])).toEqual([
      [true, 0],
      [false, ROOM_SIMULATION.rooms],
    ]);
  });
});

describe("enrolment advice", () => {
  it("hints at the daemon's microphone for a close-talk upload, not for a room clip or a live recording", async () => {
    const close = (await (
      await t.app.request("/api/speakers/alice/samples", wavRequest(slice(male, 0, 12)))
    ).json()) as EnrolmentView;
    expect(close.samples[0]).toMatchObject({ closeTalk: true, warnings: [], simulatedRooms: 8 });
    expect(close.samples[0].hints).toHaveLength(1);
    expect(close.samples[0].hints[0]).toMatch(/daemon's own microphone.*POST \/api\/speakers\/alice\/record/);

    const room = (await (
      await t.app.request("/api/speakers/alice/samples", wavRequest(slice(femaleInRoom, 0, 8)))
    ).json()) as EnrolmentView;
    expect(room.samples[0]).toMatchObject({ closeTalk: false, hints: [] });

    const withMic = makeApp(pipeline, temp, { liveAudio: new WavLiveAudio(male) });
    const live = await withMic.app.request("/api/speakers/alice/record", jsonRequest("POST", { seconds: 5 }));
    expect(live.status).toBe(201);
    expect(((await live.json()) as EnrolmentView).samples[0]).toMatchObject({ hints: [] });
  });
});

describe("DELETE /api/speakers/:id/learned from elsewhere", () => {
  let server: RunningHttpServer;
  afterEach(async () => {
    await server.close();
  });

  it("refuses another site's page and a missing token, changing nothing; serves the daemon's own page", async () => {
    const TOKEN = "a-token-of-sixteen-chars";
    const secured = makeApp(pipeline, temp, { config: { token: TOKEN } });
    server = await startHttpServer(secured.app, { host: "127.0.0.1", port: 0 });
    const url = `${server.url}/api/speakers/alice/learned`;
    const authorized = { Authorization: `Bearer ${TOKEN}` };
    await learn(2);
    const before = await snapshot();

    const crossSite: Record<string, string>[] = [
      { Origin: "http://evil.example" },
      { Origin: "null" },
      { "Sec-Fetch-Site": "cross-site" },
      { "Sec-Fetch-Site": "same-site" },
    ];
    for (const headers of crossSite) {
      const res = await fetch(url, { method: "DELETE", headers: { ...authorized, ...headers } });
      expect(await errorOf(res)).toMatchObject({ status: 403, code: "cross_site_request" });
    }
    const noToken = await fetch(url, { method: "DELETE" });
    expect(await errorOf(noToken)).toMatchObject({ status: 401, code: "unauthorized" });
    expect(await snapshot()).toBe(before);
    expect(temp.registry.get("alice")?.learned).toHaveLength(2);

    const own = await fetch(url, {
      method: "DELETE",
      headers: { ...authorized, Origin: server.url, "Sec-Fetch-Site": "same-origin" },
    });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ forgotten: 2 });
    expect(temp.registry.get("alice")?.learned).toBeUndefined();
  });
});
