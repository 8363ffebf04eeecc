import type { EndedTurn } from "../identify/speaker-tracker.js";
import { cosineSpread } from "../identify/voice-change.js";
import { candidateScore, type MatchCandidate } from "../registry/matcher.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";

/**
 * When a named turn is confident enough to teach the daemon how its speaker sounds here: it must stand
 * well clear on the person's enrolment alone (clips and their simulated rooms; what was learned does
 * not count), so what is learned can never walk away from the person who enrolled.
 */
export interface LearningCriteria {
  /** The enrolment scores at least the person's threshold + this. */
  aboveThreshold: number;
  /** Every other enrolled person scores at least this much lower (learned voiceprints included). */
  minMargin: number;
  /** Seconds of speech in the turn. */
  minSpeechSeconds: number;
  /**
   * Seconds of the stream between two voiceprints learned of one person: learned voiceprints then come
   * from more moments, and a chatty household does not rewrite the registry at every turn.
   */
  minIntervalSeconds: number;
}

/**
 * Measured on real voices (test/enrolment/room-learner.test.ts, bench:stream's "learned from another
 * voice"): 0.03 or 0.05 above the threshold let in some of the voices closest to a member's, and so did a
 * rule that trusted the learned room voice once there was some, because in a room every voice sounds more
 * alike to the encoder.
 */
export const DEFAULT_LEARNING_CRITERIA: LearningCriteria = {
  aboveThreshold: 0.06,
  minMargin: 0.1,
  minSpeechSeconds: 3,
  minIntervalSeconds: 60,
};

/** The criteria for an encoder: the margins above are Resemblyzer's cosines and widen with its spread. */
export function learningCriteria(modelId: string): LearningCriteria {
  const spread = cosineSpread(modelId);
  return {
    ...DEFAULT_LEARNING_CRITERIA,
    aboveThreshold: DEFAULT_LEARNING_CRITERIA.aboveThreshold * spread,
    minMargin: DEFAULT_LEARNING_CRITERIA.minMargin * spread,
  };
}

export interface RoomLearnerOptions {
  registry: Pick<SpeakerRegistry, "addLearned">;
  /** The candidates the turn was matched against (with their alternates). */
  candidates: () => readonly MatchCandidate[];
  modelId: string;
  defaultThreshold: number;
  room: string;
  /** Nothing is learned while this is false (muted). */
  listening: () => boolean;
  criteria?: LearningCriteria;
  logger: Logger;
  /** Told of every learned voiceprint (metrics). */
  onLearned?: (speakerId: string) => void;
}

/**
 * Learns the room from confident turns: a member's turn named with a clear margin adds its voiceprint to
 * what the registry keeps of them as heard here (bounded, newest first; see LearningCriteria).
 */
export class RoomLearner implements Component {
  private readonly criteria: LearningCriteria;
  private pending: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Stream position (seconds) of each person's latest learned turn. */
  private readonly lastLearnedAt = new Map<string, number>();

  constructor(private readonly options: RoomLearnerOptions) {
    this.criteria = options.criteria ?? learningCriteria(options.modelId);
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  /** Waits for the voiceprints being written; nothing is learned after. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.pending;
  }

  /** Looks at an ended turn; learning (a registry write) happens in the background, in order. */
  consider(turn: EndedTurn): void {
    if (this.stopped) return;
    const speakerId = this.learnable(turn);
    if (speakerId === null || turn.voiceprint === null) return;
    this.lastLearnedAt.set(speakerId, turn.decision.decidedAtS);
    const voiceprint = turn.voiceprint;
    this.pending = this.pending.then(async () => {
      try {
        await this.options.registry.addLearned(speakerId, {
          modelId: this.options.modelId,
          voiceprint,
          speechSeconds: turn.speechSeconds,
          room: this.options.room,
        });
        this.options.onLearned?.(speakerId);
        this.options.logger.info("learned how a speaker sounds here", {
          speaker: speakerId,
          speechSeconds: Math.round(turn.speechSeconds * 10) / 10,
        });
      } catch (err) {
        // The person may have been removed meanwhile: nothing to learn then.
        this.options.logger.warn("could not keep a learned voiceprint", {
          speaker: speakerId,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    });
  }

  /** Resolves when every learned voiceprint so far is written. */
  idle(): Promise<void> {
    return this.pending;
  }

  /** The speaker id to learn for, or null (not confident enough, or too soon after the last). */
  learnable(turn: EndedTurn): string | null {
    const { decision, voiceprint, speechSeconds } = turn;
    if (decision.speakerId === null || voiceprint === null || !this.options.listening()) return null;
    if (speechSeconds < this.criteria.minSpeechSeconds) return null;
    const last = this.lastLearnedAt.get(decision.speakerId);
    if (last !== undefined && decision.decidedAtS - last < this.criteria.minIntervalSeconds) return null;
    const candidates = this.options.candidates();
    const named = candidates.find((c) => c.id === decision.speakerId);
    if (!named) return null;
    const anchored = candidateScore(voiceprint, {
      ...named,
      alternates: named.alternates?.filter((a) => a.kind !== "learned"),
    });
    const threshold = named.threshold ?? this.options.defaultThreshold;
    if (anchored < threshold + this.criteria.aboveThreshold) return null;
    const best = candidateScore(voiceprint, named);
    for (const other of candidates) {
      if (other.id !== named.id && candidateScore(voiceprint, other) > best - this.criteria.minMargin)
        return null;
    }
    return named.id;
  }
}
