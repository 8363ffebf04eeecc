import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fillBoundedStores } from "../../scripts/bench/full-stores.js";
import { createConfigSchema } from "../../src/config/schema.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { Timeline } from "../../src/timeline/timeline.js";
import { silentLogger } from "../../src/util/log.js";
import { voiceStore } from "../voices/helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function enrolledDir(modelId: string, dim: number): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "voiceid-full-stores-"));
  dirs.push(dataDir);
  const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
  await registry.start();
  await registry.create("Alice");
  const voiceprint = Array.from({ length: dim }, (_, i) => (i === 0 ? 1 : 0));
  await registry.addSample("Alice", {
    voiceprints: { [modelId]: voiceprint },
    speechSeconds: 5,
    durationSeconds: 6,
    source: "cli",
  });
  await registry.stop();
  return dataDir;
}

describe("the soak's full stores", () => {
  it("are read by the daemon's timeline and store of unknown voices at their default bounds", async () => {
    const dataDir = await enrolledDir("resemblyzer-0.1.4", 256);
    const now = Date.now();
    const filled = await fillBoundedStores(dataDir, "resemblyzer-0.1.4", "soak", now);
    const defaults = createConfigSchema({}).parse({});
    expect(filled).toEqual({
      timelineTurns: defaults.timeline.maxTurns,
      keptTurns: defaults.unknownVoices.maxTurns,
    });

    const timeline = new Timeline({ ...defaults.timeline, dataDir, logger: silentLogger, now: () => now });
    await timeline.start();
    expect(timeline.turns(now - 24 * 3_600_000)).toHaveLength(defaults.timeline.maxTurns);
    await timeline.stop();

    const store = voiceStore(dataDir);
    await store.start();
    const voices = store.list({ ignored: false });
    expect(voices.reduce((n, v) => n + v.turns.length, 0)).toBe(defaults.unknownVoices.maxTurns);
    // Random voiceprints of the enrolled model's size: a new turn joins none of them.
    const turn = new Float32Array(256);
    turn[0] = 1;
    expect(store.recognise(turn)).toBeNull();
    await store.stop();
  });

  it("says so when nobody is enrolled with the model", async () => {
    const dataDir = await enrolledDir("campplus-zh-en", 512);
    await expect(fillBoundedStores(dataDir, "resemblyzer-0.1.4", "soak")).rejects.toThrow(
      /nobody .* is enrolled with resemblyzer-0.1.4/,
    );
  });
});
