import {
  candidateScore,
  centroidOf,
  cosine,
  type MatchCandidate,
  matchVoiceprint,
} from "../registry/matcher.js";
import type { Decision, DecisionType } from "./decision.js";
import { placeChange, type Silence, type VoiceChangeModel, voiceChangeEvidence } from "./voice-change.js";

/** A voiceprint of one window of speech, at its stream position (samples). */
export interface TrackedWindow {
  start: number;
  end: number;
  embedding: Float32Array;
}

export interface SpeakerTrackerOptions {
  sampleRate: number;
  /** Threshold for people without their own. */
  defaultThreshold: number;
  /** A named person must beat the runner-up by this much (0: off); closer is "uncertain". */
  minMargin: number;
  /**
   * Window evidence for a person: scale · (score − (their threshold − offset)), in log-odds per window;
   * "nobody enrolled" has 0. A window scoring below threshold − offset counts against the person.
   */
  evidenceOffset: number;
  evidenceScale: number;
  /** Accumulated evidence (log-odds) for another voice that ends the turn and starts a new one. */
  switchEvidence: number;
  /** How windows compare with their turn's voiceprint when the voice is the same or another (per encoder). */
  voiceChange: VoiceChangeModel;
  /** A change of voice placed this close (seconds) to a pause the VAD saw is placed on the pause. */
  snapSeconds: number;
  /** Of the pauses that close, a longer one is likelier (placeChange's `lengthWeight`; squared likeness). */
  pauseLengthWeight: number;
  /** Turns shorter than this (seconds) and not yet named change their voice instead of splitting. */
  relabelSeconds: number;
  /** A turn's voiceprint this far below every threshold is confidently nobody enrolled ... */
  unknownMargin: number;
  /** ... once it holds this much speech (seconds). */
  unknownAfterSeconds: number;
  /** A turn continues across a pause this long (seconds) when the voice after it is the same. */
  pauseSeconds: number;
  /** Turns with less speech than this (seconds) are "too_short". */
  minSpeechSeconds: number;
  /**
   * A turn not yet named is also heard whole: its speech so far as one utterance, every `every` seconds of
   * speech from `from` to `until` seconds into it (wantedSpeech), names the person its windows follow
   * when it reaches their threshold + `aboveThreshold` with the margin. Null: never (an encoder whose
   * utterance voiceprint is its windows' mean).
   */
  wholeTurn: { from: number; until: number; every: number; aboveThreshold: number } | null;
}

export const DEFAULT_TRACKER_OPTIONS: Omit<SpeakerTrackerOptions, "defaultThreshold" | "voiceChange"> = {
  sampleRate: 16_000,
  minMargin: 0.05,
  evidenceOffset: 0.08,
  evidenceScale: 20,
  switchEvidence: 3,
  snapSeconds: 0.8,
  // 0.1 on CAM++'s scale (bench:stream's recordings: wrong-person time more than 0.5 s from a change
  // 5.6 -> 5.1 s dry, 1.7 -> 0.7 s mismatch; boundary error p95 0.15 -> 0.10 s dry). 0.05 did half as
  // much, 0.2 no more.
  pauseLengthWeight: 0.021,
  relabelSeconds: 1,
  unknownMargin: 0.11,
  unknownAfterSeconds: 2.5,
  pauseSeconds: 1.5,
  minSpeechSeconds: 1,
  wholeTurn: null,
};

/**
 * One thing the tracker is told, in stream order (samples): its whole input, so that a run can be
 * recorded and replayed through another version of the tracker without the models (bench:stream).
 */
export type TrackerInput =
  | { type: "speechStarted"; at: number }
  | { type: "pause"; silence: Silence }
  | { type: "window"; window: TrackedWindow }
  | { type: "wholeTurn"; speech: TrackedWindow }
  | { type: "speechEnded"; at: number; speech: number; decidedAt: number }
  | { type: "advance"; position: number }
  | { type: "finish"; position: number };

/** A turn nobody enrolled, as it ended: what the store of unknown voices keeps. */
export interface UnknownTurn {
  voiceprint: Float32Array;
  speechSeconds: number;
  /** Stream extent of the turn (samples). */
  start: number;
  end: number;
}

/**
 * Where voices nobody enrolled are kept and told apart (src/voices/): without it, an unknown turn is
 * reported without a voice and forgotten.
 */
export interface UnknownVoices {
  /** The kept voice this voiceprint is, or null; keeps nothing. */
  recognise(voiceprint: Float32Array): string | null;
  /** Keeps an ended unknown turn; returns the voice it joined or began (null when it was not kept). */
  keep(turn: UnknownTurn): string | null;
}

/** A turn as it ended: its final decision and the voiceprint it was decided on (mean of its windows). */
export interface EndedTurn {
  decision: Decision;
  voiceprint: Float32Array | null;
  speechSeconds: number;
}

/** The state "nobody enrolled" among the speaker ids. */
const NOBODY = "";
/** Another voice nobody enrolled, unlike the one of the turn (a pseudo-state: it becomes NOBODY). */
const ANOTHER = "\u0001";
/** Windows a turn needs before its voiceprint is compared with the next ones. */
const MIN_WINDOWS_FOR_VOICE = 3;
/** The latest window at a change stands for the new voice when nobody enrolled it. */
const NEW_VOICE_WINDOWS = 1;
/**
 * A young turn's speech before a pause a change is placed on, this long (seconds) or more, is words of
 * its own, split off rather than relabelled (shorter: a breath or a clipped syllable of the next voice).
 * On bench:stream's recordings 0.25 s did as well and 0.75 s kept most of the old misnaming; splitting
 * every snapped change cut members' first 0.1-0.3 s syllables off their turns.
 */
