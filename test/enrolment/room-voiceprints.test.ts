import { readFile } from "node:fs/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { Enroller } from "../../src/enrolment/enroller.js";
import { Identifier } from "../../src/enrolment/identifier.js";
import { reEmbedMissing } from "../../src/enrolment/re-embed.js";
import { ROOM_SIMULATION, simulatedRoomVoiceprint } from "../../src/enrolment/room-voiceprints.js";
import { cosine } from "../../src/registry/matcher.js";
import { silentLogger } from "../../src/util/log.js";
import {
  ENCODER_ID,
  librispeech,
  librispeechPart,
  type RealPipeline,
  realPipeline,
  type TempRegistry,
  tempRegistry,
} from "./helpers.js";

/** Half of a LibriSpeech file: the first (enrolment) or the second (heard later). */
const half = (speaker: string, heard: "dry" | "room", which: "first" | "second") =>
  which === "first" ? librispeechPart(speaker, heard, 0, 0.5) : librispeechPart(speaker, heard, 0.5, 1);

// Members enrolled from their clean recordings: 103 (female) and 1040 (male). Visitors: the next 12
// speakers of the shared audio (speakers.tsv order), heard through the room microphone.
const MEMBERS = ["103", "1040"];
const VISITORS = [
  "1034",
  "1069",
  "1081",
  "1088",
  "1098",
  "1116",
  "118",
  "1183",
  "1235",
  "1246",
  "125",
  "1263",
];

let pipeline: RealPipeline;
beforeAll(async () => {
  pipeline = await realPipeline();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let enroller: Enroller;
beforeEach(async () => {
  temp = await tempRegistry();
  enroller = new Enroller(temp.registry, pipeline.extractor);
  for (const id of MEMBERS) {
    await enroller.enrol(id, [{ bytes: await half(id, "dry", "first"), source: "http" }], { create: true });
  }
});
afterEach(() => temp.dispose());

describe("voiceprints of enrolment clips in simulated rooms", () => {
  it("are kept with every sample, and are the same for the same clip", async () => {
    for (const id of MEMBERS) {
      const [sample] = temp.registry.get(id)!.samples;
      const simulated = sample.simulated?.[ENCODER_ID];
      expect(simulated).toMatchObject({ version: ROOM_SIMULATION.version, rooms: ROOM_SIMULATION.rooms });
      // Another voiceprint than the clean one: the rooms change how the voice sounds to the encoder.
      expect(cosine(simulated!.voiceprint, sample.voiceprints[ENCODER_ID])).toBeLessThan(0.95);
    }
    const wav = readWavAs16kMono(await half("103", "dry", "first"));
    const { speech } = await pipeline.extractor.speechAndVoiceprint(wav);
    const again = await simulatedRoomVoiceprint(pipeline.extractor, speech);
    expect(again.voiceprint).toEqual(temp.registry.get("103")!.samples[0].simulated![ENCODER_ID].voiceprint);
  });

  it("name a person enrolled from clean clips on room audio, where the clean voiceprint alone did not", async () => {
    const threshold = 0.82;
    const now = new Identifier(temp.registry, { modelId: ENCODER_ID, defaultThreshold: threshold });
    const before = new Identifier(temp.registry, {
      modelId: ENCODER_ID,
      defaultThreshold: threshold,
      alternates: false,
    });
    for (const id of MEMBERS) {
      const heard = await pipeline.extractor.fromWav(await half(id, "room", "second"));
      expect(before.identify(heard.embedding).speaker).toBeNull();
      expect(now.identify(heard.embedding).speaker?.id).toBe(id);
    }
    // In a room every voice sounds more alike to the encoder, and some visitors pass for a member. No
    // more of them than if the members had enrolled through the room microphone itself (before this).
    const roomEnrolled = await tempRegistry();
    try {
      const plain = new Enroller(roomEnrolled.registry, pipeline.extractor, { simulateRooms: false });
      for (const id of MEMBERS) {
        await plain.enrol(id, [{ bytes: await half(id, "room", "first"), source: "http" }], { create: true });
      }
      const inRoom = new Identifier(roomEnrolled.registry, {
        modelId: ENCODER_ID,
        defaultThreshold: threshold,
        alternates: false,
      });
      const named = { now: [] as string[], inRoom: [] as string[] };
      for (const id of VISITORS) {
        const heard = await pipeline.extractor.fromWav(await librispeech(id, "room"));
        expect(before.identify(heard.embedding).speaker, `visitor ${id} before`).toBeNull();
        if (now.identify(heard.embedding).speaker !== null) named.now.push(id);
        if (inRoom.identify(heard.embedding).speaker !== null) named.inRoom.push(id);
      }
      expect(named.now.length, JSON.stringify(named)).toBeLessThanOrEqual(named.inRoom.length);
    } finally {
      await roomEnrolled.dispose();
    }
  });

  it("are made at start for kept clips that lack them, and again after a change of encoder", async () => {
    // A registry from before simulated rooms, and one sample only another encoder had embedded.
    const older = await tempRegistry();
    try {
      const plain = new Enroller(older.registry, pipeline.extractor, { simulateRooms: false });
      await plain.enrol("103", [{ bytes: await half("103", "dry", "first"), source: "cli" }], {
        create: true,
      });
      const clip = older.registry.clipOf("103", older.registry.get("103")!.samples[0].id)!;
      await older.registry.addSample("103", {
        voiceprints: { "other-encoder": [1, 0, 0] },
        speechSeconds: 5,
        durationSeconds: 6,
        source: "cli",
        clipWav: new Uint8Array(await readFile(clip)),
      });
      expect(older.registry.get("103")!.samples.every((s) => s.simulated === undefined)).toBe(true);

      const report = await reEmbedMissing(older.registry, pipeline.extractor, silentLogger);
      expect(report).toMatchObject({ reEmbedded: 2, failed: [], mustReEnrol: [] });
      const [first, second] = older.registry.get("103")!.samples;
      for (const sample of [first, second]) {
        expect(sample.simulated?.[ENCODER_ID]?.rooms).toBe(ROOM_SIMULATION.rooms);
        expect(sample.voiceprints[ENCODER_ID]).toHaveLength(256);
      }
      // The same clip: the same voiceprints, however it got them.
      expect(second.voiceprints[ENCODER_ID]).toEqual(first.voiceprints[ENCODER_ID]);
      expect(second.simulated![ENCODER_ID].voiceprint).toEqual(first.simulated![ENCODER_ID].voiceprint);
      // Nothing left to do at the next start.
      expect(await reEmbedMissing(older.registry, pipeline.extractor, silentLogger)).toMatchObject({
        reEmbedded: 0,
      });
    } finally {
      await older.dispose();
    }
  });

  it("tell the user that a clean, close-talk clip is best completed through the daemon's microphone", async () => {
    // 1040's recording is studio-clean; the room version of it is not.
    const result = await enroller.enrol("1040", [
      { bytes: await half("1040", "dry", "second"), source: "http" },
    ]);
    expect(result.clips[0]).toMatchObject({ closeTalk: true, simulatedRooms: ROOM_SIMULATION.rooms });
    expect(result.clips[0].hints.join(" ")).toMatch(/daemon's own microphone/);
    const room = await enroller.enrol("1040", [
      { bytes: await half("1040", "room", "first"), source: "http" },
    ]);
    expect(room.clips[0]).toMatchObject({ closeTalk: false, hints: [] });
    const live = await enroller.enrol("1040", [
      { bytes: await half("1040", "dry", "second"), source: "microphone" },
    ]);
    expect(live.clips[0].hints).toEqual([]);
  });
});
