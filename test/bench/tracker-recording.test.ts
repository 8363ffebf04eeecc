import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BenchSetupError } from "../../scripts/bench/setup.js";
import { replayTracker, runTracker } from "../../scripts/bench/stream-runs.js";
import { readRecording, writeRecording } from "../../scripts/bench/tracker-recording.js";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import type { TrackerInput } from "../../src/identify/speaker-tracker.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { conversationWav } from "../helpers/paths.js";
import { enrol, IDENTIFICATION, loadModels, type Models, SAMPLE_RATE } from "../identify/helpers.js";

let models: Models;
let dir: string;
const conversation = readWavAs16kMono(readFileSync(conversationWav));
const cut = (from: number, to: number) =>
  conversation.subarray(Math.round(from * SAMPLE_RATE), Math.round(to * SAMPLE_RATE));

beforeAll(async () => {
  models = await loadModels();
  dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-recording-"));
});

afterAll(async () => {
  await models?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("bench:stream's recordings of the tracker's input", () => {
  it("replay, from the file, exactly what the live speech path decided", async () => {
    // The shared two-person conversation, both enrolled from a stretch of their own speech (as bench:stream).
    const candidates: MatchCandidate[] = await enrol(models, {
      speaker90: cut(10.57, 14.7),
      speaker91: cut(21.78, 28.5),
    });
    const inputs: TrackerInput[] = [];
    models.streamVad.reset();
    const live = await runTracker(
      conversation,
      () => candidates,
      { vad: models.streamVad, encoder: models.stack.encoder },
      IDENTIFICATION,
      undefined,
      undefined,
      inputs,
    );
    const file = path.join(dir, "conversation.json.gz");
    writeRecording(file, {
      encoder: "resemblyzer-0.1.4",
      modelId: models.stack.encoder.modelId,
      defaultThreshold: 0.82,
      streams: [
        {
          condition: "dry",
          seed: 1,
          audioSeconds: 30,
          truth: [],
          candidates,
          enrolledOnly: candidates,
          inputs,
        },
      ],
    });
    const [stream] = readRecording(file).streams;
    const replayed = replayTracker(stream.inputs, stream.candidates, IDENTIFICATION);

    expect(live.decisions.filter((d) => d.speakerId === "speaker90").length).toBeGreaterThan(0);
    expect(live.decisions.filter((d) => d.speakerId === "speaker91").length).toBeGreaterThan(0);
    expect(replayed.decisions).toEqual(live.decisions);
    expect(replayed.windows).toBe(live.windows);
  });

  it("refuse a file that is not one, saying so", () => {
    const file = path.join(dir, "not-a-recording.json.gz");
    writeFileSync(file, "{}");
    expect(() => readRecording(file)).toThrow(BenchSetupError);
    expect(() => readRecording(file)).toThrow(/not a recording/);
  });
});
