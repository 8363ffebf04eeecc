import { type MatchCandidate, type MatchResult, matchVoiceprint, type Vector } from "../registry/matcher.js";
import type { AlternatePenalties, SpeakerRegistry } from "../registry/registry.js";
import type { Component } from "../util/lifecycle.js";
import { alternatePenalties } from "./room-voiceprints.js";

export interface IdentifierOptions {
  /** Voiceprints of this model are compared; speakers without one are not candidates. */
  modelId: string;
  /** Threshold for speakers without their own override (the encoder's `defaultThreshold`). */
  defaultThreshold: number;
  /** When set, a best match closer than this to the runner-up is "uncertain". */
  minMargin?: number;
  /**
   * What matches against simulated-room and learned centroids give up (default: the model's, see
   * room-voiceprints.ts); false compares with the enrolled centroids alone.
   */
  alternates?: AlternatePenalties | false;
}

type CandidateSource = Pick<SpeakerRegistry, "candidates" | "onChange">;

function penaltiesOf(options: IdentifierOptions): AlternatePenalties | undefined {
  if (options.alternates === false) return undefined;
  return options.alternates ?? alternatePenalties(options.modelId);
}

/**
 * Matches voiceprints against the enrolled speakers' centroids (and how they sound in rooms). While started it caches the candidate
 * list and drops it on every registry change, so live matching does not rebuild centroids per segment;
 * when not started every call reads the registry afresh (fine for one-off CLI/HTTP identifications).
 */
export class Identifier implements Component {
  private cached: MatchCandidate[] | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly registry: CandidateSource,
    readonly options: IdentifierOptions,
  ) {}

  get modelId(): string {
    return this.options.modelId;
  }

  get defaultThreshold(): number {
    return this.options.defaultThreshold;
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.cached = null;
    this.unsubscribe = this.registry.onChange(() => {
      this.cached = null;
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.cached = null;
  }

  /** Current candidates (cached while started). */
  candidates(): MatchCandidate[] {
    const penalties = penaltiesOf(this.options);
    if (!this.unsubscribe) return this.registry.candidates(this.options.modelId, penalties);
    this.cached ??= this.registry.candidates(this.options.modelId, penalties);
    return this.cached;
  }

  identify(embedding: Vector): MatchResult {
    return matchVoiceprint(
      embedding,
      this.candidates(),
      this.options.defaultThreshold,
      this.options.minMargin,
    );
  }
}
