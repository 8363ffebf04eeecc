import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { runVoiceid } from "../helpers/cli.js";
import { librispeechWav } from "../helpers/paths.js";

let dataDir: string;

/** The real entry point on this test's data dir. */
const voiceid = (...args: string[]) => runVoiceid(dataDir, ...args);

/** First or second half of a LibriSpeech utterance as a WAV file in the temp dir. */
async function half(file: string, which: 0 | 1): Promise<string> {
  const samples = readWavAs16kMono(await readFile(librispeechWav(file)));
  const mid = Math.floor(samples.length / 2);
  const part = which === 0 ? samples.subarray(0, mid) : samples.subarray(mid);
  const out = path.join(dataDir, `${path.basename(file, ".wav")}-${which}.wav`);
  await writeFile(out, encodePcm16Wav(part, 16_000));
  return out;
}

describe("voiceid command line", () => {
  let alice: [string, string];
  let bob: [string, string];
  let visitor: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-cli-"));
    alice = [await half("1040-133433-0000.wav", 0), await half("1040-133433-0000.wav", 1)];
    bob = [await half("103-1240-0000.wav", 0), await half("103-1240-0000.wav", 1)];
    visitor = await half("1235-135883-0000.wav", 1);
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  // Set-up installs CAM++, which this machine affords: "auto" (the default) runs it.
  it("embed --json prints the running encoder's L2-normalised voiceprint and the speech found", async () => {
    const run = await voiceid("embed", alice[0], "--json");
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      model: string;
      dim: number;
      embedding: number[];
      speechSeconds: number;
    };
    expect(out.model).toBe("campplus-zh-en");
    expect(out.dim).toBe(192);
    expect(out.embedding).toHaveLength(192);
    expect(Math.hypot(...out.embedding)).toBeCloseTo(1, 4);
    expect(out.speechSeconds).toBeGreaterThan(2);
    const untrimmed = JSON.parse((await voiceid("embed", alice[0], "--json", "--no-trim")).stdout);
    expect(untrimmed.speechSeconds).toBeGreaterThan(out.speechSeconds);
  });

  it("enrolls, lists, identifies the right person and refuses to name a visitor", async () => {
    const enrolA = await voiceid("enroll", "Alice", alice[0]);
    expect(enrolA.code, enrolA.stderr).toBe(0);
    expect(enrolA.stdout).toMatch(/created Alice \(id alice\)/);
    expect(enrolA.stdout).toMatch(/s of speech/);
    // 1040's recording is studio-clean: close-talk, unlike a room microphone.
    expect(enrolA.stdout).toMatch(/hint: .*: recorded close to the microphone: .*daemon's own microphone/);
    const enrolB = await voiceid("enroll", "Bob", bob[0]);
    expect(enrolB.code).toBe(0);
    expect(enrolB.stdout).not.toMatch(/hint:/);

    const list = await voiceid("speakers");
    expect(list.stdout).toMatch(/^Alice \(id alice\): 1 samples/m);
    expect(list.stdout).toMatch(/^Bob \(id bob\): 1 samples/m);

    const who = await voiceid("identify", alice[1], "--json");
    expect(who.code, who.stderr).toBe(0);
    const id = JSON.parse(who.stdout) as {
      speaker: string | null;
      score: number;
      scores: Record<string, number>;
    };
    expect(id.speaker).toBe("Alice");
    expect(id.score).toBeGreaterThanOrEqual(0.82);
    expect(Object.keys(id.scores).sort()).toEqual(["Alice", "Bob"]);

    const stranger = JSON.parse((await voiceid("identify", visitor, "--json")).stdout) as {
      speaker: string | null;
      score: number;
    };
    expect(stranger.speaker).toBeNull();
    expect(stranger.score).toBeLessThan(0.82);

    // A stricter threshold of her own turns Alice's own clip into "unknown"; "default" restores it.
    expect((await voiceid("speakers", "threshold", "Alice", "0.99")).stdout).toMatch(
      /Alice: threshold 0.99 for campplus-zh-en/,
    );
    // Another encoder's threshold is its own: setting it leaves Resemblyzer's alone.
    expect(
      (await voiceid("speakers", "threshold", "Alice", "0.3", "--model", "ecapa-voxceleb")).stdout,
    ).toMatch(/Alice: threshold 0.3 for ecapa-voxceleb/);
    expect(JSON.parse((await voiceid("speakers", "--json")).stdout)[0].thresholds).toEqual({
      "campplus-zh-en": 0.99,
      "ecapa-voxceleb": 0.3,
    });
    expect(JSON.parse((await voiceid("identify", alice[1], "--json")).stdout).speaker).toBeNull();
    expect((await voiceid("speakers", "threshold", "alice", "default")).code).toBe(0);
    expect(JSON.parse((await voiceid("identify", alice[1], "--json")).stdout).speaker).toBe("Alice");
    expect((await voiceid("speakers", "threshold", "alice", "1.5")).code).toBe(1);
    expect((await voiceid("speakers", "rename", "alice", "Alicia")).stdout).toMatch(
      /renamed to Alicia \(id alice\)/,
    );
    expect(JSON.parse((await voiceid("identify", alice[1], "--json")).stdout).speaker).toBe("Alicia");
    // As a person reads it in a terminal: the answer, then one line per speaker, each ending its line.
    const told = await voiceid("identify", alice[1]);
    expect(told.stdout).toMatch(
      /^Alicia \(score \d\.\d{3}, threshold [\d.]+\)\n {2}Alicia +\d\.\d{3}\n {2}Bob +\d\.\d{3}\n$/,
    );

    const rm = await voiceid("speakers", "rm", "bob");
    expect(rm.code).toBe(0);
    expect((await voiceid("speakers", "--json")).stdout).not.toMatch(/"Bob"/);
  });

  it("warns when an enrolment clip sounds like another voice", async () => {
    const run = await voiceid("enroll", "alice", bob[1]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/different voice/);
  });

  it("fails with exit 1 and a one-line reason on bad input", async () => {
    const notWav = path.join(dataDir, "notes.wav");
    await writeFile(notWav, "these are not samples\n");
    const run = await voiceid("identify", notWav);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/notes\.wav: .*WAV/);

    const missing = await voiceid("embed", path.join(dataDir, "nope.wav"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.wav: no such file/);

    const unknown = await voiceid("speakers", "rm", "Nobody");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Nobody/);
  });

  it("exits 2 with the usage on wrong arguments", async () => {
    for (const args of [
      ["frobnicate"],
      ["embed"],
      ["identify", "a.wav", "b.wav"],
      ["embed", "x.wav", "--bogus"],
      [],
    ]) {
      const run = await voiceid(...args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr + run.stdout).toMatch(/Usage: voiceid/);
    }
  });

  it("gives kept clips a voiceprint of the running encoder before identifying, as the daemon does", async () => {
    // Carol enrolled under another encoder (her voiceprints are renamed to ECAPA's model id): CAM++ has
    // nothing of hers until her kept clip is embedded again.
    const carol = [await half("1069-133699-0000.wav", 0), await half("1069-133699-0000.wav", 1)];
    expect((await voiceid("enroll", "Carol", carol[0])).code).toBe(0);
    const file = path.join(dataDir, "registry.json");
    const registry = JSON.parse(await readFile(file, "utf8"));
    const sample = registry.speakers.find((s: { id: string }) => s.id === "carol").samples[0];
    sample.voiceprints = { "ecapa-voxceleb": sample.voiceprints["campplus-zh-en"] };
    await writeFile(file, JSON.stringify(registry));

    const who = await voiceid("identify", carol[1], "--json");
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout).speaker).toBe("Carol");
    const after = JSON.parse(await readFile(file, "utf8"));
    const models = after.speakers.find((s: { id: string }) => s.id === "carol").samples[0].voiceprints;
    expect(Object.keys(models).sort()).toEqual(["campplus-zh-en", "ecapa-voxceleb"]);
  });

  it("reports the models it finds", async () => {
    const run = await voiceid("models", "check");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/resemblyzer-0\.1\.4\/encoder\.onnx/);
    expect(run.stdout).toMatch(/silero-vad-v5\/silero_vad\.onnx/);
  });

  it("hardware says what this machine is, how fast each installed encoder runs here, and the choice", async () => {
    const run = await voiceid("hardware", "--json");
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.profile.cpu.cores).toBe(os.cpus().length);
    expect(report.installed).toContain("resemblyzer-0.1.4");
    const resemblyzer = report.measurements.find(
      (m: { encoder: string }) => m.encoder === "resemblyzer-0.1.4",
    );
    expect(resemblyzer.realTimeFactor).toBeGreaterThan(0);
    expect(report.installed).toContain("campplus-zh-en");
    // CAM++ comes first and fits the budget here (0.011 measured): the choice follows the measurement.
    expect(report.choice.encoder).toBe("campplus-zh-en");
    expect(report.choice.reason).toMatch(
      /^CAM\+\+ runs at real-time factor 0\.0\d\d on cpu, within the budget of 0\.15$/,
    );
    const text = await voiceid("hardware");
    expect(text.stdout).toMatch(/^cpu: +.+, \d+ cores/m);
    expect(text.stdout).toMatch(/^measured \(cached\):$/m);
    expect(text.stdout).toMatch(/^encoder: +campplus-zh-en \(.+\)$/m);
  });
});
