import {
  type AlternateCentroid,
  centroidOf,
  type MatchCandidate,
  matchVoiceprint,
} from "../../src/registry/matcher.js";
import { drawDistinct, mulberry32 } from "./prng.js";

/** One speaker's two voiceprints: enrolled from the first half of the file, tested on the second. */
export interface SpeakerPrints {
  id: string;
  enrol: Float32Array;
  test: Float32Array;
  /** How the enrolment sounds elsewhere (its simulated rooms), as the registry gives them. */
  alternates?: AlternateCentroid[];
}

/** Households drawn once and reused for every threshold, so thresholds are compared on equal terms. */
export interface HouseholdDraws {
  seed: number;
  size: number;
  /** Speaker indices of the members of each household. */
  households: number[][];
}

export function drawHouseholds(speakers: number, size: number, draws: number, seed: number): HouseholdDraws {
  const random = mulberry32(seed);
  const households: number[][] = [];
  for (let d = 0; d < draws; d++) households.push(drawDistinct(speakers, size, random));
  return { seed, size, households };
}

export interface HouseholdResult {
  threshold: number;
  memberTrials: number;
  visitorTrials: number;
  /** Members' test clips named as themselves. */
  membersCorrect: number;
  /** Members' test clips named as another member. */
  membersWrong: number;
  /** Members' test clips not named at all (below threshold). */
  membersUnknown: number;
  /** Visitors' test clips named as any member (false alarms). */
  visitorsNamed: number;
}

/**
 * Each household enrols its members (one voiceprint each; the registry's centroid of one sample is
 * that sample), then every speaker's test clip is identified with matchVoiceprint against them.
 */
export function evaluateHouseholds(
  prints: readonly SpeakerPrints[],
  draws: HouseholdDraws,
  threshold: number,
): HouseholdResult {
  const result: HouseholdResult = {
    threshold,
    memberTrials: 0,
    visitorTrials: 0,
    membersCorrect: 0,
    membersWrong: 0,
    membersUnknown: 0,
    visitorsNamed: 0,
  };
  for (const members of draws.households) {
    const candidates: MatchCandidate[] = members.map((m) => ({
      id: prints[m].id,
      name: prints[m].id,
      centroid: centroidOf([prints[m].enrol])!,
      ...(prints[m].alternates ? { alternates: prints[m].alternates } : {}),
    }));
    const isMember = new Set(members);
    prints.forEach((speaker, index) => {
      const { speaker: named } = matchVoiceprint(speaker.test, candidates, threshold);
      if (isMember.has(index)) {
        result.memberTrials++;
        if (named === null) result.membersUnknown++;
        else if (named.id === speaker.id) result.membersCorrect++;
        else result.membersWrong++;
      } else {
        result.visitorTrials++;
        if (named !== null) result.visitorsNamed++;
      }
    });
  }
  return result;
}

export interface HouseholdShares {
  threshold: number;
  membersCorrect: number;
  /** Named as someone else or unknown. */
  membersMissed: number;
  membersWrong: number;
  membersUnknown: number;
  visitorsNamed: number;
}

export function householdShares(r: HouseholdResult): HouseholdShares {
  return {
    threshold: r.threshold,
    membersCorrect: r.membersCorrect / r.memberTrials,
    membersMissed: (r.membersWrong + r.membersUnknown) / r.memberTrials,
    membersWrong: r.membersWrong / r.memberTrials,
    membersUnknown: r.membersUnknown / r.memberTrials,
    visitorsNamed: r.visitorsNamed / r.visitorTrials,
  };
}
