import { appendFile, mkdir, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../registry/storage.js";
import type { Logger } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";
import { persistedTurnSchema, type TimelineTurn } from "./turn.js";

export const TIMELINE_FILE = "timeline.jsonl";
/** Who talked when is personal: owner-only, like the registry. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * The ended turns on disk, one JSON line each, so that a restart does not show an empty timeline. A turn
 * is appended as it ends (a few hundred bytes, not the whole file: kind to SD cards); the file is rewritten
 * atomically (temp file, fsync, rename) to drop what the ring no longer keeps. A crash can only cut the
 * last line short: reading skips lines it cannot trust, with a warning.
 */
export class TimelineJournal {
  private readonly writes = new AsyncMutex();
  /**
   * Lines in the file once the queued writes are done (counted as they are queued, so a burst of turns
   * sees its own appends): compared with what is kept, it says when a rewrite is due.
   */
  private lines = 0;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {}

  get file(): string {
    return path.join(this.dataDir, TIMELINE_FILE);
  }

  get lineCount(): number {
    return this.lines;
  }

  /** The persisted turns in file order; a missing file is an empty timeline. */
  async load(): Promise<{ turns: TimelineTurn[]; skipped: number }> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { turns: [], skipped: 0 };
      throw err;
    }
    const turns: TimelineTurn[] = [];
    let skipped = 0;
    const lines = text.split("\n").filter((line) => line.trim() !== "");
    for (const line of lines) {
      const parsed = persistedTurnSchema.safeParse(safeJson(line));
      if (parsed.success) turns.push(parsed.data);
      else skipped += 1;
    }
    this.lines = lines.length;
    if (skipped > 0) {
      this.logger.warn(
        `${this.file}: skipped ${skipped} of ${lines.length} lines that could not be read (a write cut short by a crash, or an edit); the rest of the timeline is kept`,
      );
    }
    return { turns, skipped };
  }

  /** Adds one ended turn at the end of the file. */
  append(turn: TimelineTurn): Promise<void> {
    this.lines += 1;
    return this.writes.run(async () => {
      await mkdir(this.dataDir, { recursive: true, mode: DIR_MODE });
      await appendFile(this.file, `${JSON.stringify(turn)}\n`, { mode: FILE_MODE });
    });
  }

  /** Replaces the file with exactly `turns`, atomically. */
  rewrite(turns: readonly TimelineTurn[]): Promise<void> {
    // Taken now: the ring goes on changing while earlier writes finish.
    const text = turns.map((t) => `${JSON.stringify(t)}\n`).join("");
    this.lines = turns.length;
    return this.writes.run(() => writeFileAtomic(this.file, text));
  }

  /** Removes the file (persistence was switched off: nothing of it should stay on disk). */
  async remove(): Promise<boolean> {
    await this.writes.idle();
    try {
      await unlink(this.file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /** Resolves once every write queued so far has settled. */
  idle(): Promise<void> {
    return this.writes.idle();
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
