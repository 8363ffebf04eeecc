import { cosine } from "../registry/matcher.js";

/**
 * Splits one VAD speech segment into speaker turns from its partial voiceprints, without
 * knowing who anyone is: a partial that is far from the current turn's running mean, twice in a
 * row, starts a new turn at the first of them. Pure: no I/O, no model.
 */
export interface TurnTrackerOptions {
  /** Cosine to the turn's mean below which a partial counts as another voice. */
  changeSimilarity: number;
  /** Consecutive dissimilar partials needed to split (1 = split at once). */
  changeWindows: number;
}

export interface Partial {
  /** Stream position (samples) of the partial's first sample. */
  start: number;
  end: number;
  embedding: Float32Array;
}

export type TurnChange = { kind: "continue" } | { kind: "split"; at: number; moved: Partial[] };

export class TurnTracker {
  private sum: Float64Array | null = null;
  private count = 0;
  private pending: Partial[] = [];

  constructor(private readonly options: TurnTrackerOptions) {}

  /** Partials of the current turn (excluding ones held as a possible change). */
  get partialCount(): number {
    return this.count;
  }

  /** Normalised mean of the current turn's partials, or null before the first one. */
  mean(): Float32Array | null {
    if (!this.sum) return null;
    return normalise(this.sum);
  }

  reset(): void {
    this.sum = null;
    this.count = 0;
    this.pending = [];
  }

  /**
   * Adds a partial. Returns "split" when it confirms a change of voice: the caller closes the
   * current turn at `at` and the tracker already holds the new turn, made of `moved`.
   */
  push(partial: Partial): TurnChange {
    if (!this.sum || this.count === 0) {
      this.add(partial);
      return { kind: "continue" };
    }
    const similarity = cosine(this.mean()!, partial.embedding);
    if (similarity >= this.options.changeSimilarity) {
      // A one-off outlier (a cough, a laugh) rejoins the turn.
      for (const p of this.pending) this.add(p);
      this.pending = [];
      this.add(partial);
      return { kind: "continue" };
    }
    // Partials that differ from the turn must also agree with each other to be a new voice.
    if (
      this.pending.length > 0 &&
      cosine(this.pending[0].embedding, partial.embedding) < this.options.changeSimilarity
    ) {
      for (const p of this.pending) this.add(p);
      this.pending = [];
    }
    this.pending.push(partial);
    if (this.pending.length < this.options.changeWindows) return { kind: "continue" };
    const moved = this.pending;
    this.reset();
    for (const p of moved) this.add(p);
    return { kind: "split", at: moved[0].start, moved };
  }

  private add(partial: Partial): void {
    if (!this.sum) this.sum = new Float64Array(partial.embedding.length);
    for (let i = 0; i < partial.embedding.length; i++) this.sum[i] += partial.embedding[i];
    this.count++;
  }
}

export function normalise(v: ArrayLike<number>): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / n;
  return out;
}
