import type { Decision } from "../identify/decision.js";

/** Turns whose held decisions are kept at most: a stuck turn cannot grow the gate. */
const MAX_HELD_TURNS = 8;

/**
 * What reaches Home Assistant while some voice is ignored: a turn's decisions are held while nobody is
 * named yet (a turn starts "pending" before its voice is known), then released once it is named, found
 * unknown, or ends, and dropped when it turns out to be an ignored voice. So the TV makes no message at
 * all. With no voice ignored everything passes at once, as before.
 */
export class IgnoredVoiceGate {
  private readonly held = new Map<number, Decision[]>();
  private readonly released = new Set<number>();

  constructor(private readonly anyIgnored: () => boolean) {}

  /** The decisions to publish now (in order), given the next one. */
  admit(d: Decision): Decision[] {
    const held = this.held.get(d.turnId);
    if (d.reason === "ignored") {
      this.forget(d.turnId);
      return [];
    }
    const ended = d.type === "stopped";
    if (this.released.has(d.turnId) || (!held && !this.anyIgnored())) {
      if (ended) this.forget(d.turnId);
      else this.released.add(d.turnId);
      return [d];
    }
    if (d.reason === "pending" && !ended) {
      this.held.set(d.turnId, [...(held ?? []), d]);
      while (this.held.size > MAX_HELD_TURNS) this.held.delete(this.held.keys().next().value!);
      return [];
    }
    this.forget(d.turnId);
    if (!ended) this.released.add(d.turnId);
    return [...(held ?? []), d];
  }

  private forget(turnId: number): void {
    this.held.delete(turnId);
    this.released.delete(turnId);
  }
}
