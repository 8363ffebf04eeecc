import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SpeechEventPayload } from "../../src/mqtt/topics.js";
import { TIMELINE_FILE } from "../../src/timeline/journal.js";
import { Timeline, type TimelineOptions } from "../../src/timeline/timeline.js";
import { silentLogger } from "../../src/util/log.js";
import { recordingLogger } from "../helpers/logger.js";
import { detection } from "../http/helpers.js";

const T0 = Date.parse("2026-03-01T12:00:00Z");
const MINUTE = 60_000;

/** A decision as the daemon publishes it, for a turn that starts `atMin` minutes after T0. */
function decision(
  turnId: number,
  atMin: number,
  fields: Partial<SpeechEventPayload> & Record<string, unknown> = {},
): SpeechEventPayload {
  return detection({
    type: "stopped",
    turnId,
    room: "Kitchen",
    margin: null,
    startedAt: new Date(T0 + atMin * MINUTE).toISOString(),
    offsetS: atMin * 60,
    decidedAtS: atMin * 60 + 4,
    durationS: 4,
    ...fields,
  });
}

const dirs: string[] = [];
const timelines: Timeline[] = [];
afterEach(async () => {
  for (const t of timelines.splice(0)) await t.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "voiceid-timeline-"));
  dirs.push(dir);
  return dir;
}

/** A started timeline whose wall clock is `clock.now`. */
async function timeline(
  options: Partial<TimelineOptions> & { dataDir: string },
  clock = { now: T0 },
): Promise<Timeline> {
  const t = new Timeline({
    persist: true,
    keepHours: 24,
    maxTurns: 100,
    logger: silentLogger,
    now: () => clock.now,
    ...options,
  });
  await t.start();
  timelines.push(t);
  return t;
}

const ids = (t: Timeline, since = 0) => t.turns(since).map((turn) => turn.turnId);

