import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  InvalidSampleError,
  InvalidSpeakerNameError,
  InvalidThresholdError,
  LookAlikeNameError,
  RegistryCorruptError,
  RegistryNotStartedError,
  RegistryWriteError,
  SampleNotFoundError,
  SpeakerExistsError,
  SpeakerNotFoundError,
} from "../../src/registry/errors.js";
import { type NewSample, type RegistryChange, SpeakerRegistry } from "../../src/registry/registry.js";
import { tempPathFor } from "../../src/registry/storage.js";
import { silentLogger } from "../../src/util/log.js";
import { sineWav, tempDir, unitVector } from "./helpers.js";

const MODEL = "resemblyzer-0.1.4";

async function openRegistry(dataDir: string): Promise<SpeakerRegistry> {
  const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
  await registry.start();
  return registry;
}

function sample(seed: number, extra: Partial<NewSample> = {}): NewSample {
  return {
    voiceprints: { [MODEL]: unitVector(seed) },
    speechSeconds: 4.5,
    durationSeconds: 6,
    source: "cli",
    ...extra,
  };
}

describe("SpeakerRegistry persistence", () => {
  it("starts empty without a file and creates the data dir on the first write", async () => {
    const dataDir = path.join(await tempDir(), "nested", "data");
    const registry = await openRegistry(dataDir);
    expect(registry.list()).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);

    await registry.create("Alice");
    const json = JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8"));
    expect(json.version).toBe(1);
    expect(json.speakers).toHaveLength(1);
    expect(json.speakers[0]).toMatchObject({ id: "alice", name: "Alice", samples: [] });
    // Voiceprints are biometric data.
    expect((await stat(path.join(dataDir, "registry.json"))).mode & 0o777).toBe(0o600);
  });

  it("round-trips everything through the file: a new instance reads what the old one wrote", async () => {
    const dataDir = await tempDir();
    const first = await openRegistry(dataDir);
    const alice = await first.create("Alice", { thresholds: { [MODEL]: 0.8 } });
    await first.create("Bob");
    const clip = sineWav();
    const s1 = await first.addSample(alice.id, sample(1, { clipWav: clip, source: "http" }));
    await first.addSample("bob", sample(2, { voiceprints: { [MODEL]: new Float32Array(unitVector(2)) } }));
    const written = first.list();
    await first.stop();

    const second = await openRegistry(dataDir);
    expect(second.list()).toEqual(written);
    const loaded = second.get("alice")!;
    expect(loaded.thresholds).toEqual({ [MODEL]: 0.8 });
    expect(loaded.samples).toHaveLength(1);
    expect(loaded.samples[0]).toEqual(s1);
    expect(loaded.samples[0].source).toBe("http");
    expect(loaded.samples[0].clip).toBe(`clips/alice/${s1.id}.wav`);
    expect(loaded.samples[0].voiceprints[MODEL]).toEqual(unitVector(1));
    expect(new Uint8Array(await readFile(path.join(dataDir, loaded.samples[0].clip!)))).toEqual(clip);
    // Float32Array input is stored as plain numbers (float32 precision).
    expect(second.get("Bob")!.samples[0].voiceprints[MODEL]).toEqual(
      Array.from(new Float32Array(unitVector(2))),
    );
    expect(Date.parse(loaded.createdAt)).not.toBeNaN();
  });

  it("replaces the file atomically and leaves no temp files behind", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    for (let i = 0; i < 5; i++) await registry.addSample("alice", sample(i, { clipWav: sineWav() }));
    await registry.rename("alice", "Alicia");
    await registry.removeSample("alice", registry.get("alice")!.samples[0].id);

    expect((await readdir(dataDir)).sort()).toEqual(["clips", "registry.json"]);
    const clips = await readdir(path.join(dataDir, "clips", "alice"));
    expect(clips.sort()).toEqual(
      registry
        .get("alice")!
        .samples.map((s) => `${s.id}.wav`)
        .sort(),
    );
  });

  it("ignores and removes a half-written temp file left by a crash", async () => {
    const dataDir = await tempDir();
    const first = await openRegistry(dataDir);
    await first.create("Alice");
    await first.stop();
    const before = await readFile(path.join(dataDir, "registry.json"));
    // A crash after writing part of the temp file but before the rename.
    await writeFile(
      tempPathFor(path.join(dataDir, "registry.json")),
      '{"version": 1, "speakers": [{"id": "al',
    );

    const second = await openRegistry(dataDir);
    expect(second.list().map((s) => s.name)).toEqual(["Alice"]);
    expect(await readdir(dataDir)).toEqual(["registry.json"]);
    expect(await readFile(path.join(dataDir, "registry.json"))).toEqual(before);
  });
});