const OWN_WORDS_SECONDS = 0.5;
/**
 * An enrolled person's turn is also watched for another voice by its windows' likeness to the turn (not
 * only by their score against the person) once this many windows of it are known: about 2.4 s, enough to
 * say how alike this person's windows are here. On bench:stream's recordings, 5 split room members' weak
 * turns and 12 did not.
 */
const OWN_VOICE_WINDOWS = 12;
/** The calibrated same-voice fit weighs as this many windows beside a turn's own (1 to 6 did the same). */
const PRIOR_WINDOWS = 3;
/**
 * A change is placed when the stream is this many windows past the first window that favoured the new
 * voice: then the latest window is wholly the new voice, and calibrate:voice-change placed changes within
 * 0.14 s (p50) that way against 0.43 s half a window earlier.
 */
const PLACEABLE_WINDOWS = 1.5;
const UNKNOWN_LABEL = "unknown";

interface Turn {
  id: number;
  start: number;
  /** End of its last speech (exclusive), or the stream position while speaking. */
  end: number;
  speaking: boolean;
  /** Start of the latest stretch of speech (after a pause inside the turn). */
  resumedAt: number;
  /** Speech samples in the turn (pauses excluded). */
  speech: number;
  /** Who the windows say is talking: a speaker id, NOBODY, or null before the first window. */
  state: string | null;
  sum: Float64Array | null;
  count: number;
  /**
   * The sum and count of its windows that start at or after its start: its own voice, without the
   * windows reaching back into the voice before it (windows skip pauses).
   */
  own: { sum: Float64Array; count: number } | null;
  /** Windows of the last few seconds: a split moves the ones after the change to the new turn. */
  recent: TrackedWindow[];
  /** Its speech from its start, heard whole (the latest such voiceprint), or null. */
  whole: TrackedWindow | null;
  /** Speaker id or "unknown" once announced; null while pending. */
  announced: string | null;
  /** The unknown voice it was recognised as, once announced "unknown". */
  voice: string | null;
  /** Who the turn it was split from (another voice taking over, no pause) was, or null. */
  splitFrom: string | null;
  /**
   * Windows starting before this cannot make the turn "unknown" (null: none held back): the turn was not
   * confidently nobody enrolled when it paused, and the windows reaching past the pause may hold the
   * next voice's first words, which can tip a stranger close to the margin over it.
   */
  unknownHeldUntil: number | null;
  /**
   * How an enrolled person's windows compared with the turn's voiceprint before each of them, while no
   * other voice was building: how alike this person's windows are here and now.
   */
  likeness: Likeness;
}

/** Cosines summed: their sum, sum of squares and count. */
interface Likeness {
  sum: number;
  squares: number;
  count: number;
}

interface Evidence {
  total: number;
  /** Start of the first window of the current rise. */
  since: number;
}

/**
 * Follows who is talking, window by window, across the VAD's segments: pure (no model, no I/O), driven by
 * the live identifier and by `voiceid diarize`.
 *
 * Each window's cosine to every enrolled person becomes evidence (log-odds) for that person against
 * "nobody enrolled". A turn holds one voice; evidence for another voice accumulates (a CUSUM: the online
 * form of a two-state Viterbi with a switching penalty) and, past `switchEvidence`, ends the turn where
 * that evidence began and starts the other voice's turn, so one odd window neither names anyone nor
 * splits a turn. A turn is named once its own voiceprint (mean of its windows) reaches the person's
 * threshold, announced "unknown" once it is confidently nobody enrolled, and pending until then.
 * A turn continues across pauses up to `pauseSeconds` while the voice stays the same.
 */
export class SpeakerTracker {
  private turn: Turn | null = null;
  private turnSeq = 0;
  private evidence = new Map<string, Evidence>();
  private readonly windowKeep: number;
  /** Recent silences: between VAD segments (gaps, which windows skip) and short pauses inside them. */
  private gaps: Silence[] = [];
  private pauses: Silence[] = [];
  /** Where the last VAD segment's speech ended (null while speaking or before any). */
  private speechEnd: number | null = null;

  constructor(
    private readonly options: SpeakerTrackerOptions,
    private readonly candidates: () => readonly MatchCandidate[],
    private readonly onTurnEnded?: (turn: EndedTurn) => void,
    private readonly voices?: UnknownVoices,
  ) {
    this.windowKeep = Math.round(4 * options.sampleRate);
  }

  /** A turn is open (speaking, or in a pause that may still continue it). */
  get inTurn(): boolean {
    return this.turn !== null;
  }

  /** Takes one input; the methods below, by the input's type. */
  apply(input: TrackerInput): Decision[] {
    switch (input.type) {
      case "speechStarted":
        return this.speechStarted(input.at);
      case "pause":
        this.pause(input.silence);
        return [];
      case "window":
        return this.window(input.window);
      case "wholeTurn":
        return this.wholeTurn(input.speech);
      case "speechEnded":
        return this.speechEnded(input.at, input.speech, input.decidedAt);
      case "advance":
        return this.advance(input.position);
      case "finish":
        return this.finish(input.position);
    }
  }

