/**
 * bench:timeline: what the page's timeline costs when it is full (timeline.maxTurns turns in
 * timeline.keepHours): the disk written per turn by the journal's appends against the reference design
 * of rewriting the whole file atomically per turn (as the registry does), the start-up read of a full
 * journal, the answers of GET /api/timeline's ranges, and the memory the ring holds.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SpeechEventPayload } from "../src/mqtt/topics.js";
import { writeFileAtomic } from "../src/registry/storage.js";
import { TIMELINE_FILE } from "../src/timeline/journal.js";
import { Timeline } from "../src/timeline/timeline.js";
import { silentLogger } from "../src/util/log.js";
import { numberOption, parseBenchArgs, runMain } from "./bench/setup.js";
import { fixed, formatTable, heading } from "./bench/table.js";

const REWRITES = 50;
const QUERIES = 200;
const USAGE = `usage: npm run bench:timeline -- [options]
  --turns N   turns in the ring (default 5000)
  --hours H   hours they span (default 24)`;

async function main(): Promise<number> {
  const values = parseBenchArgs({ turns: { type: "string" }, hours: { type: "string" } }, USAGE);
  if (!values) return 0;
  const TURNS = numberOption(
    "turns",
    values.turns,
    5000,
    (n) => Number.isInteger(n) && n >= 10,
    "a whole number >= 10",
  );
  const HOURS = numberOption("hours", values.hours, 24, (n) => n > 0 && n <= 168, "0-168");
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-timeline-"));
  const now = Date.now();
  const spacing = (HOURS * 3_600_000) / TURNS;
  /** A household's day: named people, strangers with voice ids, a few turns too short to tell. */
  const event = (i: number): SpeechEventPayload => {
    const kind = i % 7;
    return {
      type: "stopped",
      turnId: i,
      room: "Living Room",
      speaker: kind < 4 ? ["Alice", "Bob", "Carol", "Dave"][kind] : null,
      speakerId: kind < 4 ? ["alice", "bob", "carol", "dave"][kind] : null,
      reason: kind < 4 ? null : kind < 6 ? "unknown" : "too_short",
      score: 0.5 + (i % 50) / 100,
      nearestSpeaker: "Alice",
      nearestSpeakerId: "alice",
      margin: 0.1,
      threshold: 0.82,
      scores: { alice: 0.9, bob: 0.5, carol: 0.4, dave: 0.3 },
      startedAt: new Date(now - HOURS * 3_600_000 + i * spacing).toISOString(),
      offsetS: i * 10,
      decidedAtS: i * 10 + 3,
      durationS: 1 + (i % 12),
      voice: kind === 4 || kind === 5 ? `voice-${i % 9}` : null,
    };
  };
  const options = { persist: true, keepHours: HOURS, maxTurns: TURNS, dataDir: dir, logger: silentLogger };
  const ms = (from: number) => performance.now() - from;

  try {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const timeline = new Timeline(options);
    await timeline.start();
    let started = performance.now();
    for (let i = 0; i < TURNS; i++) timeline.record(event(i));
    await timeline.stop();
    const appendMs = ms(started);
    global.gc?.();
    const heapHeld = process.memoryUsage().heapUsed - heapBefore;
    const file = path.join(dir, TIMELINE_FILE);
    const bytes = statSync(file).size;
    const text = readFileSync(file, "utf8");

    // Reference: the whole file rewritten atomically (temp, fsync, rename) for every turn.
    const reference = path.join(dir, "reference.jsonl");
    started = performance.now();
    for (let i = 0; i < REWRITES; i++) await writeFileAtomic(reference, text);
    const rewriteMs = ms(started) / REWRITES;

    started = performance.now();
    const restarted = new Timeline(options);
    await restarted.start();
    const loadMs = ms(started);
    const query = (minutes: number) => {
      const from = Date.now() - minutes * 60_000;
      const t0 = performance.now();
      let size = 0;
      let count = 0;
      for (let q = 0; q < QUERIES; q++) {
        const turns = restarted.turns(from);
        count = turns.length;
        size = JSON.stringify({ turns }).length;
      }
      return { minutes, count, size, ms: ms(t0) / QUERIES };
    };
    const ranges = [10, 60, HOURS * 60].map(query);
    await restarted.stop();

    console.log(
      heading(
        `bench:timeline: ${TURNS} turns over ${HOURS} h (node ${process.version}, ${os.cpus()[0]?.model})`,
      ),
    );
    console.log(
      formatTable(
        ["disk per turn", "bytes written", "ms"],
        [
          ["journal append (this)", Math.round(bytes / TURNS), fixed(appendMs / TURNS, 3)],
          [`rewrite all, atomic (reference, at ${TURNS} turns)`, bytes, fixed(rewriteMs, 3)],
        ],
      ),
    );
    console.log(
      `\njournal: ${(bytes / 1024).toFixed(0)} KiB on disk; read at start in ${loadMs.toFixed(1)} ms; ` +
        `the ring holds about ${(heapHeld / 1024 / 1024).toFixed(1)} MiB of heap${global.gc ? "" : " (without --expose-gc: rough)"}`,
    );
    console.log(
      `\n${formatTable(
        ["GET /api/timeline range", "turns", "JSON KiB", "ms per answer"],
        ranges.map((r) => [`minutes=${r.minutes}`, r.count, fixed(r.size / 1024, 1), fixed(r.ms, 3)]),
      )}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

runMain(main);