describe("SpeakerRegistry with an unusable registry.json", () => {
  const validSpeaker = {
    id: "alice",
    name: "Alice",
    createdAt: "2024-05-01T10:00:00.000Z",
    updatedAt: "2024-05-01T10:00:00.000Z",
    samples: [],
  };
  /** registry.json holding Alice with one sample made of `fields` on top of a valid one. */
  const withSample = (fields: Record<string, unknown>) =>
    JSON.stringify({
      version: 1,
      speakers: [
        {
          ...validSpeaker,
          samples: [
            {
              id: "abc",
              createdAt: validSpeaker.createdAt,
              speechSeconds: 1,
              durationSeconds: 1,
              source: "cli",
              ...fields,
            },
          ],
        },
      ],
    });
  const cases: { what: string; content: string; problem: RegExp }[] = [
    { what: "bad JSON", content: '{"version": 1, "speakers": [', problem: /not valid JSON/ },
    { what: "an empty file", content: "", problem: /it is empty/ },
    { what: "a JSON array", content: "[]", problem: /expected shape/ },
    {
      what: "a speaker with a bad id",
      content: JSON.stringify({ version: 1, speakers: [{ ...validSpeaker, id: "Alice!" }] }),
      problem: /speakers\[0\]\.id/,
    },
    {
      what: "voiceprints of the wrong type",
      content: withSample({ voiceprints: { [MODEL]: ["0.1"] } }),
      problem: /speakers\[0\]\.samples\[0\]\.voiceprints/,
    },
    {
      what: "a clip path outside the clips dir",
      content: withSample({ clip: "../../etc/passwd", voiceprints: { [MODEL]: [1, 0] } }),
      problem: /clip/,
    },
    {
      what: "duplicate names",
      content: JSON.stringify({
        version: 1,
        speakers: [validSpeaker, { ...validSpeaker, id: "alice-2", name: "ALICE" }],
      }),
      problem: /duplicate name/,
    },
    {
      what: "a newer format version",
      content: JSON.stringify({ version: 2, speakers: [] }),
      problem: /format version 2/,
    },
  ];

  for (const { what, content, problem } of cases) {
    it(`refuses ${what} and never overwrites it`, async () => {
      const dataDir = await tempDir();
      const file = path.join(dataDir, "registry.json");
      await writeFile(file, content);
      const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });

      const err = await registry.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryCorruptError);
      const corrupt = err as RegistryCorruptError;
      expect(corrupt.code).toBe("registry_corrupt");
      expect(corrupt.file).toBe(file);
      expect(corrupt.message).toContain(file);
      expect(corrupt.message).toMatch(problem);
      expect(corrupt.message).toContain("left untouched");

      // Every later write attempt fails the same way and does not touch the file.
      await expect(registry.create("Bob")).rejects.toBeInstanceOf(RegistryCorruptError);
      await expect(registry.addSample("alice", sample(1))).rejects.toBeInstanceOf(RegistryCorruptError);
      await expect(registry.remove("alice")).rejects.toBeInstanceOf(RegistryCorruptError);
      expect(() => registry.list()).toThrow(RegistryCorruptError);
      expect(await readFile(file, "utf8")).toBe(content);
      expect(await readdir(dataDir)).toEqual(["registry.json"]);
    });
  }

  it("refuses an unreadable registry.json (a directory in its place)", async () => {
    const dataDir = await tempDir();
    await mkdir(path.join(dataDir, "registry.json"));
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await expect(registry.start()).rejects.toThrow(/could not be read \(EISDIR/);
  });

  it("refuses a data dir whose parent is a file", async () => {
    const root = await tempDir();
    await writeFile(path.join(root, "not-a-dir"), "x");
    const registry = new SpeakerRegistry({
      dataDir: path.join(root, "not-a-dir", "data"),
      logger: silentLogger,
    });
    await expect(registry.start()).rejects.toThrow(/ENOTDIR/);
    await expect(registry.create("Bob")).rejects.toBeInstanceOf(RegistryCorruptError);
  });

  it("starts once the file is repaired", async () => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, "registry.json");
    await writeFile(file, "garbage");
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await expect(registry.start()).rejects.toBeInstanceOf(RegistryCorruptError);
    await writeFile(file, JSON.stringify({ version: 1, speakers: [validSpeaker] }));
    await registry.start();
    expect(registry.get("ALICE")?.id).toBe("alice");
  });
});