  /** Speech began at `at` (a VAD segment's start). */
  speechStarted(at: number): Decision[] {
    const out: Decision[] = [];
    if (this.speechEnd !== null && at > this.speechEnd)
      this.remember(this.gaps, { start: this.speechEnd, end: at });
    this.speechEnd = null;
    const turn = this.turn;
    if (turn && !turn.speaking) {
      if (at - turn.end <= this.options.pauseSeconds * this.options.sampleRate) {
        // Provisionally the same turn; the next windows confirm the voice or split it off.
        turn.speaking = true;
        turn.resumedAt = at;
        this.holdUnknown(turn, at, true);
        return out;
      }
      out.push(...this.close(turn, turn.end, at));
    }
    if (this.turn) return out;
    this.open(at, null, out, at);
    return out;
  }

  /** The VAD saw a short pause inside a segment (too short to end it): a change of voice may sit there. */
  pause(silence: Silence): void {
    this.remember(this.pauses, silence);
    if (this.turn) this.holdUnknown(this.turn, silence.end);
  }

  /** One window's voiceprint; windows arrive in stream order. */
  window(w: TrackedWindow): Decision[] {
    const out: Decision[] = [];
    let turn = this.turn;
    if (!turn) return out;
    turn.end = Math.max(turn.end, w.end);
    // Windows skip short silences, so a new turn's first windows reach back into the speech before its
    // pause: one centred there is the voice before (as at a split) and would name that person for this
    // turn. The turn waits for a window centred in its own speech.
    if (turn.count === 0 && turn.splitFrom === null && center(w) < turn.start) return out;
    const evidence = this.windowEvidence(w.embedding);
    const before = turn.state !== null && turn.count >= MIN_WINDOWS_FOR_VOICE ? voiceBefore(turn, w) : null;
    const similarity = before ? cosine(w.embedding, before) : null;
    const heardIn = turn;
    const enrolled = this.enrolledState(turn);
    if (similarity !== null && (!enrolled || turn.likeness.count >= OWN_VOICE_WINDOWS)) {
      // Another voice, enrolled or not, shows as windows unlike the turn's own voiceprint: for an enrolled
      // person, unlike their own windows here (a visitor scoring just below their threshold still counts
      // for them).
      const model = enrolled
        ? ownVoiceModel(this.options.voiceChange, turn.likeness)
        : this.options.voiceChange;
      evidence.set(ANOTHER, voiceChangeEvidence(similarity, model));
    }
    if (turn.state === null) {
      turn.state = strongest(evidence);
    } else {
      const current = evidence.get(turn.state) ?? 0;
      let best: string | null = null;
      for (const [state, e] of evidence) {
        if (state === turn.state) continue;
        const track = this.evidence.get(state) ?? { total: 0, since: w.start };
        const total = Math.max(0, track.total + e - current);
        this.evidence.set(state, { total, since: track.total === 0 ? w.start : track.since });
        if (
          total > this.options.switchEvidence &&
          this.placeable(state, w) &&
          (best === null || total > this.evidence.get(best)!.total)
        ) {
          best = state;
        }
      }
      if (best !== null) turn = this.switchTo(turn, best, w, out);
    }
    // A window that added to the evidence for another voice may be that voice: not the person's likeness.
    if (
      enrolled &&
      turn === heardIn &&
      similarity !== null &&
      (this.evidence.get(ANOTHER)?.total ?? 0) === 0
    ) {
      turn.likeness.sum += similarity;
      turn.likeness.squares += similarity ** 2;
      turn.likeness.count++;
    }
    this.add(turn, w);
    this.decide(turn, w, out);
    return out;
  }

  /**
   * Where the open turn's speech would be heard whole from (its start), or null: a turn not yet named,
   * following an enrolled person, with speech in the wholeTurn range and `every` more since it was last
   * heard whole.
   */
  wantedSpeech(): number | null {
    const turn = this.turn;
    const whole = this.options.wholeTurn;
    if (!whole || !turn?.speaking || turn.announced !== null || !this.enrolledState(turn)) return null;
    // The next voice's first words would be heard as this turn's.
    if (this.anotherVoiceBuilding()) return null;
    const rate = this.options.sampleRate;
    const speech = speechSoFar(turn);
    if (speech < whole.from * rate || speech > (whole.until + whole.every / 2) * rate) return null;
    if (turn.whole && turn.end - turn.whole.end < whole.every * rate) return null;
    return turn.start;
  }

  /**
   * The open turn's speech from its start heard whole (as wantedSpeech asked): a voiceprint of more speech
   * than any window's, and of none before the turn, so it names the person the windows follow where their
   * mean is not yet enough (a member enrolled on another microphone).
   */
  wholeTurn(speech: TrackedWindow): Decision[] {
    const turn = this.turn;
    const out: Decision[] = [];
    // Only as asked, now: a recording replayed through another version may hold what it would not ask for.
    if (!turn || this.wantedSpeech() !== speech.start) return out;
    turn.whole = speech;
    const label = this.labelOf(speech.embedding);
    if (this.namesWhole(label, turn.state)) {
      turn.announced = label.speakerId;
      out.push(this.decision("updated", turn, speech.end, label));
    }
    return out;
  }

  /**
   * The VAD ended the speech at `at` after `speech` samples of it (no pre- or post-roll), and said so at
   * stream position `decidedAt`: the turn pauses, and ends if nobody goes on within pauseSeconds.
   */
  speechEnded(at: number, speech: number, decidedAt = at): Decision[] {
    const turn = this.turn;
    if (!turn?.speaking) return [];
    turn.speaking = false;
    turn.speech += Math.max(0, Math.min(speech, at - turn.resumedAt));
    turn.end = at;
    this.speechEnd = at;
    // The windows now cover the speech to its end: a stranger is announced in the pause, before anyone
    // else can speak (after it, the first window would hold the next voice too).
    const out: Decision[] = [];
    this.announceUnknown(turn, turn.speech, decidedAt, out);
    return out;
  }

