import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RegistryChange, SpeakerRegistry } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";

/** The daemon and `voiceid enroll` are two processes on one data dir: two registries here. */
const dirs: string[] = [];
const open: SpeakerRegistry[] = [];

async function pair(): Promise<[SpeakerRegistry, SpeakerRegistry, string]> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-shared-"));
  dirs.push(dataDir);
  const daemon = new SpeakerRegistry({ dataDir, logger: silentLogger });
  const cli = new SpeakerRegistry({ dataDir, logger: silentLogger });
  await daemon.start();
  await cli.start();
  open.push(daemon, cli);
  return [daemon, cli, dataDir];
}

const vector = (seed: number) => Array.from({ length: 8 }, (_, i) => Math.sin(seed + i));

afterEach(async () => {
  for (const r of open.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("one registry file, two processes", () => {
  it("a write starts from the other process's latest file, so nothing is lost", async () => {
    const [daemon, cli] = await pair();
    await daemon.create("Alice");
    // The CLI's in-memory copy predates Alice; its write must not drop her.
    await cli.create("Bob");
    await cli.addSample("alice", {
      voiceprints: { m: vector(1) },
      speechSeconds: 4,
      durationSeconds: 5,
      source: "cli",
    });
    await daemon.create("Carol");
    const fresh = new SpeakerRegistry({ dataDir: daemon.dataDir, logger: silentLogger });
    await fresh.start();
    open.push(fresh);
    expect(fresh.list().map((s) => [s.name, s.samples.length])).toEqual([
      ["Alice", 1],
      ["Bob", 0],
      ["Carol", 0],
    ]);
  });

  it("the watching process sees the other's changes without writing, and tells its listeners", async () => {
    const [daemon, cli] = await pair();
    daemon.watch();
    const changes: RegistryChange["kind"][] = [];
    daemon.onChange((c) => {
      changes.push(c.kind);
    });
    await cli.create("Dora");
    await expect.poll(() => daemon.get("dora")?.name, { timeout: 5000 }).toBe("Dora");
    expect(changes).toContain("reloaded");
  });

  it("writes from both sides at once all land and leave no lock behind", async () => {
    const [daemon, cli, dataDir] = await pair();
    await daemon.create("Eve");
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? cli : daemon).addSample("eve", {
          voiceprints: { m: vector(i) },
          speechSeconds: 3,
          durationSeconds: 4,
          source: "cli",
        }),
      ),
    );
    const fresh = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await fresh.start();
    open.push(fresh);
    expect(fresh.get("eve")?.samples).toHaveLength(10);
    expect((await readdir(dataDir)).filter((f) => f.endsWith(".lock"))).toEqual([]);
  });
});
