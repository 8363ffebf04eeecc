import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";
import { type DaemonProcess, enrolmentClips, spawnDaemon, waitForHealth } from "./helpers.js";

/**
 * kill -9 while enrolments are under way, again and again, on one data directory: afterwards the registry
 * is valid, every sample the daemon acknowledged (201) is there, every request's clips landed all or none,
 * and once started, nothing is left that no sample refers to.
 */

const ROUNDS = 8;
// The daemon takes 4 uploads at a time (more get 429).
const REQUESTS_PER_ROUND = 4;
const CLIPS_PER_REQUEST = 2;

let dataDir: string;
const daemons: DaemonProcess[] = [];
afterAll(async () => {
  for (const d of daemons) await d.dispose();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe("kill -9 during enrolments", () => {
  it("loses no acknowledged sample, commits each request whole, and leaves no stray files", async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-crash-"));
    const clips = enrolmentClips();
    const acknowledged = new Set<string>();
    const counts = { sent: 0, acknowledged: 0, cut: 0 };
    const leftoversBeforeStart: number[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      leftoversBeforeStart.push((await filesUnder(path.join(dataDir, "clips"))).length);
      const daemon = await spawnDaemon({
        mqttUrl: "mqtt://127.0.0.1:1",
        room: "crash",
        dataDir,
        // Simulated rooms multiply the work per clip by twenty; what is tested here is each commit.
        env: { VOICEID_MQTT_ENABLED: "false", VOICEID__ENROLMENT__SIMULATE_ROOMS: "false" },
      });
      daemons.push(daemon);
      await waitForHealth(daemon, (h) => h.components?.registry?.state === "ok", "a started daemon");
      if (round === 0) {
        for (const name of ["Alice", "Bob"]) {
          await fetch(`${daemon.httpUrl}/api/speakers`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ name }),
          });
        }
      }
      let firstAnswer = () => {};
      const answered = new Promise<void>((resolve) => {
        firstAnswer = resolve;
      });
      const requests = Array.from({ length: REQUESTS_PER_ROUND }, async (_, i) => {
        const form = new FormData();
        for (let c = 0; c < CLIPS_PER_REQUEST; c++) {
          form.append("file", new Blob([i % 2 ? clips.A : clips.B], { type: "audio/wav" }), `clip-${c}.wav`);
        }
        counts.sent++;
        try {
          const res = await fetch(`${daemon.httpUrl}/api/speakers/${i % 2 ? "alice" : "bob"}/samples`, {
            method: "POST",
            body: form,
          });
          if (res.status !== 201) throw new Error(`status ${res.status}: ${await res.text()}`);
          const body = (await res.json()) as { samples: { sampleId: string }[] };
          for (const s of body.samples) acknowledged.add(s.sampleId);
          counts.acknowledged++;
          firstAnswer();
        } catch (err) {
          if (!(err instanceof TypeError)) throw err; // fetch failed: the daemon was killed
          counts.cut++;
        }
      });
      // In the middle of the batch: once the first request was answered, a little later each round, while the
      // others are being embedded or written.
      await Promise.race([answered, new Promise((r) => setTimeout(r, 20_000))]);
      await new Promise((r) => setTimeout(r, round * 40));
      daemon.child.kill("SIGKILL");
      await daemon.exited;
      await Promise.all(requests);
    }

    const registry = new SpeakerRegistry({ dataDir, logger: silentLogger });
    await registry.start(); // throws if the file were corrupt
    const samples = registry.list().flatMap((s) => s.samples);
    const present = new Set(samples.map((s) => s.id));
    const lost = [...acknowledged].filter((id) => !present.has(id));
    expect(lost).toEqual([]);
    // One request, one commit: its clips share a creation time, and come in whole batches.
    const perCommit = new Map<string, number>();
    for (const s of samples) perCommit.set(s.createdAt, (perCommit.get(s.createdAt) ?? 0) + 1);
    expect([...perCommit.values()].every((n) => n % CLIPS_PER_REQUEST === 0)).toBe(true);
    const referenced = samples.map((s) => s.clip).sort();
    expect((await filesUnder(path.join(dataDir, "clips"))).map((f) => `clips/${f}`).sort()).toEqual(
      referenced,
    );
    expect((await readdir(dataDir)).sort()).toEqual(["clips", "hardware.json", "registry.json"]);
    await registry.stop();
    console.log(
      `crash test: ${ROUNDS} kill -9, ${counts.sent} requests (${counts.acknowledged} acknowledged, ` +
        `${counts.cut} cut off), ${samples.length} samples kept; clip files before each start: ` +
        leftoversBeforeStart.join(", "),
    );
    expect(counts.acknowledged).toBeGreaterThan(0);
    expect(counts.cut).toBeGreaterThan(0);
  });
});

describe("registry.json broken by hand while the daemon runs", () => {
  it("says so in /health (503), refuses changes without touching the file, and recovers when fixed", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "voiceid-corrupt-"));
    const daemon = await spawnDaemon({
      mqttUrl: "mqtt://127.0.0.1:1",
      room: "corrupt",
      dataDir: dir,
      env: { VOICEID_MQTT_ENABLED: "false" },
    });
    daemons.push(daemon);
    try {
      await waitForHealth(daemon, (h) => h.components?.registry?.state === "ok", "a started daemon");
      const create = (name: string) =>
        fetch(`${daemon.httpUrl}/api/speakers`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name }),
        });
      expect((await create("Alice")).status).toBe(201);
      const file = path.join(dir, "registry.json");
      const good = await readFile(file, "utf8");
      await writeFile(file, '{"version": 1, "speakers": [');
      const degraded = await waitForHealth(
        daemon,
        (h) => h.components?.registry?.state === "degraded",
        "the registry reported broken",
      );
      expect(degraded.httpStatus).toBe(503);
      expect(degraded.components.registry.detail).toMatch(/not valid JSON/);
      const refused = await create("Bob");
      expect(refused.status).toBe(503);
      expect(await readFile(file, "utf8")).toBe('{"version": 1, "speakers": [');
      await writeFile(file, good);
      await waitForHealth(daemon, (h) => h.components?.registry?.state === "ok", "the registry usable again");
      expect((await create("Bob")).status).toBe(201);
    } finally {
      await daemon.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
