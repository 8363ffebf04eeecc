import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VOICE_CLIPS_DIR_NAME, VOICES_FILE_NAME } from "../../src/voices/voice-file.js";
import { CLIPS_PER_VOICE } from "../../src/voices/voice-store.js";
import { recordingLogger } from "../helpers/logger.js";
import { repoRoot } from "../helpers/paths.js";
import { voiceStore } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "voiceid-voices-"));
  dirs.push(dir);
  return dir;
}

const store = voiceStore;

/** A voiceprint on axis `axis`, turned slightly by `wobble` (same axis: the same voice). */
function voiceprint(axis: number, wobble = 0): Float32Array {
  const v = new Float32Array(256);
  v[axis] = 1;
  v[(axis + 1) % 256] = wobble;
  return v;
}
const turn = (axis: number, wobble = 0, audio?: Float32Array) => ({
  voiceprint: voiceprint(axis, wobble),
  speechSeconds: 3,
  start: 0,
  end: 48_000,
  room: "kitchen",
  audio,
});

describe("the store of voices nobody enrolled", () => {
  it("gives the same voice the same id across turns and restarts, and a new voice the next id", async () => {
    const dir = tempDir();
    const a = store(dir);
    await a.start();
    expect(a.keep(turn(0))).toBe("voice-1");
    expect(a.keep(turn(0, 0.1))).toBe("voice-1");
    expect(a.keep(turn(5))).toBe("voice-2");
    await a.stop();
    const b = store(dir);
    await b.start();
    expect(b.recognise(voiceprint(0, 0.05))).toBe("voice-1");
    expect(b.keep(turn(9))).toBe("voice-3");
    expect(b.list().map((v) => [v.id, v.turns.length])).toEqual([
      ["voice-1", 2],
      ["voice-2", 1],
      ["voice-3", 1],
    ]);
  });

  it("keeps at most maxTurns turns and none older than maxDays; a voice left without turns is gone", async () => {
    const dir = tempDir();
    let now = Date.parse("2026-01-01T00:00:00Z");
    const s = store(dir, { maxTurns: 3, maxDays: 1, now: () => new Date(now) });
    await s.start();
    s.keep(turn(0));
    now += 1000;
    for (const axis of [1, 2, 3]) {
      s.keep(turn(axis));
      now += 1000;
    }
    // Four turns, room for three: the oldest (voice-1's only turn) went, and voice-1 with it.
    expect(s.list().map((v) => v.id)).toEqual(["voice-2", "voice-3", "voice-4"]);
    now += 2 * 86_400_000;
    s.keep(turn(4));
    expect(s.list().map((v) => v.id)).toEqual(["voice-5"]);
    await s.stop();
  });

  it("keeps an ignored voice whatever its age, and lists it apart", async () => {
    const dir = tempDir();
    let now = Date.parse("2026-01-01T00:00:00Z");
    const s = store(dir, { maxDays: 1, now: () => new Date(now) });
    await s.start();
    s.keep(turn(0));
    await s.ignore("voice-1", "TV");
    now += 30 * 86_400_000;
    s.keep(turn(7));
    expect(s.list({ ignored: true }).map((v) => [v.id, v.label])).toEqual([["voice-1", "TV"]]);
    expect(s.ignoredCandidates().map((c) => c.id)).toEqual(["voice-1"]);
    // An ignored voice takes no new turns: the TV again is matched as a candidate, not grouped.
    expect(s.recognise(voiceprint(0))).toBeNull();
    await s.unignore("voice-1");
    expect(s.ignoredCandidates()).toEqual([]);
    await s.stop();
  });

  it("keeps at most 3 clips per voice, of its clearest turns, and forgetting removes them", async () => {
    const dir = tempDir();
    const s = store(dir, { keepClips: true });
    await s.start();
    const audio = new Float32Array(16_000 * 12).fill(0.1);
    // Clarity is closeness to the voice's centroid, which the first turns pull to about 0.2.
    for (const wobble of [0.2, 0.22, 0.18, 0.6, 0.21]) s.keep(turn(0, wobble, audio));
    await s.flush();
    const voice = s.get("voice-1")!;
    const clipped = voice.turns.filter((t) => t.clip !== null);
    expect(clipped).toHaveLength(CLIPS_PER_VOICE);
    // The odd turn out never got one; the last, clearer than the least clear, took that one's.
    const clipOf = (wobble: number) => voice.turns.find((t) => t.voiceprint[1] === Math.fround(wobble))?.clip;
    expect(clipOf(0.6)).toBeNull();
    expect(clipOf(0.21)).not.toBeNull();
    expect([0.2, 0.22, 0.18].filter((w) => clipOf(w) === null)).toHaveLength(1);
    const files = readdirSync(path.join(dir, VOICE_CLIPS_DIR_NAME));
    expect(files.sort()).toEqual(clipped.map((t) => t.clip).sort());
    // At most 10 s each: 16-bit mono at 16 kHz, and a WAV header.
    const bytes = readFileSync(path.join(dir, VOICE_CLIPS_DIR_NAME, files[0]));
    expect(bytes.length).toBe(44 + 2 * 16_000 * 10);
    await s.forget("voice-1");
    expect(readdirSync(path.join(dir, VOICE_CLIPS_DIR_NAME))).toEqual([]);
    expect(readFileSync(path.join(dir, VOICES_FILE_NAME), "utf8")).not.toContain("voice-1");
    await s.stop();
  });

  it("without keepClips writes no audio at all", async () => {
    const dir = tempDir();
    const s = store(dir);
    await s.start();
    s.keep(turn(0, 0, new Float32Array(16_000).fill(0.1)));
    await s.stop();
    expect(existsSync(path.join(dir, VOICE_CLIPS_DIR_NAME))).toBe(false);
  });

  it("sets a damaged file aside with a warning and starts afresh; another encoder's voices are dropped", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, VOICES_FILE_NAME), '{"version": 1, "voices": [');
    const { logger, lines } = recordingLogger();
    const s = store(dir, { logger });
    await s.start();
    expect(s.list()).toEqual([]);
    expect(lines.join("\n")).toMatch(/could not be read/);
    expect(readdirSync(dir).some((f) => f.startsWith(`${VOICES_FILE_NAME}.corrupt-`))).toBe(true);
    s.keep(turn(0));
    await s.stop();
    const other = store(dir, { modelId: "ecapa-voxceleb" });
    await other.start();
    expect(other.list()).toEqual([]);
  });

  it("survives kill -9 in the middle of its writes: the file reads back whole", async () => {
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(repoRoot, "test/voices/fixtures/keep-forever.ts"), dir],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let kept = 0;
    let errors = "";
    child.stderr.on("data", (c: Buffer) => {
      errors += c.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        const counts = [...c.toString().matchAll(/kept (\d+)/g)].map((m) => Number(m[1]));
        kept = Math.max(kept, ...counts);
        if (kept >= 60) resolve();
      });
      child.once("exit", () => reject(new Error(`the writer exited early: ${errors}`)));
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const { logger, lines } = recordingLogger();
    const s = store(dir, { logger, keepClips: true, maxTurns: 50 });
    await s.start();
    expect(lines.join("\n")).not.toMatch(/could not be read/);
    const turns = s.list().flatMap((v) => v.turns);
    // Bounded to 50 turns, and at least everything flushed before the last print is there.
    expect(turns.length).toBe(50);
    // Every clip the file names exists.
    for (const t of turns.filter((x) => x.clip)) {
      expect(existsSync(path.join(dir, VOICE_CLIPS_DIR_NAME, t.clip!))).toBe(true);
    }
    await s.stop();
  });
});