describe("SpeakerRegistry write failures", () => {
  it("rejects, keeps memory equal to disk and removes the clip when registry.json cannot be replaced", async () => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, "registry.json");
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    await registry.addSample("alice", sample(1, { clipWav: sineWav() }));
    const before = await readFile(file);
    const listBefore = registry.list();
    const changes: RegistryChange[] = [];
    registry.onChange((c) => {
      changes.push(c);
    });

    // A directory where the temp file goes makes open() fail with EISDIR, even for root.
    await mkdir(tempPathFor(file));

    const err = await registry.create("Bob").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryWriteError);
    expect((err as RegistryWriteError).code).toBe("registry_write_failed");
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain("EISDIR");
    expect((err as Error).message).toContain("not applied");

    await expect(registry.addSample("alice", sample(2, { clipWav: sineWav() }))).rejects.toBeInstanceOf(
      RegistryWriteError,
    );
    await expect(registry.rename("alice", "Alicia")).rejects.toBeInstanceOf(RegistryWriteError);
    await expect(registry.setThreshold("alice", MODEL, 0.5)).rejects.toBeInstanceOf(RegistryWriteError);
    await expect(registry.remove("alice")).rejects.toBeInstanceOf(RegistryWriteError);

    // Nothing half-applied: memory, disk and clips are as before the failures, and no one was notified.
    expect(registry.list()).toEqual(listBefore);
    expect(await readFile(file)).toEqual(before);
    expect(await readdir(path.join(dataDir, "clips", "alice"))).toEqual([
      `${listBefore[0].samples[0].id}.wav`,
    ]);
    expect(changes).toEqual([]);

    // Once the obstacle is gone, writes work again and the failed changes never appear.
    await rmdir(tempPathFor(file));
    await registry.create("Carol");
    const reopened = await openRegistry(dataDir);
    expect(reopened.list().map((s) => s.name)).toEqual(["Alice", "Carol"]);
    expect(reopened.get("alice")!.samples).toHaveLength(1);
    expect(reopened.get("alice")!.thresholds).toBeUndefined();
  });

  it("rejects and adds nothing when the clip cannot be written (a file where the clips dir should be)", async () => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, "registry.json");
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    const before = await readFile(file);
    await writeFile(path.join(dataDir, "clips"), "not a directory");

    const err = await registry.addSample("alice", sample(1, { clipWav: sineWav() })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryWriteError);
    expect((err as Error).message).toMatch(/clips\/alice\/[0-9a-f]+\.wav: (ENOTDIR|EEXIST)/);
    expect(registry.get("alice")!.samples).toEqual([]);
    expect(await readFile(file)).toEqual(before);
    // Without a clip the same sample is fine.
    await registry.addSample("alice", sample(1));
    expect((await openRegistry(dataDir)).get("alice")!.samples).toHaveLength(1);
  });
});

