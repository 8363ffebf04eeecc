import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { modelsDirWithEcapaFixture } from "../helpers/ecapa.js";
import { recordingLogger } from "../helpers/logger.js";
import { librispeechWav } from "../helpers/paths.js";
import { startDaemonInProcess } from "./helpers.js";

/**
 * Changing the encoder (here to the random-weight ECAPA fixture, converted as `voiceid models fetch`
 * converts the real one): kept clips are re-embedded at start-up, people without clips are told to
 * enrol again, and switching back needs no work.
 */
let modelsDir: string;
let dataDir: string;
const running: Array<() => Promise<void>> = [];
beforeAll(async () => {
  ({ modelsDir } = await modelsDirWithEcapaFixture());
  dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-switch-"));
});
afterEach(async () => {
  while (running.length > 0) await running.pop()?.();
});
afterAll(async () => {
  await rm(modelsDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

async function start(encoder: string, overrides: Record<string, unknown> = {}) {
  const { logger, lines } = recordingLogger();
  const started = await startDaemonInProcess(
    dataDir,
    { modelsDir, "identification.encoder": encoder, ...overrides },
    logger,
  );
  running.push(() => started.stop());
  const { url } = started;
  const enrol = async (name: string, file: string) => {
    const created = await fetch(`${url}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name }),
    });
    const { speaker } = (await created.json()) as { speaker: { id: string } };
    const added = await fetch(`${url}/api/speakers/${speaker.id}/samples`, {
      method: "POST",
      headers: { "Content-Type": "audio/wav" },
      body: await readFile(librispeechWav(file)),
    });
    expect(added.status).toBe(201);
  };
  const speakers = async () =>
    ((await (await fetch(`${url}/api/speakers`)).json()) as { speakers: { id: string; enrolled: boolean }[] })
      .speakers;
  return { url, lines, enrol, speakers };
}

const voiceprintModels = async () => {
  const registry = JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8"));
  return Object.fromEntries(
    registry.speakers.map((s: { id: string; samples: { voiceprints: Record<string, number[]> }[] }) => [
      s.id,
      s.samples.map((x) => Object.fromEntries(Object.entries(x.voiceprints).map(([m, v]) => [m, v.length]))),
    ]),
  );
};

describe("changing the encoder", () => {
  it("re-embeds kept clips at start-up, names who must enrol again, and switches back instantly", async () => {
    const first = await start("resemblyzer-0.1.4");
    await first.enrol("Alice", "1040-133433-0000.wav");
    await running.pop()?.();
    // Bob enrols while clips are not kept: his sample can never be re-embedded.
    const second = await start("resemblyzer-0.1.4", { "enrolment.keepClips": false });
    await second.enrol("Bob", "103-1240-0000.wav");
    await running.pop()?.();
    expect(await voiceprintModels()).toEqual({
      alice: [{ "resemblyzer-0.1.4": 256 }],
      bob: [{ "resemblyzer-0.1.4": 256 }],
    });

    const ecapa = await start("ecapa-voxceleb");
    expect(ecapa.lines).toContain("info re-embedding 1 kept enrolment clips with ecapa-voxceleb");
    expect(ecapa.lines.some((l) => /^info re-embedded 1\/1 \(Alice, sample .+\)$/.test(l))).toBe(true);
    expect(ecapa.lines).toContain(
      "warn Bob must enrol again: no voiceprint for ecapa-voxceleb and no kept clip to make one from",
    );
    expect(await voiceprintModels()).toEqual({
      alice: [{ "resemblyzer-0.1.4": 256, "ecapa-voxceleb": 24 }],
      bob: [{ "resemblyzer-0.1.4": 256 }],
    });
    expect(await ecapa.speakers()).toMatchObject([
      { id: "alice", enrolled: true },
      { id: "bob", enrolled: false },
    ]);
    const health = (await (await fetch(`${ecapa.url}/health`)).json()) as Record<string, unknown>;
    expect(health.encoder).toEqual({
      model: "ecapa-voxceleb",
      provider: "cpu",
      reason: "configured (identification.encoder: ecapa-voxceleb)",
    });
    expect(await (await fetch(`${ecapa.url}/metrics`)).text()).toContain(
      'voiceid_encoder_info{model="ecapa-voxceleb",provider="cpu"} 1',
    );
    await running.pop()?.();

    // Back to Resemblyzer: every voiceprint is still there, nothing to redo.
    const back = await start("resemblyzer-0.1.4");
    expect(back.lines.filter((l) => /re-embed|must enrol again/.test(l))).toEqual([]);
    expect(await back.speakers()).toMatchObject([
      { id: "alice", enrolled: true },
      { id: "bob", enrolled: true },
    ]);
  });
});