  /** The stream reached `position`: a pause longer than pauseSeconds ends the turn. */
  advance(position: number): Decision[] {
    const turn = this.turn;
    if (!turn || turn.speaking) return [];
    const allowance = this.options.pauseSeconds * this.options.sampleRate;
    if (position - turn.end < allowance) return [];
    // Decided the moment the allowance ran out, however late the stream position came in.
    const out: Decision[] = [];
    const at = turn.end + allowance;
    const last = this.splitTail(turn, out, at);
    return [...out, ...this.close(last, last.end, at)];
  }

  /** End of the input: the open turn ends where its speech ended. */
  finish(position: number): Decision[] {
    const turn = this.turn;
    if (!turn) return [];
    if (turn.speaking) this.speechEnded(position, position - turn.resumedAt);
    const out: Decision[] = [];
    const last = this.splitTail(turn, out, position);
    return [...out, ...this.close(last, last.end, position)];
  }

  // ---- internals ----

  private open(
    start: number,
    state: string | null,
    out: Decision[],
    at: number,
    splitFrom: string | null = null,
  ): Turn {
    const turn: Turn = {
      id: ++this.turnSeq,
      start,
      end: start,
      speaking: true,
      ...speechSince(start, this.gaps),
      state,
      sum: null,
      count: 0,
      own: null,
      recent: [],
      whole: null,
      announced: null,
      voice: null,
      splitFrom,
      unknownHeldUntil: null,
      likeness: noLikeness(),
    };
    this.turn = turn;
    this.evidence.clear();
    out.push(this.decision("started", turn, at, this.pending(turn)));
    return turn;
  }

  /**
   * Ends `turn` at `end` with its final label; `at` is the stream position of the decision. `bySwitch`:
   * another voice is talking now, so a stranger found only at the end is reported in "stopped" but not
   * announced (the announcement would greet whoever talks now as a stranger); so is one that
   * announceUnknown still holds back.
   */
  private close(turn: Turn, end: number, at: number, bySwitch = false): Decision[] {
    const out: Decision[] = [];
    if (turn.speaking) turn.speech += Math.max(0, Math.min(end, turn.end) - turn.resumedAt);
    turn.end = end;
    const speech = turn.speech;
    let label: Label;
    if (turn.announced !== null && turn.announced !== UNKNOWN_LABEL) {
      label = this.label(turn);
      // Named on its speech heard whole, which its windows do not reach yet: that names it still, if none
      // of that speech has gone to the next voice.
      if (label.speakerId === null && turn.whole && turn.whole.end <= end) {
        const whole = this.labelOf(turn.whole.embedding);
        if (this.namesWhole(whole, turn.announced)) label = whole;
      }
      // Named, but the whole turn ends below the threshold: close to someone, not enough to name. A turn
      // that has ended is never "pending".
      if (label.speakerId === null && label.reason === "pending") label = { ...label, reason: "uncertain" };
    } else if (speech < this.options.minSpeechSeconds * this.options.sampleRate && turn.announced === null) {
      label = { ...this.label(turn), speakerId: null, speaker: null, reason: "too_short" };
    } else {
      label = this.label(turn);
      if (label.speakerId !== null && label.speakerId !== turn.state) {
        label = { ...label, speakerId: null, speaker: null, reason: "pending" };
      }
      if (label.speakerId === null && label.reason === "pending") {
        // Never named. Confidently nobody enrolled: unknown. Close to someone enrolled, or too little
        // speech to be sure: uncertain, and nothing is claimed (a household member's unclear turn must
        // not pass for a stranger).
        const confident =
          this.nobody(label) && speech >= this.options.unknownAfterSeconds * this.options.sampleRate;
        label = { ...label, reason: turn.announced === UNKNOWN_LABEL || confident ? "unknown" : "uncertain" };
      }
      // Kept as a voice nobody enrolled: a stranger, or (in a room, where strangers rarely score far
      // enough below everyone's threshold to be "unknown") a turn that long and still below every threshold.
      const keep =
        this.ignoredVoiceOf(label, turn) === null &&
        (label.reason === "unknown" ||
          (label.reason === "uncertain" &&
            label.score !== null &&
            label.score < label.threshold &&
            speech >= this.options.unknownAfterSeconds * this.options.sampleRate));
      if (keep && turn.sum && turn.count > 0) {
        const kept = this.voices?.keep({
          voiceprint: centroidOf([turn.sum])!,
          speechSeconds: speech / this.options.sampleRate,
          start: turn.start,
          end: turn.end,
        });
        turn.voice = kept ?? turn.voice;
      }
      const key = label.speakerId ?? (label.reason === "unknown" ? UNKNOWN_LABEL : null);
      // Held back as the speech ended, a stranger is not announced as the pause runs out either: the pause
      // heard nothing more, and the next voice may be beginning (bench:stream's mismatch stream of seed 62:
      // "unknown" 0.2 s into member 233's first words).
      const withheld = key === UNKNOWN_LABEL && (bySwitch || this.unknownWithheld(turn));
      if (key !== null && key !== turn.announced && !withheld) {
        turn.announced = key;
        out.push(this.decision("updated", turn, at, label));
      }
    }
    const stopped = this.decision("stopped", turn, at, label);
    out.push(stopped);
    this.onTurnEnded?.({
      decision: stopped,
      voiceprint: turn.sum && turn.count > 0 ? centroidOf([turn.sum]) : null,
      speechSeconds: speech / this.options.sampleRate,
    });
    this.turn = null;
    this.evidence.clear();
    return out;
  }