describe("SpeakerRegistry concurrency", () => {
  it("lands all of 20 concurrent addSample calls", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    const added = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        registry.addSample("alice", sample(i, { clipWav: i % 2 === 0 ? sineWav(0.05) : undefined })),
      ),
    );
    expect(new Set(added.map((s) => s.id)).size).toBe(20);
    expect(registry.get("alice")!.samples).toHaveLength(20);

    const reopened = await openRegistry(dataDir);
    const ids = reopened.get("alice")!.samples.map((s) => s.id);
    expect(ids.sort()).toEqual(added.map((s) => s.id).sort());
    expect(await readdir(path.join(dataDir, "clips", "alice"))).toHaveLength(10);
    expect((await readdir(dataDir)).sort()).toEqual(["clips", "registry.json"]);
  });

  it("lets exactly one of several concurrent creates with the same name win", async () => {
    const registry = await openRegistry(await tempDir());
    const results = await Promise.allSettled(
      ["Carol", "carol", "CAROL", " Carol ", "Dave"].map((n) => registry.create(n)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(rejected).toHaveLength(3);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(SpeakerExistsError);
    expect(registry.list().map((s) => s.id)).toEqual(["carol", "dave"]);
  });
});

describe("SpeakerRegistry speakers", () => {
  it("validates names", async () => {
    const registry = await openRegistry(await tempDir());
    const bad = [
      "",
      "   ",
      "a".repeat(65),
      "bad\nname",
      "tab\tname",
      "semi;colon",
      "slash/name",
      "emoji 😀",
      "x\u0000",
    ];
    for (const name of bad) {
      const err = await registry.create(name).catch((e: unknown) => e);
      expect(err, JSON.stringify(name)).toBeInstanceOf(InvalidSpeakerNameError);
      expect((err as InvalidSpeakerNameError).code).toBe("invalid_speaker_name");
    }
    expect(registry.list()).toEqual([]);

    const zoe = await registry.create("  Zoë O'Brien-Smith 2.0_x ");
    expect(zoe).toMatchObject({ id: "zoe-o-brien-smith-2-0-x", name: "Zoë O'Brien-Smith 2.0_x" });
    expect((await registry.create("a".repeat(64))).name).toHaveLength(64);
    // Non-Latin names are fine; their id falls back to a generic slug.
    expect(await registry.create("Жанна")).toMatchObject({ id: "speaker", name: "Жанна" });
    expect((await registry.create("王芳")).id).toBe("speaker-2");
  });

  it("derives unique stable ids and rejects duplicate names case-insensitively", async () => {
    const registry = await openRegistry(await tempDir());
    expect((await registry.create("Alice")).id).toBe("alice");
    const err = await registry.create("ALICE").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpeakerExistsError);
    expect((err as SpeakerExistsError).code).toBe("speaker_exists");
    expect((err as Error).message).toContain('"alice"');
    expect((await registry.create("Alice.")).id).toBe("alice-2");
    expect((await registry.create("alice 2")).id).toBe("alice-2-2");
  });

  it("refuses a name that looks like another's, and keeps those a registry already holds", async () => {
    const dataDir = await tempDir();
    const now = new Date().toISOString();
    const person = (id: string, name: string) => ({ id, name, createdAt: now, updatedAt: now, samples: [] });
    // Written before names were compared by how they look: every one of them has to load as it is.
    const legacy = [
      person("alice", "Alice"),
      person("alice-2", "Ａｌｉｃｅ"),
      person("unknown-2", "Unknown"),
      person("strasse", "STRASSE"),
      person("strae", "Straße"),
    ];
    const file = path.join(dataDir, "registry.json");
    await writeFile(file, JSON.stringify({ version: 1, speakers: legacy }));
    const registry = await openRegistry(dataDir);
    expect(registry.list().map((s) => [s.id, s.name])).toEqual(legacy.map((s) => [s.id, s.name]));

    const before = await readFile(file, "utf8");
    const refusal = (name: string) =>
      registry.create(name).then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect((await refusal("\u0410LICE"))?.message).toBe(
      'invalid speaker name "\u0410LICE": mixes Latin and Cyrillic letters, which look alike; write it in one script',
    );
    expect(await refusal("Ａlice")).toBeInstanceOf(LookAlikeNameError);
    expect((await refusal("AIice"))?.message).toBe(
      '"AIice" looks like the name of speaker "Alice" (id "alice"); choose a name that reads differently',
    );
    expect(await refusal("strasse")).toBeInstanceOf(SpeakerExistsError);
    expect(await refusal("Nobody")).toBeInstanceOf(InvalidSpeakerNameError);
    await expect(registry.rename("strae", "Alice ")).rejects.toBeInstanceOf(SpeakerExistsError);
    expect(await readFile(file, "utf8")).toBe(before);

    // The people themselves carry on: a reserved name gets samples by name, look-alikes can be renamed.
    await registry.addSamples({ createNamed: "Unknown" }, [sample(1)]);
    expect(registry.get("unknown-2")!.samples).toHaveLength(1);
    expect(await registry.rename("alice-2", "Alicia")).toMatchObject({ id: "alice-2", name: "Alicia" });
    expect(await registry.rename("strae", "Straßmann")).toMatchObject({ id: "strae", name: "Straßmann" });
    const reopened = await openRegistry(dataDir);
    expect(reopened.list().map((s) => s.name)).toEqual([
      "Alice",
      "Alicia",
      "Unknown",
      "STRASSE",
      "Straßmann",
    ]);
  });

  it("finds speakers by id or case-insensitive name", async () => {
    const registry = await openRegistry(await tempDir());
    await registry.create("Mary Ann");
    expect(registry.get("mary-ann")?.name).toBe("Mary Ann");
    expect(registry.get("MARY ANN")?.id).toBe("mary-ann");
    expect(registry.get("nobody")).toBeUndefined();
    // Returned objects are copies.
    registry.get("mary-ann")!.name = "changed";
    expect(registry.get("mary-ann")!.name).toBe("Mary Ann");
  });

  it("renames without changing the id", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    await registry.create("Bob");
    await registry.addSample("alice", sample(1));
    const renamed = await registry.rename("alice", "Alicia");
    expect(renamed).toMatchObject({ id: "alice", name: "Alicia" });
    expect(registry.get("Alicia")?.samples).toHaveLength(1);
    expect(registry.get("alice")?.name).toBe("Alicia");
    expect(registry.get("Alice")).toBeUndefined(); // the old name is gone; ids are case-sensitive slugs
    await expect(registry.rename("alice", "bob")).rejects.toBeInstanceOf(SpeakerExistsError);
    await expect(registry.rename("alice", "no/slash")).rejects.toBeInstanceOf(InvalidSpeakerNameError);
    await expect(registry.rename("nobody", "Zed")).rejects.toBeInstanceOf(SpeakerNotFoundError);
    // Changing only the case of one's own name is allowed.
    expect((await registry.rename("alice", "ALICIA")).name).toBe("ALICIA");
    expect((await openRegistry(dataDir)).get("alice")?.name).toBe("ALICIA");
  });

  it("sets and clears the per-speaker threshold, per encoder model", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await expect(registry.create("Alice", { thresholds: { [MODEL]: 1.5 } })).rejects.toBeInstanceOf(
      InvalidThresholdError,
    );
    await registry.create("Alice", { thresholds: { [MODEL]: 0.7 } });
    for (const bad of [-0.1, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = await registry.setThreshold("alice", MODEL, bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidThresholdError);
      expect((err as InvalidThresholdError).code).toBe("invalid_threshold");
    }
    expect((await registry.setThreshold("alice", MODEL, 0.9)).thresholds).toEqual({ [MODEL]: 0.9 });
    // Another model's override sits beside it: cosine scales differ by model.
    await registry.setThreshold("alice", "ecapa-voxceleb", 0.3);
    expect((await openRegistry(dataDir)).get("alice")?.thresholds).toEqual({
      [MODEL]: 0.9,
      "ecapa-voxceleb": 0.3,
    });
    expect(registry.candidates(MODEL)).toEqual([]);
    await registry.setThreshold("alice", MODEL, null);
    expect(registry.get("alice")?.thresholds).toEqual({ "ecapa-voxceleb": 0.3 });
    await registry.setThreshold("alice", "ecapa-voxceleb", null);
    const raw = JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8"));
    expect(raw.speakers[0]).not.toHaveProperty("thresholds");
    expect(registry.get("alice")?.thresholds).toBeUndefined();
  });

  it("reads a registry written before per-model thresholds: its threshold was Resemblyzer's", async () => {
    const dataDir = await tempDir();
    const now = new Date().toISOString();
    await writeFile(
      path.join(dataDir, "registry.json"),
      JSON.stringify({
        version: 1,
        speakers: [
          { id: "alice", name: "Alice", createdAt: now, updatedAt: now, threshold: 0.77, samples: [] },
        ],
      }),
    );
    const registry = await openRegistry(dataDir);
    expect(registry.get("alice")?.thresholds).toEqual({ [MODEL]: 0.77 });
    await registry.rename("alice", "Alicia");
    const raw = JSON.parse(await readFile(path.join(dataDir, "registry.json"), "utf8"));
    expect(raw.speakers[0]).not.toHaveProperty("threshold");
    expect(raw.speakers[0].thresholds).toEqual({ [MODEL]: 0.77 });
  });

  it("removes a speaker together with its clips", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    await registry.create("Bob");
    await registry.addSample("alice", sample(1, { clipWav: sineWav() }));
    await registry.addSample("alice", sample(2, { clipWav: sineWav() }));
    await registry.addSample("bob", sample(3, { clipWav: sineWav() }));

    const removed = await registry.remove("Alice");
    expect(removed.id).toBe("alice");
    expect(registry.get("alice")).toBeUndefined();
    expect(existsSync(path.join(dataDir, "clips", "alice"))).toBe(false);
    expect(await readdir(path.join(dataDir, "clips", "bob"))).toHaveLength(1);
    await expect(registry.remove("alice")).rejects.toBeInstanceOf(SpeakerNotFoundError);
    expect((await openRegistry(dataDir)).list().map((s) => s.id)).toEqual(["bob"]);
  });

  it("throws SpeakerNotFoundError with its code for unknown speakers", async () => {
    const registry = await openRegistry(await tempDir());
    const err = await registry.addSample("ghost", sample(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpeakerNotFoundError);
    expect((err as SpeakerNotFoundError).code).toBe("speaker_not_found");
    expect(() => registry.centroid("ghost", MODEL)).toThrow(SpeakerNotFoundError);
  });
});

