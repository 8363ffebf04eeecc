import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidSampleError, RegistryCorruptError } from "../../src/registry/errors.js";
import { type RegistryChange, SpeakerRegistry } from "../../src/registry/registry.js";
import type { Logger } from "../../src/util/log.js";
import { silentLogger } from "../../src/util/log.js";
import { sineWav, tempDir, unitVector } from "./helpers.js";

const MODEL = "resemblyzer-0.1.4";

function sample(seed: number, clip = true) {
  return {
    voiceprints: { [MODEL]: unitVector(seed) },
    speechSeconds: 4,
    durationSeconds: 5,
    source: "cli",
    ...(clip ? { clipWav: sineWav() } : {}),
  };
}

/** A logger that keeps what it was told. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = {
    lines,
    debug: () => {},
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string, f?: Record<string, unknown>) => lines.push(`warn ${m} ${JSON.stringify(f ?? {})}`),
    error: (m: string) => lines.push(`error ${m}`),
    child: () => logger,
  };
  return logger;
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe("start-up clean-up of what a crash left behind", () => {
  it("removes temp files and clips no sample refers to, keeps every referenced clip, and logs it", async () => {
    const dataDir = await tempDir();
    const first = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await first.start();
    await first.create("Alice");
    const kept = await first.addSample("alice", sample(1));
    await first.create("Bob");
    await first.stop();
    // What kill -9 leaves: a clip written before its registry commit, a half-written clip, a temp registry,
    // and the folder of a speaker whose creation never committed.
    const clips = path.join(dataDir, "clips");
    await writeFile(path.join(clips, "alice", "0123456789.wav"), sineWav());
    await writeFile(path.join(clips, "alice", ".0123456789.wav.tmp"), "RIFF");
    await mkdir(path.join(clips, "carol"));
    await writeFile(path.join(clips, "carol", "abcdef0123.wav"), sineWav());
    await writeFile(path.join(dataDir, ".registry.json.tmp"), '{"version": 1, "spea');

    const log = recordingLogger();
    const second = new SpeakerRegistry({ dataDir, logger: log });
    await second.start();
    expect(await filesUnder(dataDir)).toEqual([
      path.join("clips", "alice", `${kept.id}.wav`),
      "registry.json",
    ]);
    expect(await readdir(clips)).toEqual(["alice"]);
    const line = log.lines.find((l) => l.startsWith("warn removed files"));
    expect(line).toMatch(/"count":4/);
    expect(line).toMatch(/carol\/abcdef0123\.wav/);
    expect(second.get("alice")!.samples.map((s) => s.id)).toEqual([kept.id]);
    await second.stop();
  });

  it("removes every clip when clips are not kept, and nothing when all is in order", async () => {
    const dataDir = await tempDir();
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start();
    await registry.create("Alice");
    await registry.addSample("alice", sample(1));
    await registry.addSample("alice", sample(2, false));
    await registry.stop();
    const log = recordingLogger();
    const again = new SpeakerRegistry({ dataDir, logger: log });
    await again.start();
    expect(log.lines.filter((l) => l.startsWith("warn"))).toEqual([]);
    expect((await filesUnder(path.join(dataDir, "clips"))).length).toBe(1);
    await again.stop();
  });
});

describe("one enrolment, one commit", () => {
  it("adds a batch of samples (and creates the speaker) in a single write and a single change", async () => {
    const dataDir = await tempDir();
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start();
    const changes: RegistryChange[] = [];
    registry.onChange((c) => {
      changes.push(c);
    });
    const result = await registry.addSamples({ createNamed: "Alice" }, [sample(1), sample(2), sample(3)]);
    expect(result.created).toBe(true);
    expect(result.samples).toHaveLength(3);
    expect(changes.map((c) => c.kind)).toEqual(["created"]);
    const onDisk = JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8"));
    expect(onDisk.speakers[0].samples).toHaveLength(3);
    expect(await filesUnder(path.join(dataDir, "clips"))).toHaveLength(3);

    // A batch with one bad sample (wrong dimension) writes none of it, clips included.
    const bad = { ...sample(9), voiceprints: { [MODEL]: unitVector(9, 64) } };
    await expect(registry.addSamples({ speaker: "alice" }, [sample(4), bad])).rejects.toBeInstanceOf(
      InvalidSampleError,
    );
    expect(registry.get("alice")!.samples).toHaveLength(3);
    expect(await filesUnder(path.join(dataDir, "clips"))).toHaveLength(3);
    // Joining an existing speaker by name, in one commit too.
    const joined = await registry.addSamples({ createNamed: "alice" }, [sample(5)]);
    expect(joined.created).toBe(false);
    expect(changes.map((c) => c.kind)).toEqual(["created", "samples"]);
    await registry.stop();
  });
});

describe("registry.json broken while running", () => {
  it("keeps the last good copy, says so in `problem`, refuses writes, and recovers when repaired", async () => {
    const dataDir = await tempDir();
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start();
    await registry.create("Alice");
    const file = path.join(dataDir, "registry.json");
    const good = await readFile(file, "utf8");
    expect(registry.problem).toBeNull();

    await writeFile(file, '{"version": 1, "speakers": [{"id": "Not A Slug"');
    await expect(registry.create("Bob")).rejects.toBeInstanceOf(RegistryCorruptError);
    expect(registry.problem).toBeInstanceOf(RegistryCorruptError);
    expect(registry.list().map((s) => s.name)).toEqual(["Alice"]);
    // Never overwritten.
    expect(await readFile(file, "utf8")).toMatch(/Not A Slug/);

    await writeFile(file, good);
    await registry.create("Bob");
    expect(registry.problem).toBeNull();
    expect(registry.list().map((s) => s.name)).toEqual(["Alice", "Bob"]);
    await registry.stop();
  });

  it("notices it through the watch, without a write", async () => {
    const dataDir = await tempDir();
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start();
    await registry.create("Alice");
    registry.watch();
    await writeFile(path.join(dataDir, "registry.json"), "not json");
    for (let i = 0; i < 100 && registry.problem === null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(registry.problem?.message).toMatch(/not valid JSON/);
    await registry.stop();
  });
});

describe("a lock file left by a process killed while taking it", () => {
  it("is taken over once it is a second old, so the next start and write go ahead", async () => {
    const dataDir = await tempDir();
    const first = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await first.start();
    await first.create("Alice");
    await first.stop();
    // kill -9 between creating the lock file and writing the pid into it.
    const lock = path.join(dataDir, "registry.json.lock");
    await writeFile(lock, "");
    const past = new Date(Date.now() - 2000);
    await utimes(lock, past, past);
    const second = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await second.start();
    await second.create("Bob");
    expect(second.list().map((s) => s.name)).toEqual(["Alice", "Bob"]);
    expect(existsSync(lock)).toBe(false);
    await second.stop();
  });
});