  /**
   * Evidence for another voice crossed the bar: place the change (on a pause when there is one near),
   * end the turn there and start the other voice's turn, or relabel a young turn.
   */
  private switchTo(turn: Turn, state: string, w: TrackedWindow, out: Decision[], at = w.end): Turn {
    const since = this.evidence.get(state)!.since;
    const windows = [...turn.recent, w];
    // Evidence that rose too late to place the change (a tail's, as its turn ends) still bounds it.
    const earliest = this.placeable(state, w) ? 0 : earliestChange(windows, since);
    this.evidence.clear();
    const after = windows.filter((r) => r.start >= since);
    if (state === ANOTHER) {
      // Another voice: whether someone enrolled is for its own windows to say. The same person again is
      // no change; after a voice nobody enrolled, it is a second such voice.
      state = this.strongestOver(after);
      // Windows unlike an enrolled person's own that still lean their way (below their threshold) are a
      // voice nobody enrolled.
      if (state === turn.state && state !== NOBODY) {
        if (this.reaches(after, state)) return turn;
        state = NOBODY;
      }
    }
    // An enrolled voice is compared with its enrolment; one nobody enrolled with its own windows: the
    // old voice's before the evidence for the new one began, the new voice's latest.
    const rate = this.options.sampleRate;
    const oldSide = windows.filter((r) => r.end <= since);
    const oldVoice = this.likenessTo(turn.state, oldSide.length > 0 ? oldSide : windows.slice(0, 1));
    const newVoice = this.likenessTo(state, windows.slice(-NEW_VOICE_WINDOWS));
    const change = placeChange(
      windows,
      (r) => newVoice(r.embedding) - oldVoice(r.embedding),
      { gaps: this.gaps, pauses: this.pauses },
      { from: Math.max(turn.start, windows[0].start, earliest), to: w.end },
      { reach: Math.round(this.options.snapSeconds * rate), lengthWeight: this.options.pauseLengthWeight },
    );
    const startOfNew = Math.min(Math.max(change.start, turn.start), w.end);
    const endOfOld = Math.min(Math.max(change.end, turn.start), startOfNew);
    const moved = turn.recent.filter((r) => center(r) >= startOfNew);
    const kept = turn.recent.filter((r) => center(r) < startOfNew);
    const young = startOfNew - turn.start < this.options.relabelSeconds * rate;
    const ownWordsBefore = change.snapped && endOfOld - turn.start >= OWN_WORDS_SECONDS * rate;
    if (
      turn.announced === null &&
      (endOfOld <= turn.start || (young && !ownWordsBefore && this.sameVoice(kept, moved)))
    ) {
      // Nothing was said about it yet, and its first windows are the voice that follows: it was that voice
      // all along (they were unclear). A short first voice of its own is split off instead, and so are
      // words before a pause the change is placed on: they have no window of their own, and the windows
      // lying mostly after the pause cannot say they were the next voice.
      turn.state = state;
      this.reset(turn, moved);
      return turn;
    }
    this.remove(turn, moved);
    turn.recent = kept;
    if (turn.speaking) turn.speech += Math.max(0, endOfOld - turn.resumedAt);
    turn.speaking = false;
    out.push(...this.close(turn, endOfOld, at, true));
    const next = this.open(startOfNew, state, out, at, turn.state);
    this.reset(next, moved);
    return next;
  }

  /**
   * A change to someone enrolled is placed against their enrolment at once. Another voice is placed once
   * a window wholly after the change exists (half a window more than the first window of the rise):
   * before, its own windows still hold the old voice.
   */
  private placeable(state: string, w: TrackedWindow): boolean {
    if (state !== NOBODY && state !== ANOTHER) return true;
    const since = this.evidence.get(state)?.since ?? w.start;
    return w.end - since >= PLACEABLE_WINDOWS * (w.end - w.start);
  }

  /** Evidence for another voice than the turn's is building (a quarter of the bar or more). */
  private anotherVoiceBuilding(): boolean {
    return [...this.evidence.values()].some((e) => e.total >= this.options.switchEvidence / 4);
  }

  /** A turn's speech heard whole names `id`: at their threshold + wholeTurn.aboveThreshold. */
  private namesWhole(label: Label, id: string | null): boolean {
    const bar = label.threshold + (this.options.wholeTurn?.aboveThreshold ?? 0);
    return label.speakerId !== null && label.speakerId === id && label.score !== null && label.score >= bar;
  }

  /** The turn follows someone enrolled (its windows say so). */
  private enrolledState(turn: Turn): boolean {
    return turn.state !== null && turn.state !== NOBODY;
  }

  /** The windows together reach the enrolled person's threshold (true when there is nothing to judge). */
  private reaches(windows: readonly TrackedWindow[], id: string): boolean {
    const candidate = this.candidates().find((c) => c.id === id);
    const centroid = centroidOf(windows.map((r) => r.embedding));
    if (!candidate || !centroid) return true;
    return candidateScore(centroid, candidate) >= (candidate.threshold ?? this.options.defaultThreshold);
  }

  /** The two sets of windows sound like one voice (or one of them is empty). */
  private sameVoice(a: readonly TrackedWindow[], b: readonly TrackedWindow[]): boolean {
    const first = centroidOf(a.map((r) => r.embedding));
    const second = centroidOf(b.map((r) => r.embedding));
    if (!first || !second) return true;
    return voiceChangeEvidence(cosine(first, second), this.options.voiceChange) < 0;
  }

