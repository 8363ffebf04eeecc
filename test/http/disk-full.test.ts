import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";
import { librispeech, type RealPipeline, realPipeline, type TempRegistry } from "../enrolment/helpers.js";
import { errorOf, makeApp, wavRequest } from "./helpers.js";

/**
 * A full disk for real: the data directory sits on a tmpfs of 160 KiB, too small for a second
 * enrolment clip. Mounting needs root (the CI runs as root); where the sandbox forbids mounts the
 * test cannot be run and is reported as skipped.
 */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(path.join(tmpdir(), "voiceid-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

describe.runIf(canMountTmpfs())("enrolment on a full disk", () => {
  let mountPoint: string;
  let pipeline: RealPipeline;
  let temp: TempRegistry;

  beforeAll(async () => {
    pipeline = await realPipeline();
    mountPoint = await mkdtemp(path.join(tmpdir(), "voiceid-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=160k", "tmpfs", mountPoint]);
    const registry = new SpeakerRegistry({ dataDir: mountPoint, logger: silentLogger });
    await registry.start();
    temp = { registry, dataDir: mountPoint, clipFiles: async () => [], dispose: () => registry.stop() };
  });
  afterAll(async () => {
    await temp?.dispose();
    await pipeline?.stop();
    if (mountPoint) {
      execFileSync("umount", [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });

  it("answers 507 with a plain reason and keeps what was saved before", async () => {
    const t = makeApp(pipeline, temp);
    await temp.registry.create("Alice");
    // ~100 KiB of WAV: the first one fits, the second does not.
    const samples = readWavAs16kMono(await librispeech("103"));
    const clip = encodePcm16Wav(samples.subarray(0, 16_000 * 3.2), 16_000);
    const first = await t.app.request("/api/speakers/alice/samples", wavRequest(clip));
    expect(first.status).toBe(201);
    const before = await readFile(path.join(mountPoint, "registry.json"), "utf8");

    const second = await t.app.request("/api/speakers/alice/samples", wavRequest(clip));
    const error = await errorOf(second);
    expect(error.status).toBe(507);
    expect(error.code).toBe("disk_full");
    expect(error.message).toMatch(/disk .* full; nothing was saved/);
    // Nothing half-written: the registry on disk and in memory still has exactly the first sample.
    expect(await readFile(path.join(mountPoint, "registry.json"), "utf8")).toBe(before);
    expect(temp.registry.get("alice")?.samples).toHaveLength(1);
  });
});