describe("SpeakerRegistry samples", () => {
  it("removes a sample and its clip", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    const a = await registry.addSample("alice", sample(1, { clipWav: sineWav() }));
    const b = await registry.addSample("alice", sample(2, { clipWav: sineWav() }));
    expect((await registry.removeSample("alice", a.id)).id).toBe(a.id);
    expect(registry.get("alice")!.samples.map((s) => s.id)).toEqual([b.id]);
    expect(await readdir(path.join(dataDir, "clips", "alice"))).toEqual([`${b.id}.wav`]);
    const err = await registry.removeSample("alice", a.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SampleNotFoundError);
    expect((err as SampleNotFoundError).code).toBe("sample_not_found");
  });

  it("rejects invalid samples without writing anything", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    await registry.addSample("alice", sample(1));
    const before = await readFile(path.join(dataDir, "registry.json"));
    const bad: [string, NewSample][] = [
      ["no voiceprints", sample(2, { voiceprints: {} })],
      ["empty vector", sample(2, { voiceprints: { [MODEL]: [] } })],
      ["NaN", sample(2, { voiceprints: { [MODEL]: [Number.NaN, ...unitVector(2, 255)] } })],
      ["dimension mismatch", sample(2, { voiceprints: { [MODEL]: unitVector(2, 128) } })],
      ["bad model id", sample(2, { voiceprints: { "": unitVector(2) } })],
      ["negative seconds", sample(2, { speechSeconds: -1 })],
      ["empty source", sample(2, { source: "" })],
      [
        "clip that is not a WAV",
        sample(2, { clipWav: new TextEncoder().encode("definitely not a wav file") }),
      ],
    ];
    for (const [what, input] of bad) {
      const err = await registry.addSample("alice", input).catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(InvalidSampleError);
      expect((err as InvalidSampleError).code).toBe("invalid_sample");
    }
    expect(registry.get("alice")!.samples).toHaveLength(1);
    expect(await readFile(path.join(dataDir, "registry.json"))).toEqual(before);
    expect(existsSync(path.join(dataDir, "clips"))).toBe(false);
  });

  it("computes the centroid as the L2-normalised mean of one model's voiceprints", async () => {
    const registry = await openRegistry(await tempDir());
    await registry.create("Alice");
    await registry.create("Bob");
    expect(registry.centroid("alice", "m")).toBeNull();
    await registry.addSample("alice", sample(0, { voiceprints: { m: [1, 0, 0], other: [0, 0, 2] } }));
    await registry.addSample("alice", sample(0, { voiceprints: { m: [0, 1, 0] } }));
    await registry.addSample("alice", sample(0, { voiceprints: { other: [0, 2, 0] } }));

    const c = registry.centroid(registry.get("alice")!, "m")!;
    expect(c).toBeInstanceOf(Float32Array);
    expect(Array.from(c)).toEqual(Array.from(new Float32Array([Math.SQRT1_2, Math.SQRT1_2, 0])));
    expect(Array.from(registry.centroid("alice", "other")!)).toEqual(
      Array.from(new Float32Array([0, Math.SQRT1_2, Math.SQRT1_2])),
    );
    expect(registry.centroid("bob", "m")).toBeNull();
    expect(registry.centroid("alice", "unknown-model")).toBeNull();

    // The cache is invalidated by changes.
    await registry.addSample("alice", sample(0, { voiceprints: { m: [0, 0, 1] } }));
    const third = 1 / Math.sqrt(3);
    const c2 = Array.from(registry.centroid("alice", "m")!);
    for (const x of c2) expect(x).toBeCloseTo(third, 6);
    // Callers get copies.
    registry.centroid("alice", "m")![0] = 99;
    expect(registry.centroid("alice", "m")![0]).toBeCloseTo(third, 6);
  });

  it("lists match candidates with threshold overrides, skipping speakers without that model", async () => {
    const registry = await openRegistry(await tempDir());
    await registry.create("Alice", { thresholds: { m: 0.9, other: 0.1 } });
    await registry.create("Bob");
    await registry.create("Carol");
    await registry.addSample("alice", sample(0, { voiceprints: { m: [1, 0] } }));
    await registry.addSample("bob", sample(0, { voiceprints: { m: [0, 1] } }));
    await registry.addSample("carol", sample(0, { voiceprints: { other: [0, 1] } }));
    const candidates = registry.candidates("m");
    expect(candidates.map((c) => [c.id, c.name, c.threshold])).toEqual([
      ["alice", "Alice", 0.9],
      ["bob", "Bob", undefined],
    ]);
    expect(Array.from(candidates[1].centroid)).toEqual([0, 1]);
  });

  it("finds samples missing a model and stores re-embedded voiceprints", async () => {
    const dataDir = await tempDir();
    const registry = await openRegistry(dataDir);
    await registry.create("Alice");
    const withClip = await registry.addSample(
      "alice",
      sample(0, { voiceprints: { old: [1, 0] }, clipWav: sineWav() }),
    );
    const withoutClip = await registry.addSample("alice", sample(0, { voiceprints: { old: [0, 1] } }));
    await registry.addSample("alice", sample(0, { voiceprints: { old: [1, 1], new: [1, 0, 0] } }));

    const missing = registry.samplesMissingModel("new");
    expect(missing).toEqual([
      {
        speakerId: "alice",
        speakerName: "Alice",
        sampleId: withClip.id,
        clipPath: path.join(dataDir, "clips", "alice", `${withClip.id}.wav`),
        onlySimulated: false,
      },
      {
        speakerId: "alice",
        speakerName: "Alice",
        sampleId: withoutClip.id,
        clipPath: null,
        onlySimulated: false,
      },
    ]);
    expect(existsSync(missing[0].clipPath!)).toBe(true);

    await expect(registry.setVoiceprint("alice", withClip.id, "new", [1, 0])).rejects.toBeInstanceOf(
      InvalidSampleError,
    );
    await expect(registry.setVoiceprint("alice", "nope", "new", [0, 1, 0])).rejects.toBeInstanceOf(
      SampleNotFoundError,
    );
    const updated = await registry.setVoiceprint("alice", withClip.id, "new", new Float32Array([0, 1, 0]));
    expect(updated.voiceprints).toEqual({ old: [1, 0], new: [0, 1, 0] });
    expect(registry.samplesMissingModel("new").map((m) => m.sampleId)).toEqual([withoutClip.id]);
    expect((await openRegistry(dataDir)).samplesMissingModel("new").map((m) => m.sampleId)).toEqual([
      withoutClip.id,
    ]);
  });
});

