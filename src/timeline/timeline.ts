import type { TimelineView } from "../http/deps.js";
import type { SpeechEventPayload } from "../mqtt/topics.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { TimelineJournal } from "./journal.js";
import { endOf, type TimelineTurn, turnOf } from "./turn.js";

export interface TimelineOptions {
  /** Turns ended longer ago than this are dropped. */
  keepHours: number;
  /** At most this many ended turns are kept (the oldest go first). */
  maxTurns: number;
  /** Journal the ended turns in `dataDir`; off, the timeline is in memory only and an earlier journal is removed. */
  persist: boolean;
  dataDir: string;
  logger: Logger;
  /** Wall clock, ms (tests move it). */
  now?: () => number;
}

/** Lines the journal may hold beyond the kept turns before it is rewritten: rewrites stay rare. */
const JOURNAL_SLACK = 200;

/**
 * The recent turns of the room for the web page's timeline: a bounded ring of ended turns (by count and
 * by age) plus each room's open turn, fed with the daemon's decisions. Optionally journaled to the data
 * directory, so a reload or a restart shows what was heard. Ignored voices and voice commands are left
 * out; no audio is ever kept.
 */
export class Timeline implements Component, TimelineView {
  /** Ended turns, oldest first. */
  private ended: TimelineTurn[] = [];
  /** The open turn of each room (a room's tracker has one turn at a time). */
  private readonly open = new Map<string, TimelineTurn>();
  private journal: TimelineJournal | null = null;
  private readonly now: () => number;
  private writeFailing = false;

  constructor(private readonly options: TimelineOptions) {
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    const { persist, dataDir, logger } = this.options;
    const journal = new TimelineJournal(dataDir, logger);
    if (!persist) {
      if (await journal.remove()) logger.info(`timeline.persist is off: removed ${journal.file}`);
      return;
    }
    let loaded: Awaited<ReturnType<TimelineJournal["load"]>>;
    try {
      loaded = await journal.load();
    } catch (err) {
      // Not worth a daemon that does not start, nor a file to overwrite unread: memory only this run.
      logger.warn(`cannot read ${journal.file}; the timeline is kept in memory only until a restart`, {
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    const { turns, skipped } = loaded;
    for (const turn of turns) this.keep(turn);
    this.journal = journal;
    // What is on disk now matches the ring: a cut line, expired or surplus turns are gone from the file.
    if (skipped > 0 || this.ended.length !== turns.length) await journal.rewrite(this.ended);
  }

  get keepHours(): number {
    return this.options.keepHours;
  }

  async stop(): Promise<void> {
    await this.journal?.idle();
    this.journal = null;
  }

  /** Follows one live decision (as published on MQTT and /api/events). */
  record(event: SpeechEventPayload): void {
    const turn = turnOf(event);
    if (turn === null) {
      // A turn that turned out to be an ignored voice leaves no open bar behind either.
      const open = this.open.get(event.room);
      if (open?.turnId === event.turnId && open.startedAt === event.startedAt) this.open.delete(event.room);
      return;
    }
    if (turn.open) {
      this.open.set(turn.room, turn);
      return;
    }
    const current = this.open.get(turn.room);
    if (current?.turnId === turn.turnId && current.startedAt === turn.startedAt) this.open.delete(turn.room);
    this.keep(turn);
    const journal = this.journal;
    if (!journal) return;
    const write =
      journal.lineCount >= this.ended.length + JOURNAL_SLACK
        ? journal.rewrite(this.ended)
        : journal.append(turn);
    write.then(
      () => {
        this.writeFailing = false;
      },
      (err: unknown) => this.writeFailed(err),
    );
  }

  /** Warns once per outage (a full disk would otherwise warn at every turn), again after a write worked. */
  private writeFailed(err: unknown): void {
    if (this.writeFailing) return;
    this.writeFailing = true;
    this.options.logger.warn("cannot write the timeline to disk; it is kept in memory meanwhile", {
      error: err instanceof Error ? err.message : String(err),
    });
  }

  /**
   * Drops the turns `match` picks, from memory and from the file (a person removed from the registry:
   * their name should not outlive them here). Returns how many went.
   */
  forget(match: (turn: TimelineTurn) => boolean): number {
    const before = this.ended.length;
    this.ended = this.ended.filter((t) => !match(t));
    const ended = before - this.ended.length;
    let open = 0;
    for (const [room, turn] of this.open) {
      if (!match(turn)) continue;
      this.open.delete(room);
      open += 1;
    }
    if (ended > 0 && this.journal)
      this.journal.rewrite(this.ended).catch((err: unknown) => this.writeFailed(err));
    return ended + open;
  }

  /** Turns that ended (or are still going) at `sinceMs` or later, by start time. */
  turns(sinceMs: number): TimelineTurn[] {
    this.prune();
    const inRange = (t: TimelineTurn) => endOf(t) >= sinceMs;
    return [...this.ended.filter(inRange), ...[...this.open.values()].filter(inRange)]
      .sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt))
      .map((t) => ({ ...t }));
  }

  private keep(turn: TimelineTurn): void {
    this.ended.push(turn);
    this.prune();
  }

  /** Drops turns past the age limit and, past the count limit, the oldest. */
  private prune(): void {
    const oldest = this.now() - this.options.keepHours * 3_600_000;
    let drop = 0;
    while (drop < this.ended.length && endOf(this.ended[drop]) < oldest) drop += 1;
    drop = Math.max(drop, this.ended.length - this.options.maxTurns);
    if (drop > 0) this.ended.splice(0, drop);
    for (const [room, turn] of this.open) if (endOf(turn) < oldest) this.open.delete(room);
  }
}
