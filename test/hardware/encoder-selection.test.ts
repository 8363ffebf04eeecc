import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE_CACHE_FILE, selectEncoder } from "../../src/hardware/encoder-selection.js";
import type { Manifest } from "../../src/models/manifest.js";
import { modelFilePath } from "../../src/models/paths.js";
import { silentLogger } from "../../src/util/log.js";
import { modelsDirWithEcapaFixture } from "../helpers/ecapa.js";
import { recordingLogger } from "../helpers/logger.js";

let modelsDir: string;
let manifest: Manifest;
const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-hardware-"));
  dirs.push(dir);
  return dir;
};
beforeAll(async () => {
  ({ modelsDir, manifest } = await modelsDirWithEcapaFixture());
  dirs.push(modelsDir);
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const base = () => ({
  configured: "auto" as const,
  modelsDir,
  manifest,
  maxRealTimeFactor: 0.15,
  gpu: "auto" as const,
  logger: silentLogger,
});

describe("selectEncoder on this machine", () => {
  it("detects the hardware, measures both installed encoders, chooses, and caches it all", async () => {
    const data = dataDir();
    const { logger, lines } = recordingLogger();
    const first = await selectEncoder({ ...base(), dataDir: data, logger });
    expect(first.cached).toBe(false);
    expect(first.installed).toEqual(["resemblyzer-0.1.4", "ecapa-voxceleb"]);
    expect(first.profile.cpu.cores).toBe(os.cpus().length);
    expect(first.profile.cpu.arch).toBe(os.arch());
    expect(first.profile.memoryBytes).toBeGreaterThan(os.totalmem() * 0.9);
    expect(first.profile.cpu.simd.length).toBeGreaterThan(0);
    // No GPU here: the CPU runs the encoders.
    expect(first.executionProvider).toBe(first.profile.nvidia ? "cuda" : "cpu");
    expect(first.measurements.map((m) => m.encoder)).toEqual(["resemblyzer-0.1.4", "ecapa-voxceleb"]);
    for (const m of first.measurements) {
      expect(m.msPerAudioSecond).toBeGreaterThan(0);
      expect(m.realTimeFactor).toBeCloseTo(m.msPerAudioSecond / 1000, 9);
    }
    // The small random-weight ECAPA is fast: within any budget here.
    expect(first.choice.encoder).toBe("ecapa-voxceleb");
    expect(first.choice.reason).toMatch(
      /^ECAPA-TDNN runs at real-time factor 0\.\d{3} on cpu, within the budget of 0.15$/,
    );
    expect(lines.filter((l) => l.startsWith("info measuring"))).toHaveLength(2);

    // Second start: nothing is detected or measured again; the budget still applies to the cached figures.
    const again = recordingLogger();
    const second = await selectEncoder({
      ...base(),
      dataDir: data,
      logger: again.logger,
      maxRealTimeFactor: 1e-6,
    });
    expect(second.cached).toBe(true);
    expect(second.measurements).toEqual(first.measurements);
    expect(second.choice.encoder).toBe("resemblyzer-0.1.4");
    expect(second.choice.reason).toMatch(/over the budget of 0.000001$/);
    expect(again.lines).toEqual([]);
  });

  it("measures again when the models change, and after a damaged cache", async () => {
    const data = dataDir();
    await selectEncoder({ ...base(), dataDir: data });
    const cacheFile = path.join(data, HARDWARE_CACHE_FILE);
    const cache = JSON.parse(readFileSync(cacheFile, "utf8"));
    expect(Object.keys(cache.key.encoders)).toEqual(["resemblyzer-0.1.4", "ecapa-voxceleb"]);

    // Another ECAPA model (its conversion record names another output hash): the cache no longer fits.
    const record = modelFilePath(modelsDir, "ecapa-voxceleb", "encoder.onnx.provenance.json");
    const original = readFileSync(record, "utf8");
    writeFileSync(record, JSON.stringify({ ...JSON.parse(original), sha256: "f".repeat(64) }));
    try {
      expect((await selectEncoder({ ...base(), dataDir: data })).cached).toBe(false);
    } finally {
      writeFileSync(record, original);
    }

    writeFileSync(cacheFile, "{ not json");
    const repaired = await selectEncoder({ ...base(), dataDir: data });
    expect(repaired.cached).toBe(false);
    expect(JSON.parse(readFileSync(cacheFile, "utf8")).measurements).toHaveLength(2);
  });

  it("runs a configured encoder without measuring anything, and keeps Resemblyzer when ECAPA is absent", async () => {
    const { logger, lines } = recordingLogger();
    const fixed = await selectEncoder({
      ...base(),
      dataDir: dataDir(),
      configured: "resemblyzer-0.1.4",
      logger,
    });
    expect(fixed.choice).toEqual({
      encoder: "resemblyzer-0.1.4",
      reason: "configured (identification.encoder: resemblyzer-0.1.4)",
    });
    expect(fixed.measurements).toEqual([]);
    expect(lines).toEqual([]);

    const empty = path.join(dataDir(), "models");
    const none = await selectEncoder({ ...base(), modelsDir: empty, dataDir: dataDir() });
    expect(none.installed).toEqual([]);
    expect(none.choice.encoder).toBe("resemblyzer-0.1.4");
    expect(none.choice.reason).toMatch(/ECAPA-TDNN is not installed/);
  });
});