describe("Timeline", () => {
  it("keeps ended turns with who, when, how long and how sure, and the open turn while it goes on", async () => {
    const t = await timeline({ dataDir: await dataDir(), persist: false });
    t.record(decision(1, 0));
    t.record(
      decision(2, 1, { speaker: null, speakerId: null, reason: "unknown", score: 0.41, voice: "voice-3" }),
    );
    t.record(decision(3, 2, { type: "started", reason: "pending", speaker: null, speakerId: null }));
    expect(t.turns(0)).toEqual([
      {
        room: "Kitchen",
        turnId: 1,
        startedAt: "2026-03-01T12:00:00.000Z",
        durationS: 4,
        speakerId: "alice",
        speaker: "Alice",
        reason: null,
        score: 0.91,
        threshold: 0.82,
        voice: null,
        open: false,
      },
      expect.objectContaining({
        turnId: 2,
        speakerId: null,
        reason: "unknown",
        score: 0.41,
        voice: "voice-3",
      }),
      expect.objectContaining({ turnId: 3, reason: "pending", open: true }),
    ]);
    // The open turn is updated in place, then replaced by its end.
    t.record(decision(3, 2, { type: "updated", durationS: 6 }));
    expect(t.turns(0).filter((turn) => turn.open)).toEqual([
      expect.objectContaining({ turnId: 3, speaker: "Alice", durationS: 6 }),
    ]);
    t.record(decision(3, 2, { durationS: 7 }));
    expect(t.turns(0).map((turn) => [turn.turnId, turn.open, turn.durationS])).toEqual([
      [1, false, 4],
      [2, false, 4],
      [3, false, 7],
    ]);
  });

  it("leaves out ignored voices and voice commands", async () => {
    const t = await timeline({ dataDir: await dataDir(), persist: false });
    t.record(
      decision(1, 0, { reason: "ignored" as SpeechEventPayload["reason"], speaker: null, speakerId: null }),
    );
    t.record(decision(2, 1, { commandId: 7 }));
    t.record(decision(3, 2));
    expect(ids(t)).toEqual([3]);
  });

  it("leaves no open bar behind for a turn that turned out to be an ignored voice", async () => {
    const t = await timeline({ dataDir: await dataDir(), persist: false });
    const ignored = { reason: "ignored" as SpeechEventPayload["reason"], speaker: null, speakerId: null };
    t.record(
      decision(4, 0, { type: "started", reason: "pending", speaker: null, speakerId: null, durationS: 0 }),
    );
    expect(ids(t)).toEqual([4]);
    t.record(decision(4, 0, ignored));
    expect(ids(t)).toEqual([]);
  });

  it("answers a range: the turns that ended in it, or still go on", async () => {
    const clock = { now: T0 + 30 * MINUTE };
    const t = await timeline({ dataDir: await dataDir(), persist: false }, clock);
    for (const [id, at] of [
      [1, 0],
      [2, 10],
      [3, 20],
    ])
      t.record(decision(id, at));
    t.record(decision(4, 29, { type: "started" }));
    // Turn 2 ended at 10 min 4 s: inside a range from 10 min on, not from 11.
    expect(ids(t, T0 + 10 * MINUTE)).toEqual([2, 3, 4]);
    expect(ids(t, T0 + 11 * MINUTE)).toEqual([3, 4]);
    // What it returns is a copy: the caller cannot change the ring.
    t.turns(0)[0].speaker = "Mallory";
    expect(t.turns(0)[0].speaker).toBe("Alice");
  });

  it("is bounded by count and by age", async () => {
    const clock = { now: T0 };
    const t = await timeline({ dataDir: await dataDir(), persist: false, maxTurns: 10, keepHours: 1 }, clock);
    for (let i = 0; i < 25; i++) t.record(decision(i, i));
    clock.now = T0 + 25 * MINUTE;
    expect(ids(t)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    // An hour after turn 17 ended (17 min 4 s), only 18 and later are kept.
    clock.now = T0 + (17 + 60) * MINUTE + 5000;
    expect(ids(t)).toEqual([18, 19, 20, 21, 22, 23, 24]);
    // An open turn nobody ended (the room went away) goes too once it is that old.
    t.record(decision(99, 77, { type: "started" }));
    clock.now = T0 + (77 + 61) * MINUTE;
    expect(ids(t)).toEqual([]);
  });

  it("keeps the turns across a restart, in an owner-only file, and drops what expired meanwhile", async () => {
    const dir = await dataDir();
    const clock = { now: T0 };
    const first = await timeline({ dataDir: dir, keepHours: 2 }, clock);
    first.record(decision(1, 0));
    first.record(decision(2, 90, { speaker: null, speakerId: null, reason: "unknown", voice: "voice-1" }));
    first.record(decision(3, 100, { type: "started" }));
    await first.stop();
    const file = path.join(dir, TIMELINE_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Only the decisions: no audio, no scores of everyone, nothing but the turn.
    expect(Object.keys(JSON.parse((await readFile(file, "utf8")).split("\n")[0]))).toEqual([
      "room",
      "turnId",
      "startedAt",
      "durationS",
      "speakerId",
      "speaker",
      "reason",
      "score",
      "threshold",
      "voice",
      "open",
    ]);

    clock.now = T0 + 150 * MINUTE;
    const second = await timeline({ dataDir: dir, keepHours: 2 }, clock);
    // Turn 1 ended more than 2 h ago; the open turn of the last run never ended, so it is not kept.
    expect(second.turns(0)).toEqual([
      expect.objectContaining({ turnId: 2, voice: "voice-1", reason: "unknown", open: false }),
    ]);
    // The file was rewritten to what is kept.
    expect((await readFile(file, "utf8")).trim().split("\n")).toHaveLength(1);
  });

  it("survives a line cut short by a crash and a file that is not a timeline, with a warning", async () => {
    const dir = await dataDir();
    const first = await timeline({ dataDir: dir });
    for (let i = 1; i <= 3; i++) first.record(decision(i, i));
    await first.stop();
    const file = path.join(dir, TIMELINE_FILE);
    const text = await readFile(file, "utf8");
    // kill -9 in the middle of an append: the last line is cut.
    await writeFile(file, text.slice(0, text.length - 20));
    const { logger, lines } = recordingLogger();
    const second = await timeline({ dataDir: dir, logger });
    expect(ids(second)).toEqual([1, 2]);
    expect(lines).toEqual([expect.stringMatching(/^warn .*timeline\.jsonl: skipped 1 of 3 lines/)]);
    // The cut line is gone from the file, so the next append starts on a line of its own.
    second.record(decision(4, 4));
    await second.stop();
    const third = await timeline({ dataDir: dir });
    expect(ids(third)).toEqual([1, 2, 4]);

    // Something else entirely (binary, a hostile edit): an empty timeline that works, not a crash.
    await writeFile(file, Buffer.from([0, 159, 146, 150, 10, 123, 34, 10]));
    const garbled = recordingLogger();
    const fourth = await timeline({ dataDir: dir, logger: garbled.logger });
    expect(ids(fourth)).toEqual([]);
    expect(garbled.lines).toEqual([expect.stringMatching(/skipped 2 of 2 lines/)]);
    fourth.record(decision(5, 5));
    expect(ids(fourth)).toEqual([5]);
  });

  it("starts in memory only when the file cannot be read, and leaves it as it is", async () => {
    const dir = await dataDir();
    // A directory where the file should be: reading it fails (EISDIR) for root too.
    const file = path.join(dir, TIMELINE_FILE);
    await mkdir(path.join(file, "inside"), { recursive: true });
    const { logger, lines } = recordingLogger();
    const t = await timeline({ dataDir: dir, logger });
    expect(lines).toEqual([
      expect.stringMatching(/^warn cannot read .*timeline\.jsonl; the timeline is kept in memory only/),
    ]);
    t.record(decision(1, 0));
    await t.stop();
    expect(ids(t)).toEqual([1]);
    expect(await readdir(file)).toEqual(["inside"]);
  });

  it("warns once, not at every turn, while the file cannot be written, and keeps the turns in memory", async () => {
    const dir = await dataDir();
    const file = path.join(dir, TIMELINE_FILE);
    const { logger, lines } = recordingLogger();
    const t = await timeline({ dataDir: dir, logger });
    // Appends fail (EISDIR) as on a full disk, for root too.
    await mkdir(file);
    for (let i = 1; i <= 3; i++) t.record(decision(i, i));
    await t.stop();
    expect(lines).toEqual([expect.stringMatching(/^warn cannot write the timeline to disk/)]);
    expect(ids(t)).toEqual([1, 2, 3]);
  });

  it("keeps the file bounded: rewritten when it holds far more than the ring", async () => {
    const dir = await dataDir();
    const t = await timeline({ dataDir: dir, maxTurns: 10 });
    for (let i = 0; i < 1000; i++) t.record(decision(i, i / 100));
    await t.stop();
    const lines = (await readFile(path.join(dir, TIMELINE_FILE), "utf8")).trim().split("\n");
    expect(lines.length).toBeLessThanOrEqual(10 + 200);
    const again = await timeline({ dataDir: dir, maxTurns: 10 });
    expect(ids(again)).toEqual([990, 991, 992, 993, 994, 995, 996, 997, 998, 999]);
  });

  it("forgets the turns asked for, in memory and on disk", async () => {
    const dir = await dataDir();
    const first = await timeline({ dataDir: dir });
    first.record(decision(1, 0));
    first.record(decision(2, 1, { speakerId: "bob", speaker: "Bob" }));
    first.record(decision(3, 2));
    first.record(decision(4, 3, { type: "started" }));
    expect(first.forget((t) => t.speakerId === "alice")).toBe(3);
    expect(first.turns(0).map((t) => [t.turnId, t.speaker])).toEqual([[2, "Bob"]]);
    expect(first.forget((t) => t.speakerId === "alice")).toBe(0);
    await first.stop();
    expect(await readFile(path.join(dir, TIMELINE_FILE), "utf8")).not.toContain("Alice");
    const second = await timeline({ dataDir: dir });
    expect(ids(second)).toEqual([2]);
  });

  it("with persistence off writes nothing, and removes the file an earlier run left", async () => {
    const dir = await dataDir();
    const first = await timeline({ dataDir: dir });
    first.record(decision(1, 0));
    await first.stop();
    const { logger, lines } = recordingLogger();
    const off = await timeline({ dataDir: dir, persist: false, logger });
    off.record(decision(2, 1));
    await off.stop();
    await expect(stat(path.join(dir, TIMELINE_FILE))).rejects.toThrow(/ENOENT/);
    expect(lines).toEqual([
      expect.stringMatching(/^info timeline\.persist is off: removed .*timeline\.jsonl$/),
    ]);
    expect(ids(off)).toEqual([2]);
  });
});