describe("SpeakerRegistry lifecycle and change events", () => {
  it("notifies listeners after each successful commit, in order", async () => {
    const registry = await openRegistry(await tempDir());
    const changes: Extract<RegistryChange, { speaker: unknown }>[] = [];
    const unsubscribe = registry.onChange((c) => {
      if (c.kind !== "reloaded") changes.push(c);
    });
    // A failing listener must not break the commit or the other listeners.
    registry.onChange(() => {
      throw new Error("listener bug");
    });
    registry.onChange(async () => {
      throw new Error("async listener bug");
    });

    await registry.create("Alice");
    const s = await registry.addSample("alice", sample(1));
    await registry.rename("alice", "Alicia");
    await registry.rename("alice", "Alicia"); // no-op: no event
    await registry.setThreshold("alice", MODEL, 0.5);
    await registry.removeSample("alice", s.id);
    await expect(registry.create("alicia")).rejects.toBeInstanceOf(SpeakerExistsError); // no event
    await registry.remove("alice");
    unsubscribe();
    await registry.create("Bob");

    expect(changes.map((c) => [c.kind, c.speaker.id, c.speaker.name])).toEqual([
      ["created", "alice", "Alice"],
      ["samples", "alice", "Alice"],
      ["renamed", "alice", "Alicia"],
      ["threshold", "alice", "Alicia"],
      ["samples", "alice", "Alicia"],
      ["removed", "alice", "Alicia"],
    ]);
    expect(changes[1].speaker.samples).toHaveLength(1);
    expect(changes[2].previousName).toBe("Alice");
    expect(changes[4].speaker.samples).toHaveLength(0);
    expect(registry.list().map((sp) => sp.name)).toEqual(["Bob"]);
  });

  it("refuses use before start and after stop; stop is idempotent; start again reloads", async () => {
    const dataDir = await tempDir();
    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    expect(() => registry.list()).toThrow(RegistryNotStartedError);
    await expect(registry.create("Alice")).rejects.toBeInstanceOf(RegistryNotStartedError);
    expect(existsSync(path.join(dataDir, "registry.json"))).toBe(false);

    await registry.start();
    await registry.start();
    const pending = registry.create("Alice"); // queued before stop: completes
    await registry.stop();
    await registry.stop();
    await expect(pending).resolves.toMatchObject({ id: "alice" });
    expect(() => registry.get("alice")).toThrow(RegistryNotStartedError);
    await expect(registry.create("Bob")).rejects.toBeInstanceOf(RegistryNotStartedError);

    await registry.start();
    expect(registry.list().map((s) => s.id)).toEqual(["alice"]);
  });
});
