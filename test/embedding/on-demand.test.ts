import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { SpeakerEncoder } from "../../src/embedding/encoder.js";
import { createEncoder } from "../../src/embedding/factory.js";
import { OnDemandEncoder } from "../../src/embedding/on-demand.js";
import { createModelStack } from "../../src/embedding/stack.js";
import { silentLogger } from "../../src/util/log.js";
import { modelsDir } from "../helpers/paths.js";
import { librispeechWav, readWav16kMono } from "../vad/helpers.js";

/** The real Resemblyzer encoder, with a log of when its model is loaded and let go. */
function countedEncoder(modelPath?: string): { encoder: SpeakerEncoder; events: string[] } {
  const encoder = createEncoder("resemblyzer-0.1.4", { modelsDir, modelPath });
  const events: string[] = [];
  const start = encoder.start.bind(encoder);
  const stop = encoder.stop.bind(encoder);
  encoder.start = async () => {
    events.push("load");
    await start();
  };
  encoder.stop = async () => {
    events.push("release");
    await stop();
  };
  return { encoder, events };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const speech = readWav16kMono(librispeechWav("103-1240-0000.wav")).subarray(0, 3 * 16_000);

describe("OnDemandEncoder", () => {
  it("proves the model at start, holds it only while voiceprints are made, and gives the same voiceprints", async () => {
    const plain = createEncoder("resemblyzer-0.1.4", { modelsDir });
    await plain.start();
    const expected = await plain.embedUtterance(speech);
    await plain.stop();

    const { encoder, events } = countedEncoder();
    const onDemand = new OnDemandEncoder(encoder, 150);
    await onDemand.start();
    expect(events).toEqual(["load", "release"]);

    expect(await onDemand.embedUtterance(speech)).toEqual(expected);
    const [window] = await onDemand.embedWindows([speech.subarray(0, onDemand.windowSamples)]);
    expect(window).toHaveLength(onDemand.dim);
    expect(events).toEqual(["load", "release", "load"]);

    await sleep(400);
    expect(events).toEqual(["load", "release", "load", "release"]);
    expect(await onDemand.embedUtterance(speech)).toEqual(expected);
    expect(events).toEqual(["load", "release", "load", "release", "load"]);

    await onDemand.stop();
    expect(events.at(-1)).toBe("release");
    expect(onDemand.modelId).toBe("resemblyzer-0.1.4");
  });

  it("never lets the model go while a voiceprint is being made", async () => {
    const { encoder, events } = countedEncoder();
    // Idle time far shorter than one voiceprint of 20 s of speech.
    const onDemand = new OnDemandEncoder(encoder, 1);
    await onDemand.start();
    const long = readWav16kMono(librispeechWav("1034-121119-0000.wav"));
    const results = await Promise.all([
      onDemand.embedUtterance(long),
      sleep(5).then(() => onDemand.embedUtterance(speech)),
      sleep(10).then(() => onDemand.embedWindows([speech.subarray(0, onDemand.windowSamples)])),
    ]);
    expect(results[0]).toHaveLength(onDemand.dim);
    expect(results[1]).toHaveLength(onDemand.dim);
    // Loaded once for the three (the calls overlapped), let go only after the last.
    expect(events.slice(2)).toEqual(["load"]);
    await sleep(100);
    expect(events.slice(2)).toEqual(["load", "release"]);
    await onDemand.stop();
  });

  it("reports a missing model at start, not at the first voice", async () => {
    const { encoder } = countedEncoder("/nonexistent/encoder.onnx");
    await expect(new OnDemandEncoder(encoder, 1000).start()).rejects.toThrow(/encoder\.onnx/);
  });
});

describe("createModelStack", () => {
  const config = (releaseEncoderAfterSeconds: number) =>
    loadConfig({
      env: {},
      searchPaths: [],
      overrides: {
        dataDir: mkdtempSync(path.join(os.tmpdir(), "voiceid-stack-")),
        modelsDir,
        "hardware.releaseEncoderAfterSeconds": releaseEncoderAfterSeconds,
      },
    }).then((loaded) => loaded.config);

  it("gives the daemon an encoder let go while idle, and commands one loaded for their run", async () => {
    expect(
      (await createModelStack(await config(60), silentLogger, { forDaemon: true })).encoder,
    ).toBeInstanceOf(OnDemandEncoder);
    expect((await createModelStack(await config(60), silentLogger)).encoder).not.toBeInstanceOf(
      OnDemandEncoder,
    );
    expect(
      (await createModelStack(await config(0), silentLogger, { forDaemon: true })).encoder,
    ).not.toBeInstanceOf(OnDemandEncoder);
  });
});
