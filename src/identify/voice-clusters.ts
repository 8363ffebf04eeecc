import { cosine } from "../registry/matcher.js";

/**
 * Grouping voiceprints into voices when nobody says how many there are: average-linkage agglomerative
 * clustering by cosine, cut where groups are less alike than one voice is. Pure.
 */

/** One merge of the dendrogram: groups `a` and `b` (ids; a merge's group id is n + its index). */
export interface Merge {
  a: number;
  b: number;
  /** Mean similarity between the two groups' voiceprints. */
  similarity: number;
  /** Mean similarity within the less consistent of the two (1 for a single voiceprint). */
  within: number;
}

/** The merges of average-linkage clustering, most similar first (n − 1 of them for n voiceprints). */
export function agglomerate(voiceprints: readonly Float32Array[]): Merge[] {
  const n = voiceprints.length;
  // Similarity between live groups, updated by Lance-Williams for average linkage.
  const sim: number[][] = voiceprints.map((a) => voiceprints.map((b) => cosine(a, b)));
  const size = new Array<number>(n).fill(1);
  // Sum of the similarities of every pair inside each group.
  const pairSum = new Array<number>(n).fill(0);
  const meanWithin = (g: number) => (size[g] < 2 ? 1 : pairSum[g] / ((size[g] * (size[g] - 1)) / 2));
  const id = voiceprints.map((_, i) => i);
  const alive = new Array<boolean>(n).fill(true);
  const merges: Merge[] = [];
  for (let step = 0; step < n - 1; step++) {
    let best = Number.NEGATIVE_INFINITY;
    let pair: [number, number] = [-1, -1];
    for (let i = 0; i < n; i++) {
      if (!alive[i]) continue;
      for (let j = i + 1; j < n; j++) {
        if (alive[j] && sim[i][j] > best) {
          best = sim[i][j];
          pair = [i, j];
        }
      }
    }
    const [i, j] = pair;
    merges.push({ a: id[i], b: id[j], similarity: best, within: Math.min(meanWithin(i), meanWithin(j)) });
    pairSum[i] += pairSum[j] + size[i] * size[j] * best;
    for (let k = 0; k < n; k++) {
      if (!alive[k] || k === i || k === j) continue;
      const merged = (size[i] * sim[i][k] + size[j] * sim[j][k]) / (size[i] + size[j]);
      sim[i][k] = merged;
      sim[k][i] = merged;
    }
    size[i] += size[j];
    alive[j] = false;
    id[i] = n + step;
  }
  return merges;
}

/** The group of each voiceprint when the dendrogram is cut into `k` groups, numbered by first appearance. */
export function cut(n: number, merges: readonly Merge[], k: number): number[] {
  const parent = Array.from({ length: 2 * n - 1 }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x];
    return x;
  };
  for (let m = 0; m < n - k; m++) {
    parent[merges[m].a] = n + m;
    parent[merges[m].b] = n + m;
  }
  return byFirstAppearance(Array.from({ length: n }, (_, i) => find(i)));
}

/** Group labels renumbered 0, 1, … in the order the groups first appear. */
function byFirstAppearance(labels: readonly number[]): number[] {
  const numbers = new Map<number, number>();
  return labels.map((label) => {
    if (!numbers.has(label)) numbers.set(label, numbers.size);
    return numbers.get(label)!;
  });
}

export interface VoiceClusterOptions {
  /** Groups whose voiceprints are on average less similar than this are different voices. */
  minSimilarity: number;
  /** A voice needs this many voiceprints; a smaller group joins the voice it is most like. */
  minMembers: number;
}

/**
 * For pieces of 8 windows (1.6 s of new speech each): the lowest DER of `npm run bench:diarize --
 * --calibrate` when diarize grouped such pieces directly (on streams of 1 to 5 of the shared LibriSpeech
 * speakers left out of the test streams, clean and room) among the settings that found the right number
 * of voices in at least 80 % of them. Two close voices (the shared conversation's) stay one at 0.7:
 * diarize now groups smaller pieces generously and merges voices by their clean windows instead.
 */
export const DEFAULT_VOICE_CLUSTERS: VoiceClusterOptions = { minSimilarity: 0.7, minMembers: 2 };

/**
 * The voice (0, 1, … by first appearance) of each voiceprint: average-linkage groups cut at
 * `minSimilarity`, then groups too small to be a voice of their own (a cough, a door, a stretch where two
 * voices overlap) joined to the voice they are most like.
 */
export function clusterVoices(
  voiceprints: readonly Float32Array[],
  options: VoiceClusterOptions = DEFAULT_VOICE_CLUSTERS,
): number[] {
  const n = voiceprints.length;
  const merges = agglomerate(voiceprints);
  const kept = merges.filter((m) => m.similarity >= options.minSimilarity).length;
  const groups = cut(n, merges, n - kept);
  const members = Array.from({ length: Math.max(-1, ...groups) + 1 }, (_, g) =>
    groups.flatMap((x, i) => (x === g ? [i] : [])),
  );
  const large = members.flatMap((m, g) => (m.length >= options.minMembers ? [g] : []));
  if (large.length === 0) return new Array<number>(n).fill(0);
  const similarity = (i: number, g: number) =>
    members[g].reduce((sum, j) => sum + cosine(voiceprints[i], voiceprints[j]), 0) / members[g].length;
  const nearestLarge = (i: number) => {
    const scores = large.map((g) => similarity(i, g));
    return large[scores.indexOf(Math.max(...scores))];
  };
  return byFirstAppearance(groups.map((g, i) => (large.includes(g) ? g : nearestLarge(i))));
}