  /** How like a voice a window is: an enrolled person's score, or the cosine to these windows' centroid. */
  private likenessTo(state: string | null, windows: readonly TrackedWindow[]): (e: Float32Array) => number {
    const candidate = this.candidates().find((c) => c.id === state);
    if (candidate) return (e) => candidateScore(e, candidate);
    const centroid = centroidOf(windows.map((r) => r.embedding));
    return centroid ? (e) => cosine(e, centroid) : () => 0;
  }

  /**
   * A turn that ends while evidence for another voice was building (half the bar or more): the voice
   * changed too near the end of its speech to cross the bar. Its tail is split off as a turn of its own,
   * named only if its own windows name someone. Returns the turn that ends last.
   */
  private splitTail(turn: Turn, out: Decision[], at: number): Turn {
    let state: string | null = null;
    let most = this.options.switchEvidence / 2;
    for (const [s, e] of this.evidence) {
      if (e.total >= most) {
        most = e.total;
        state = s;
      }
    }
    const last = turn.recent.at(-1);
    if (state === null || !last) return turn;
    const end = turn.end;
    const speech = turn.speech;
    turn.recent.pop();
    this.remove(turn, [last]);
    const tail = this.switchTo(turn, state, last, out, at);
    this.add(tail, last);
    if (tail !== turn) {
      tail.speaking = false;
      tail.end = end;
      tail.speech = Math.min(speech, end - tail.start);
    }
    return tail;
  }

  /** The state the windows' summed evidence favours (a voice nobody enrolled when no one stands out). */
  private strongestOver(windows: readonly TrackedWindow[]): string {
    const total = new Map<string, number>();
    for (const r of windows) {
      for (const [state, e] of this.windowEvidence(r.embedding))
        total.set(state, (total.get(state) ?? 0) + e);
    }
    return strongest(total);
  }

  /** Adds a silence to a recent list; those older than the windows kept are dropped. */
  private remember(list: Silence[], silence: Silence): void {
    list.push(silence);
    const horizon = silence.end - 2 * this.windowKeep;
    while (list.length > 0 && list[0].end < horizon) list.shift();
  }

  private decide(turn: Turn, w: TrackedWindow, out: Decision[]): void {
    const at = w.end;
    if (turn.announced !== null && turn.announced !== UNKNOWN_LABEL) return;
    const label = this.label(turn);
    const speech = speechSoFar(turn);
    if (label.speakerId !== null && label.speakerId === turn.state) {
      turn.announced = label.speakerId;
      out.push(this.decision("updated", turn, at, label));
      return;
    }
    // The windows speak for their middle: the speech of the latest half window is not judged yet. A
    // stranger who stops as a member begins must not have the member greeted as a stranger; the turn
    // still ends "unknown" if it is.
    this.announceUnknown(turn, speech - (w.end - center(w)), at, out, label);
  }

  /**
   * Announces a turn "unknown" once `judged` samples of its speech are confidently nobody enrolled, and
   * not while another voice may be taking over (its evidence a quarter of the bar or more): a member
   * who begins a moment after a stranger's short turn builds evidence slowly (1.1 after a second in
   * bench:stream's dry stream 17), and the stranger's turn, long enough only with the member's first
   * words in it, would greet the member as a stranger. Nor while it is held back after a pause
   * (holdUnknown) and its latest window still reaches back across it.
   */
  private announceUnknown(
    turn: Turn,
    judged: number,
    at: number,
    out: Decision[],
    label = this.label(turn),
  ): void {
    if (turn.announced !== null || turn.state !== NOBODY) return;
    if (judged < this.options.unknownAfterSeconds * this.options.sampleRate) return;
    if (!this.nobody(label) || this.unknownWithheld(turn)) return;
    turn.announced = UNKNOWN_LABEL;
    if (turn.sum) turn.voice = this.voices?.recognise(centroidOf([turn.sum])!) ?? null;
    out.push(this.decision("updated", turn, at, { ...label, reason: "unknown" }));
  }

  /**
   * A stranger's turn may not be announced "unknown" now, however confidently nobody enrolled: another
   * voice may be taking over, or the turn is held back after a pause (holdUnknown) and its latest window
   * still reaches back across it.
   */
  private unknownWithheld(turn: Turn): boolean {
    return this.heldBack(turn) || this.anotherVoiceBuilding();
  }

  /**
   * Speech goes on at `resumed` after a pause: a turn of a voice nobody enrolled that is not yet
   * confidently nobody waits for a window wholly after the pause before it may be announced "unknown".
   * Room streams: strangers at 0.27-0.28 against a cut of 0.26 on CAM++ were tipped below it by the
   * next member's first words (bench:stream's room streams 7, 8 and 14). After a gap between the VAD's
   * segments (`acrossGap`) every turn not yet announced waits, but one confidently nobody and free to be
   * announced as the gap began (only too short then): a turn still held from a pause before, whose first
   * window past it would reach across the gap into whoever speaks now (bench:stream's mismatch stream 20:
   * stranger 2514 announced 0.1 s into member 2159's words), and one whose windows leaned towards a
   * member, so that it could not be announced as its speech ended, and became nobody on windows reaching
   * across the gap (dry stream 30: stranger 2416 announced 0.6 s into member 248's). Not after a pause
   * inside a segment: a stranger's pauses between words would hold them back to the end of their turn.
   */
  private holdUnknown(turn: Turn, resumed: number, acrossGap = false): void {
    if (turn.announced !== null || (turn.state !== NOBODY && !acrossGap)) return;
    const free =
      turn.state === NOBODY && this.nobody(this.label(turn)) && !(acrossGap && this.heldBack(turn));
    if (!free) turn.unknownHeldUntil = resumed;
  }

