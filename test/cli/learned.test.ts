import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { ROOM_SIMULATION } from "../../src/enrolment/room-voiceprints.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { HARDWARE_CACHE_FILE } from "../../src/hardware/encoder-selection.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import type { Speaker } from "../../src/registry/schema.js";
import { silentLogger } from "../../src/util/log.js";
import { runVoiceid } from "../helpers/cli.js";
import { librispeechWav } from "../helpers/paths.js";

/**
 * A person's voiceprints through the shipped command line: what `voiceid speakers` counts for the
 * encoder in use, and `voiceid speakers forget-learned`. Learned voiceprints are written as the daemon
 * writes them (SpeakerRegistry.addLearned), from `voiceid embed` of speech the person did not enrol with.
 */
let dataDir: string;
const voiceid = (...args: string[]) => runVoiceid(dataDir, ...args);

/** Seconds [from, to) of a LibriSpeech utterance as a WAV file in the data dir. */
async function part(file: string, from: number, to: number): Promise<string> {
  const samples = readWavAs16kMono(await readFile(librispeechWav(file)));
  const out = path.join(dataDir, `${path.basename(file, ".wav")}-${from}-${to}.wav`);
  await writeFile(out, encodePcm16Wav(samples.subarray(from * 16_000, to * 16_000), 16_000));
  return out;
}

async function registryFile(): Promise<{ speakers: Speaker[] }> {
  return JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8"));
}

interface Row {
  name: string;
  encoder: string;
  voiceprints: { enrolled: number; simulated: number; learned: number };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-cli-learned-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("voiceid speakers and learned voiceprints", () => {
  it("lists enrolled, simulated and learned voiceprints of the encoder in use, and forgets the learned", async () => {
    const alice = "1040-133433-0000.wav";
    expect((await voiceid("enroll", "Alice", await part(alice, 0, 6))).code).toBe(0);
    expect((await voiceid("enroll", "Bob", await part("103-1240-0000.wav", 0, 6))).code).toBe(0);

    const learnedFrom = [await part(alice, 7, 9), await part(alice, 9, 11), await part(alice, 11, 13)];
    const embedded = await Promise.all(
      learnedFrom.map(async (file) => {
        const run = await voiceid("embed", file, "--json");
        expect(run.code, run.stderr).toBe(0);
        return JSON.parse(run.stdout) as { model: string; embedding: number[]; speechSeconds: number };
      }),
    );
    const model = embedded[0].model;
    // The registry beside the command line, as the daemon holds it while it learns.
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start();
    try {
      for (const e of embedded) {
        await registry.addLearned("alice", {
          modelId: e.model,
          voiceprint: e.embedding,
          speechSeconds: e.speechSeconds,
          room: "kitchen",
        });
      }
    } finally {
      await registry.stop();
    }

    const rooms = ROOM_SIMULATION.rooms;
    const list = await voiceid("speakers");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split("\n").filter((l) => l !== "")).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Alice \\(id alice\\): 1 samples, \\d+\\.\\d s of speech; ${model} voiceprints: 1 enrolled, ${rooms} simulated, 3 learned$`,
        ),
      ),
      expect.stringMatching(new RegExp(`; ${model} voiceprints: 1 enrolled, ${rooms} simulated, 0 learned$`)),
    ]);
    const rows = JSON.parse((await voiceid("speakers", "--json")).stdout) as Row[];
    expect(rows.map((r) => [r.name, r.encoder, r.voiceprints])).toEqual([
      ["Alice", model, { enrolled: 1, simulated: rooms, learned: 3 }],
      ["Bob", model, { enrolled: 1, simulated: rooms, learned: 0 }],
    ]);
    // Another encoder has nothing of theirs yet; an unknown one is a usage error.
    const other = model === "ecapa-voxceleb" ? "resemblyzer-0.1.4" : "ecapa-voxceleb";
    const otherRows = JSON.parse((await voiceid("speakers", "--json", "--model", other)).stdout) as Row[];
    expect(otherRows[0]).toMatchObject({
      encoder: other,
      voiceprints: { enrolled: 0, simulated: 0, learned: 0 },
    });
    expect((await voiceid("speakers", "--model", "nonsense")).code).toBe(2);

    const samplesBefore = (await registryFile()).speakers.map((s) => s.samples);
    const forget = await voiceid("speakers", "forget-learned", "alice");
    expect(forget.code, forget.stderr).toBe(0);
    expect(forget.stdout).toBe("Alice: forgot 3 learned voiceprints\n");
    const after = await registryFile();
    expect(after.speakers.map((s) => s.learned)).toEqual([undefined, undefined]);
    expect(after.speakers.map((s) => s.samples)).toEqual(samplesBefore);
    expect((await voiceid("speakers")).stdout).toMatch(
      new RegExp(`^Alice .*: 1 enrolled, ${rooms} simulated, 0 learned$`, "m"),
    );

    expect((await voiceid("speakers", "forget-learned", "Bob")).stdout).toBe("Bob: nothing learned\n");
    const unknown = await voiceid("speakers", "forget-learned", "Nobody");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Nobody/);
    const usage = await voiceid("speakers", "forget-learned");
    expect(usage.code).toBe(2);
    expect(usage.stderr + usage.stdout).toMatch(/speakers forget-learned <name>/);
  });

  it("lists nobody without choosing an encoder", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "voiceid-cli-empty-"));
    try {
      const run = await runVoiceid(empty, "speakers", "--json");
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe("[]\n");
      expect((await runVoiceid(empty, "speakers")).stdout).toMatch(/^no speakers enrolled/);
      // Choosing one measures this machine the first time (and caches it): not needed for nobody.
      expect(existsSync(path.join(empty, HARDWARE_CACHE_FILE))).toBe(false);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
