import { randomBytes } from "node:crypto";
import { HOUSEHOLD_STAMP_PATTERN } from "../registry/schema.js";

/** A hybrid-logical-clock time as text ("0001733390000000-0000-<node>"): compares as a string. */
export type Stamp = string;

/** A new node id: 12 hex digits, the tie-breaker inside every stamp this node makes. */
export function newNodeId(): string {
  return randomBytes(6).toString("hex");
}

export function isStamp(value: string): boolean {
  return HOUSEHOLD_STAMP_PATTERN.test(value);
}

/** The wall-clock milliseconds of a stamp. */
export function stampMillis(stamp: Stamp): number {
  return Number(stamp.slice(0, 13));
}

export function stampIso(stamp: Stamp): string {
  return new Date(stampMillis(stamp)).toISOString();
}

export function maxStamp(a: Stamp | undefined, b: Stamp | undefined): Stamp | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** Counter values within one millisecond; past this the clock moves its millisecond on. */
const COUNTER_LIMIT = 10_000;

/**
 * A hybrid logical clock (Kulkarni et al. 2014): stamps follow wall time, yet a stamp made after seeing
 * another node's is always greater than it, even when this node's wall clock is behind. That is what makes
 * "a delete after the create wins" hold across machines whose clocks disagree.
 */
export class HybridClock {
  private ms = 0;
  private counter = 0;

  constructor(
    readonly node: string,
    last?: Stamp,
    private readonly wallClock: () => number = Date.now,
  ) {
    if (last !== undefined) this.observe(last);
  }

  /** The last stamp made or seen. */
  get last(): Stamp {
    return format(this.ms, this.counter, this.node);
  }

  now(): Stamp {
    const wall = this.wallClock();
    if (wall > this.ms) {
      this.ms = wall;
      this.counter = 0;
    } else if (++this.counter >= COUNTER_LIMIT) {
      this.ms++;
      this.counter = 0;
    }
    return format(this.ms, this.counter, this.node);
  }

  /**
   * A stamp at a past wall time (a person enrolled before sharing was switched on keeps their creation
   * time); never later than now().
   */
  at(ms: number): Stamp {
    const now = this.now();
    const past = format(ms, 0, this.node);
    return Number.isFinite(ms) && past < now ? past : now;
  }

  /** Moves past a stamp another node made, so our next one is greater. */
  observe(stamp: Stamp): void {
    const ms = stampMillis(stamp);
    const counter = Number(stamp.slice(14, 18));
    if (ms > this.ms || (ms === this.ms && counter > this.counter)) {
      this.ms = ms;
      this.counter = counter;
    }
  }
}

function format(ms: number, counter: number, node: string): Stamp {
  return `${String(ms).padStart(13, "0")}-${String(counter).padStart(4, "0")}-${node}`;
}