  /** The turn's latest window still reaches back across the pause holdUnknown held it at. */
  private heldBack(turn: Turn): boolean {
    const latest = turn.recent.at(-1);
    return turn.unknownHeldUntil !== null && (latest?.start ?? turn.start) < turn.unknownHeldUntil;
  }

  /** The voiceprint is far from every enrolled person. */
  private nobody(label: Label): boolean {
    return label.score === null || label.score < label.threshold - this.options.unknownMargin;
  }

  /** The turn's voiceprint (its windows' mean) against the enrolled people: named, or why not. */
  private label(turn: Turn): Label {
    return this.labelOf(turn.count > 0 ? turn.sum : null);
  }

  /** A voiceprint against the enrolled people (the registry's open-set matching): named, or why not. */
  private labelOf(voiceprint: Float64Array | Float32Array | null): Label {
    const candidates = this.candidates();
    const threshold = this.options.defaultThreshold;
    if (!voiceprint) {
      const none = { score: null, margin: null, threshold, nearestSpeakerId: null, nearestSpeaker: null };
      return { ...none, scores: {}, speakerId: null, speaker: null, reason: "pending" };
    }
    const match = matchVoiceprint(voiceprint, candidates, threshold, this.options.minMargin || undefined);
    // The matcher keys scores by display name; decisions key them by id.
    const scores = Object.fromEntries(candidates.map((c) => [c.id, match.scores[c.name]]));
    return {
      speakerId: match.speaker?.id ?? null,
      speaker: match.speaker?.name ?? null,
      // Below every threshold is not "unknown" yet for a turn: it is still open.
      reason: match.reason === "unknown" ? "pending" : match.reason,
      score: match.score,
      margin: match.margin,
      threshold: match.threshold,
      nearestSpeakerId: match.nearest?.id ?? null,
      nearestSpeaker: match.nearest?.name ?? null,
      scores,
    };
  }

  private pending(turn: Turn): Label {
    return { ...this.label(turn), speakerId: null, speaker: null, reason: "pending" };
  }

  /** A window's evidence (log-odds) for each enrolled person against nobody enrolled (0). */
  private windowEvidence(embedding: Float32Array): Map<string, number> {
    const { evidenceScale, evidenceOffset, defaultThreshold } = this.options;
    const out = new Map<string, number>([[NOBODY, 0]]);
    for (const c of this.candidates()) {
      const threshold = c.threshold ?? defaultThreshold;
      out.set(c.id, evidenceScale * (candidateScore(embedding, c) - (threshold - evidenceOffset)));
    }
    return out;
  }

  /**
   * A label as decisions carry it: an ignored voice is tracked like a person (so its turns hold together)
   * but named by nobody, and ignored voices are nobody's nearest or score.
   */
  private published(label: Label, turn: Turn): Label & { voice: string | null } {
    const ignored = new Set(this.candidates().flatMap((c) => (c.ignored ? [c.id] : [])));
    const kept = label.reason === "unknown" || label.reason === "uncertain" ? turn.voice : null;
    if (ignored.size === 0) return { ...label, voice: kept };
    const scores = Object.fromEntries(Object.entries(label.scores).filter(([id]) => !ignored.has(id)));
    const nearestIgnored = label.nearestSpeakerId !== null && ignored.has(label.nearestSpeakerId);
    const nearest = nearestIgnored ? { nearestSpeakerId: null, nearestSpeaker: null } : {};
    const ignoredVoice = this.ignoredVoiceOf(label, turn);
    if (ignoredVoice !== null) {
      return {
        ...label,
        ...nearest,
        scores,
        speakerId: null,
        speaker: null,
        reason: "ignored",
        voice: ignoredVoice,
      };
    }
    return { ...label, ...nearest, scores, voice: kept };
  }

  /**
   * The ignored voice a turn is, or null: named as it (its windows reached the voice's threshold); or
   * ending unnamed nearest to it and not confidently another (within unknownMargin of its threshold, as for
   * "unknown"), as the TV's short or unclear turns through a room's microphone do (0.75-0.87 against it);
   * or, ending unnamed and unsure (uncertain, too short), split with no pause from a turn of it: the tail
   * of the TV's own speech that the voice-change evidence cut off.
   */
  private ignoredVoiceOf(label: Label, turn: Turn): string | null {
    const ignored = (id: string | null) =>
      id === null ? undefined : this.candidates().find((c) => c.id === id && c.ignored);
    if (label.speakerId !== null) return ignored(label.speakerId)?.id ?? null;
    if (label.reason !== "uncertain" && label.reason !== "too_short" && label.reason !== "unknown")
      return null;
    const nearest = ignored(label.nearestSpeakerId);
    if (nearest && label.score !== null) {
      const threshold = nearest.threshold ?? this.options.defaultThreshold;
      if (label.score >= threshold - this.options.unknownMargin) return nearest.id;
    }
    if (label.reason !== "unknown") return ignored(turn.splitFrom)?.id ?? null;
    return null;
  }

  private add(turn: Turn, w: TrackedWindow): void {
    turn.sum ??= new Float64Array(w.embedding.length);
    addTo(turn.sum, w.embedding, 1);
    turn.count++;
    if (w.start >= turn.start) {
      turn.own ??= { sum: new Float64Array(w.embedding.length), count: 0 };
      addTo(turn.own.sum, w.embedding, 1);
      turn.own.count++;
    }
    turn.recent.push(w);
    while (turn.recent.length > 0 && w.end - turn.recent[0].end > this.windowKeep) turn.recent.shift();
  }

