/**
 * Runs a turn-taking stream through voiceid's speech path (Silero VAD, then live identification) as
 * fast as it goes, and turns what comes out into announcements and reported turns for scoring.
 */
import type { SpeechPipelineOptions } from "../../src/daemon/speech-pipeline.js";
import { SpeechPipeline } from "../../src/daemon/speech-pipeline.js";
import type { SpeakerEncoder } from "../../src/embedding/encoder.js";
import { type Decision, isAnnouncement } from "../../src/identify/decision.js";
import type { LiveIdentifierOptions } from "../../src/identify/live-identifier.js";
import {
  type EndedTurn,
  SpeakerTracker,
  type TrackerInput,
  type UnknownVoices,
} from "../../src/identify/speaker-tracker.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import type { AlternatePenalties } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";
import type { SileroVad } from "../../src/vad/silero.js";
import { type Announcement, type ReportedTurn, SAMPLE_RATE, UNKNOWN } from "./turn-streams.js";

const CHUNK = 512;

export interface Run {
  announcements: Announcement[];
  reported: ReportedTurn[];
  decisions: Decision[];
  /** Windows the encoder embedded. */
  windows: number;
  /** The speech the VAD heard, [from, to] s (absent from another checkout's live runs). */
  heard?: [number, number][];
}

export interface RunModels {
  vad: SileroVad;
  encoder: SpeakerEncoder;
}

/** Counts the windows an encoder embeds. */
function counting(encoder: SpeakerEncoder): SpeakerEncoder & { count: number } {
  const counted = Object.create(encoder) as SpeakerEncoder & { count: number };
  counted.count = 0;
  counted.embedWindows = (windows) => {
    counted.count += windows.length;
    return encoder.embedWindows(windows);
  };
  return counted;
}

/** The daemon's speech path over `samples`, with the tracker. */
export async function runTracker(
  samples: Float32Array,
  candidates: () => readonly MatchCandidate[],
  models: RunModels,
  identification: LiveIdentifierOptions,
  onTurnEnded?: (turn: EndedTurn) => void,
  voices?: UnknownVoices,
  /** Filled with everything the tracker was told (bench:stream --record). */
  inputs: TrackerInput[] = [],
): Promise<Run> {
  const decisions: Decision[] = [];
  const encoder = counting(models.encoder);
  const options: SpeechPipelineOptions = {
    vad: models.vad,
    encoder,
    candidates,
    segmenter: {},
    onTurnEnded,
    voices,
    onTrackerInput: (input) => inputs.push(input),
    identification,
    onDecision: (d) => {
      decisions.push(d);
    },
    idleBatchSamples: 0,
    logger: silentLogger,
  };
  models.vad.reset();
  const pipeline = new SpeechPipeline(options);
  await pipeline.start();
  for (let i = 0; i < samples.length; i += CHUNK) await pipeline.accept(samples.subarray(i, i + CHUNK));
  await pipeline.stop();
  return { ...fromDecisions(decisions), decisions, windows: encoder.count, heard: heardSpeech(inputs) };
}

/** The tracker alone over recorded input (bench:stream --replay). */
export function replayTracker(
  inputs: readonly TrackerInput[],
  candidates: readonly MatchCandidate[],
  identification: LiveIdentifierOptions,
): Run {
  const tracker = new SpeakerTracker(identification.tracker, () => candidates);
  const decisions = inputs.flatMap((input) => tracker.apply(input));
  const windows = inputs.filter((input) => input.type === "window").length;
  return { ...fromDecisions(decisions), decisions, windows, heard: heardSpeech(inputs) };
}

/** The speech the VAD heard, as the tracker was told of it: [from, to] s. */
export function heardSpeech(inputs: readonly TrackerInput[]): [number, number][] {
  const heard: [number, number][] = [];
  let from: number | null = null;
  for (const input of inputs) {
    if (input.type === "speechStarted") from = input.at;
    else if ((input.type === "speechEnded" || input.type === "finish") && from !== null) {
      heard.push([
        from / SAMPLE_RATE,
        (input.type === "speechEnded" ? input.at : input.position) / SAMPLE_RATE,
      ]);
      from = null;
    }
  }
  return heard;
}

/**
 * The candidates with their alternate centroids scored less `penalties` (by kind): how another checkout,
 * or another penalty, would match them. Recordings keep the penalties they were recorded with.
 */
export function withPenalties(
  candidates: readonly MatchCandidate[],
  penalties: AlternatePenalties,
): MatchCandidate[] {
  return candidates.map((c) =>
    c.alternates ? { ...c, alternates: c.alternates.map((a) => ({ ...a, penalty: penalties[a.kind] })) } : c,
  );
}

/** What the decisions claim (named or unknown, when decided) and each turn's final label. */
export function fromDecisions(decisions: readonly Decision[]): Omit<Run, "decisions" | "windows"> {
  const announcements: Announcement[] = [];
  const reported: ReportedTurn[] = [];
  for (const d of decisions) {
    if (isAnnouncement(d)) {
      announcements.push({ atS: d.decidedAtS, label: d.speakerId ?? UNKNOWN, turnStartS: d.startS });
    }
    if (d.type === "stopped") {
      const label = d.speakerId ?? (d.reason === "unknown" || d.reason === "uncertain" ? UNKNOWN : null);
      reported.push({ startS: d.startS, endS: d.startS + d.durationS, label });
    }
  }
  return { announcements, reported };
}