  private remove(turn: Turn, windows: readonly TrackedWindow[]): void {
    if (!turn.sum) return;
    for (const w of windows) {
      addTo(turn.sum, w.embedding, -1);
      turn.count--;
      if (turn.own && w.start >= turn.start) {
        addTo(turn.own.sum, w.embedding, -1);
        turn.own.count--;
      }
    }
  }

  private reset(turn: Turn, windows: readonly TrackedWindow[]): void {
    turn.likeness = noLikeness();
    turn.whole = null;
    turn.sum = null;
    turn.count = 0;
    turn.own = null;
    turn.recent = [];
    for (const w of windows) this.add(turn, w);
  }

  private decision(type: DecisionType, turn: Turn, at: number, label: Label): Decision {
    const rate = this.options.sampleRate;
    return {
      type,
      turnId: turn.id,
      ...this.published(label, turn),
      startS: turn.start / rate,
      durationS: Math.max(0, turn.end - turn.start) / rate,
      decidedAtS: at / rate,
    };
  }
}

type Label = Omit<Decision, "type" | "turnId" | "startS" | "durationS" | "decidedAtS" | "voice">;

function strongest(evidence: Map<string, number>): string {
  let best = NOBODY;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (const [state, value] of evidence) {
    if (value > bestValue) {
      best = state;
      bestValue = value;
    }
  }
  return best;
}

/**
 * The turn's own voice as it was before `w`: the sum of its windows that lie in the turn and end before
 * `w` starts (null when there are none). A window overlapping `w` shares most of its audio, so with them
 * a window of the next voice still looks like the turn (CAM++: 0.50-0.56 to the turn for a member 1 s
 * into their speech after a stranger, 0.2 without); one starting before the turn holds the voice before
 * it. calibrate:voice-change fits the same comparison.
 */
function voiceBefore(turn: Turn, w: TrackedWindow): Float64Array | null {
  if (!turn.own) return null;
  const overlapping = turn.recent.filter((r) => r.end > w.start && r.start >= turn.start);
  if (overlapping.length >= turn.own.count) return null;
  const sum = Float64Array.from(turn.own.sum);
  for (const r of overlapping) addTo(sum, r.embedding, -1);
  return sum;
}

/**
 * A turn's speech from `start` (samples) to the latest speech: its stretch less the VAD's gaps, and where
 * that latest stretch resumed. A turn opened at a change placed in the past has gaps behind it: counted
 * as speech, one let a stranger's turn reach unknownAfterSeconds on the next voice's first words
 * (mismatch stream 12 at 48.6 s), and at the gap's end only the VAD segment's own speech was kept, so a
 * turn of 2 s of speech could end too_short.
 */
function speechSince(start: number, gaps: readonly Silence[]): { speech: number; resumedAt: number } {
  let speech = 0;
  let from = start;
  for (const gap of gaps) {
    if (gap.end <= from) continue;
    speech += Math.max(0, gap.start - from);
    from = gap.end;
  }
  return { speech, resumedAt: from };
}

function noLikeness(): Likeness {
  return { sum: 0, squares: 0, count: 0 };
}

/**
 * The voice-change model for one enrolled person's turn: the same-voice fit moved towards how alike their
 * windows have been in it (the calibrated fit weighing PRIOR_WINDOWS windows); the other-voice fit stays.
 * A member's windows sit at 0.84 ± 0.07 to their dry turn (CAM++), where the pooled fit (0.63 ± 0.15) took
 * a visitor's 0.40 for the same voice.
 */
function ownVoiceModel(pooled: VoiceChangeModel, { sum, squares, count }: Likeness): VoiceChangeModel {
  const mean = (PRIOR_WINDOWS * pooled.same.mean + sum) / (PRIOR_WINDOWS + count);
  const spread = Math.max(0, squares - 2 * mean * sum + count * mean ** 2);
  const sd = Math.sqrt((PRIOR_WINDOWS * pooled.same.sd ** 2 + spread) / (PRIOR_WINDOWS + count));
  return { same: { mean, sd }, other: pooled.other };
}

/** Adds (sign 1) or takes away (-1) a voiceprint from a running sum. */
function addTo(sum: Float64Array, embedding: Float32Array, sign: 1 | -1): void {
  for (let i = 0; i < embedding.length; i++) sum[i] += sign * embedding[i];
}

/** A turn's speech so far (samples), its latest stretch included while it is speaking. */
function speechSoFar(turn: Turn): number {
  return turn.speech + (turn.speaking ? turn.end - turn.resumedAt : 0);
}

function center(w: TrackedWindow): number {
  return (w.start + w.end) / 2;
}

/**
 * The earliest a change can lie whose evidence rose (from `since`) on too few of `windows` to place it: the
 * start of the second window before the rise. Any earlier, and two windows wholly of the new voice showed
 * nothing of it. The fit cannot say more: the new voice's likeness is to the latest window, mostly the old
 * voice still (unbounded, a stranger's turn was split on their own pause 2 s before a member's last 0.3 s,
 * and the 2.8 s split off announced "unknown" on the member).
 */
function earliestChange(windows: readonly TrackedWindow[], since: number): number {
  const rise = windows.findIndex((r) => r.start >= since);
  return rise >= 2 ? windows[rise - 2].start : 0;
}
