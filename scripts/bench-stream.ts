/**
 * `npm run bench:stream`: live identification in a conversation, scored 10 ms by 10 ms. Turn-taking
 * streams are built from the shared LibriSpeech audio (scripts/bench/turn-streams.ts): a household of
 * 10 enrolled on the first half of their file, the other speakers visitors, 60 turns of 2-8 s (80 %
 * members from the second half of their file, 20 % visitors) with pauses of 0.05-2 s. Conditions:
 * - dry: enrolled and heard on the clean files;
 * - room: enrolled and heard through the far-field room microphone (librispeech-room);
 * - mismatch: enrolled from the clean files (an upload, a phone), heard through the room microphone;
 * - mismatch+listened / room+listened: the same after 10 minutes of the household (and visitors) in
 *   the room, first halves of the files only, with learning on; learning stops for the test stream.
 * Each stream goes through the daemon's speech path (Silero VAD, speech windows, speaker tracker) with
 * people enrolled through the real Enroller into a real registry, twice in the same run: as voiceid
 * matches now (enrolled, simulated-room and learned centroids) and with enrolled centroids only (before
 * issue 17). Shares are of what was spoken (pauses of 0.3 s or more inside a piece are not scored,
 * scripts/bench/spoken.ts); a row gives the same run scored on whole pieces, as before. Also: the
 * diarization error rate of `voiceid diarize`'s machinery on the shared two-person conversation.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readWavAs16kMono } from "../src/audio/wav.js";
import type { VoiceidConfig } from "../src/config/schema.js";
import { ENCODER_IDS } from "../src/embedding/encoder.js";
import type { ModelStack } from "../src/embedding/stack.js";
import { Identifier } from "../src/enrolment/identifier.js";
import { RoomLearner } from "../src/enrolment/room-learner.js";
import { alternatePenalties } from "../src/enrolment/room-voiceprints.js";
import { diarize } from "../src/identify/diarize.js";
import type { EndedTurn, TrackerInput } from "../src/identify/speaker-tracker.js";
import type { MatchCandidate } from "../src/registry/matcher.js";
import { type AlternatePenalties, SpeakerRegistry } from "../src/registry/registry.js";
import { silentLogger } from "../src/util/log.js";
import { readRttm } from "../test/helpers/audio.js";
import { conversationRttm, conversationWav } from "../test/helpers/paths.js";
import { type DiarizationError, diarizationError } from "./bench/der.js";
import { type Interval, intervalVerdict, pooledInterval } from "./bench/interval.js";
import { percentile } from "./bench/live.js";
import {
  BenchSetupError,
  enrolHousehold,
  librispeechFiles,
  numberOption,
  parseBenchArgs,
  progress,
  runMain,
  speechSettings,
  startSpeechModels,
} from "./bench/setup.js";
import { fromDecisions, type Run, replayTracker, runTracker, withPenalties } from "./bench/stream-runs.js";
import { formatTable, heading, pct, pctInterval, verdict } from "./bench/table.js";
import {
  type RecordedStream,
  readRecording,
  type TrackerRecording,
  writeRecording,
} from "./bench/tracker-recording.js";
import {
  type Audio,
  buildTurnStream,
  drawHousehold,
  enrolmentOf,
  FAR_FROM_CHANGE_S,
  loadAudio,
  type SpokenTurn,
  STRANGER_TURN_S,
  type StreamScore,
  scoreStream,
  type TrueTurn,
  UNHEARD_ONSET_S,
} from "./bench/turn-streams.js";

interface ConditionSpec {
  enrol: Audio;
  stream: Audio;
  listen: boolean;
  goal: { correct: number; wrongPerson: number };
}

/** Dry and room goals are issue 18's (correct from issue 7); the mismatch goals issue 17's. */
const CONDITIONS = {
  dry: { enrol: "dry", stream: "dry", listen: false, goal: { correct: 0.92, wrongPerson: 0.01 } },
  room: { enrol: "room", stream: "room", listen: false, goal: { correct: 0.8, wrongPerson: 0.015 } },
  mismatch: { enrol: "dry", stream: "room", listen: false, goal: { correct: 0.7, wrongPerson: 0.02 } },
  "mismatch+listened": {
    enrol: "dry",
    stream: "room",
    listen: true,
    goal: { correct: 0.8, wrongPerson: 0.02 },
  },
  "room+listened": { enrol: "room", stream: "room", listen: true, goal: { correct: 0.8, wrongPerson: 0.02 } },
} satisfies Record<string, ConditionSpec>;
type Condition = keyof typeof CONDITIONS;
const CONDITION_NAMES = Object.keys(CONDITIONS) as Condition[];
const GOALS = { latencyP50: 1.8, latencyP95: 3, falseUnknowns: 0, wrongFarSeconds: 0, dryBoundaryP50: 0.15 };
/** Turns of the listening stream: about 10 minutes of audio. */
const LISTENING_TURNS = 120;

const USAGE = `usage: npm run bench:stream -- [options]
  --seeds N          streams per condition (default 3, seeds 1..N)
  --first-seed S     seeds S..S+N-1 instead: streams held out from those a change was tuned on
  --encoder ID       speaker encoder (default ${ENCODER_IDS[0]}; one of ${ENCODER_IDS.join(", ")})
  --conditions LIST  of ${CONDITION_NAMES.join(",")} (default all)
  --before DIR       another checkout (with node_modules): its speech path on the same streams, same run
  --record FILE      also save what the speaker tracker was told on each stream (not +listened conditions)
  --replay FILE      score the tracker alone, as it is now, on a recording: seconds instead of an hour,
                     valid while the VAD, speech windows and encoder are the recording's (with --before:
                     that checkout's tracker on the same input)
  --simulated-penalty P  what a match against a simulated-room centroid gives up, instead of the
                     encoder's (room-voiceprints.ts): how it was chosen
  --learned-penalty P    the same for a centroid learned by listening (+listened conditions, live only)
  --json             print one JSON object instead of tables`;

interface Totals extends StreamScore {
  windows: number;
  /** Each stream's correct share: how far one stream's figure strays from the pooled one. */
  correctPerStream: number[];
  /** The pooled shares' 90 % intervals over the streams: what the verdicts judge. */
  correctInterval: Interval;
  wrongPersonInterval: Interval;
}

interface Listening {
  minutes: number;
  learned: number;
  /** Learned from a turn whose voice was not the person it was learned for (a visitor, another member). */
  wronglyLearned: number;
  visitorMinutes: number;
}

interface ConditionResult {
  now: Totals;
  /** The same run scored on whole pieces, pauses included (as bench:stream scored before it read what was spoken). */
  nowWholePieces: Totals;
  /** Enrolled centroids only (as before issue 17). */
  enrolledOnly: Totals;
  /** The --before checkout's speech path on the same streams and registry. */
  before: Totals | null;
  /** The streams' seeds, in the order they were scored. */
  seeds: number[];
  audioSeconds: number;
  listening: Listening | null;
}

function total(scores: StreamScore[], windows: number): Totals {
  const speech = scores.reduce((n, s) => n + s.speechSeconds, 0);
  const weighted = (f: (s: StreamScore) => number) =>
    scores.reduce((n, s) => n + f(s) * s.speechSeconds, 0) / speech;
  return {
    speechSeconds: speech,
    correct: weighted((s) => s.correct),
    wrongPerson: weighted((s) => s.wrongPerson),
    missed: weighted((s) => s.missed),
    latencies: scores.flatMap((s) => s.latencies),
    heardLatencies: scores.flatMap((s) => s.heardLatencies),
    unheardOnsets: scores.reduce((n, s) => n + s.unheardOnsets, 0),
    memberTurns: scores.reduce((n, s) => n + s.memberTurns, 0),
    neverNamed: scores.reduce((n, s) => n + s.neverNamed, 0),
    falseUnknowns: scores.reduce((n, s) => n + s.falseUnknowns, 0),
    strangerTurns: scores.reduce((n, s) => n + s.strangerTurns, 0),
    strangersAnnounced: scores.reduce((n, s) => n + s.strangersAnnounced, 0),
    strangerLatencies: scores.flatMap((s) => s.strangerLatencies),
    claims: scores.reduce((n, s) => n + s.claims, 0),
    wrongClaims: scores.reduce((n, s) => n + s.wrongClaims, 0),
    wrongFarSeconds: scores.reduce((n, s) => n + s.wrongFarSeconds, 0),
    boundaryErrors: scores.flatMap((s) => s.boundaryErrors),
    windows,
    correctPerStream: scores.map((s) => s.correct),
    correctInterval: pooledInterval(scores.map((s) => ({ share: s.correct, weight: s.speechSeconds }))),
    wrongPersonInterval: pooledInterval(
      scores.map((s) => ({ share: s.wrongPerson, weight: s.speechSeconds })),
    ),
  };
}

/** The true voice that spoke most of [startS, endS). */
function voiceDuring(turns: readonly TrueTurn[], startS: number, endS: number): string | null {
  let best: string | null = null;
  let most = 0;
  for (const t of turns) {
    const overlap = Math.min(endS, t.endS) - Math.max(startS, t.startS);
    if (overlap > most) {
      most = overlap;
      best = t.voice;
    }
  }
  return best;
}

/** Per condition: each stream's scores as they come, and the condition's totals. */
class ConditionScores {
  private readonly now: StreamScore[] = [];
  private readonly nowWholePieces: StreamScore[] = [];
  private readonly enrolledOnly: StreamScore[] = [];
  private readonly before: StreamScore[] = [];
  private readonly windows = { now: 0, enrolledOnly: 0, before: 0 };
  private readonly seeds: number[] = [];
  private audioSeconds = 0;

  add(seed: number, truth: readonly SpokenTurn[], audioSeconds: number, runs: StreamRuns): void {
    this.seeds.push(seed);
    const score = (run: Run) => scoreStream(truth, run.reported, run.announcements);
    this.now.push(scoreStream(truth, runs.now.reported, runs.now.announcements, { heard: runs.now.heard }));
    this.nowWholePieces.push(
      scoreStream(truth, runs.now.reported, runs.now.announcements, { wholePieces: true }),
    );
    this.enrolledOnly.push(score(runs.enrolledOnly));
    if (runs.before) this.before.push(score(runs.before));
    this.windows.now += runs.now.windows;
    this.windows.enrolledOnly += runs.enrolledOnly.windows;
    this.windows.before += runs.before?.windows ?? 0;
    this.audioSeconds += audioSeconds;
  }

  result(listening: Listening | null): ConditionResult {
    return {
      now: total(this.now, this.windows.now),
      nowWholePieces: total(this.nowWholePieces, this.windows.now),
      enrolledOnly: total(this.enrolledOnly, this.windows.enrolledOnly),
      before: this.before.length > 0 ? total(this.before, this.windows.before) : null,
      seeds: this.seeds,
      audioSeconds: this.audioSeconds,
      listening,
    };
  }
}

/** One stream's runs: as voiceid matches now, with enrolled centroids only, and the --before checkout's. */
interface StreamRuns {
  now: Run;
  enrolledOnly: Run;
  before: Run | null;
}

interface BenchRun {
  encoderId: string;
  results: Partial<Record<Condition, ConditionResult>>;
  /** `voiceid diarize` on the shared conversation (not replayed: it needs the models). */
  conversation: { der: DiarizationError; derNoCollar: DiarizationError } | null;
  /** What alternate centroids give up now, and in the --before checkout (null: it has none to give). */
  penalties: { now: AlternatePenalties; before?: AlternatePenalties | null };
}

async function main(): Promise<number> {
  const v = parseBenchArgs(
    {
      seeds: { type: "string" },
      "first-seed": { type: "string" },
      encoder: { type: "string" },
      conditions: { type: "string" },
      before: { type: "string" },
      record: { type: "string" },
      replay: { type: "string" },
      "simulated-penalty": { type: "string" },
      "learned-penalty": { type: "string" },
    },
    USAGE,
  );
  if (!v) return 0;
  const conditions = (v.conditions?.split(",") ?? CONDITION_NAMES) as Condition[];
  if (!conditions.every((c) => CONDITION_NAMES.includes(c)))
    throw new BenchSetupError(`--conditions: some of ${CONDITION_NAMES.join(",")}\n${USAGE}`);
  if (v.replay && (v.record || v.seeds || v["first-seed"] || v.encoder))
    throw new BenchSetupError(`--replay takes the recording's encoder and streams\n${USAGE}`);
  if (v.replay && v["learned-penalty"] !== undefined)
    throw new BenchSetupError(
      `--learned-penalty: a recording has no learned centroids (+listened runs live)\n${USAGE}`,
    );
  const penalty = (name: "simulated-penalty" | "learned-penalty") =>
    v[name] === undefined
      ? undefined
      : numberOption(name, v[name], 0, (n) => n >= 0 && n <= 1, "within [0, 1]");
  const penalties: Partial<AlternatePenalties> = {
    simulated: penalty("simulated-penalty"),
    learned: penalty("learned-penalty"),
  };
  const run = v.replay
    ? await replayed(v.replay, v.conditions ? conditions : null, v.before, penalties)
    : await measured(v, conditions, penalties);
  if (v.json) {
    const { encoderId: encoder, results, conversation } = run;
    const seeds = streamsPerCondition(results);
    const der = conversation?.der ?? null;
    const derNoCollar = conversation?.derNoCollar ?? null;
    console.log(
      JSON.stringify({ encoder, seeds, conditions: CONDITIONS, results, der, derNoCollar }, null, 2),
    );
    return 0;
  }
  printResults(run, v.before);
  return 0;
}

/** Runs the streams through the speech path with the models (and records the tracker's input: --record). */
async function measured(
  v: { seeds?: string; "first-seed"?: string; encoder?: string; before?: string; record?: string },
  conditions: Condition[],
  penaltyOverrides: Partial<AlternatePenalties>,
): Promise<BenchRun> {
  const seeds = numberOption("seeds", v.seeds, 3, (n) => Number.isInteger(n) && n >= 1 && n <= 20, "1-20");
  // The listening streams are drawn from seed + 1000: the streams scored stay below them.
  const firstSeed = numberOption(
    "first-seed",
    v["first-seed"],
    1,
    (n) => Number.isInteger(n) && n >= 1 && n + seeds <= 1001,
    `1-${1001 - seeds}`,
  );
  const encoderId = v.encoder ?? ENCODER_IDS[0];
  const listened = conditions.filter((c) => CONDITIONS[c].listen);
  if (v.record && listened.length > 0)
    throw new BenchSetupError(`--record: ${listened.join(", ")} learn as they listen, which a replay cannot`);
  const files = librispeechFiles();
  const ids = files.map((f) => f.id);
  const { stack, vad, config, identification } = await startSpeechModels(encoderId);
  const threshold = identification.tracker.defaultThreshold;
  const audio: Record<Audio, Map<string, Float32Array>> = {
    dry: loadAudio(files, "dry"),
    room: loadAudio(files, "room"),
  };
  const runModels = { vad, encoder: stack.encoder };
  const runBefore = v.before ? await beforeRunner(v.before, config, stack) : null;
  const beforePenalties = v.before ? await penaltiesOf(path.resolve(v.before), stack.encoder.modelId) : null;
  const penalties = penaltiesNow(stack.encoder.modelId, penaltyOverrides);
  const results: Partial<Record<Condition, ConditionResult>> = {};
  const recorded: RecordedStream[] = [];
  const workDir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-stream-"));
  try {
    for (const condition of conditions) {
      const spec: ConditionSpec = CONDITIONS[condition];
      const scores = new ConditionScores();
      const listening: Listening = { minutes: 0, learned: 0, wronglyLearned: 0, visitorMinutes: 0 };
      for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
        const household = drawHousehold(ids, seed);
        const registry = new SpeakerRegistry({
          dataDir: path.join(workDir, `${condition}-${seed}`),
          logger: silentLogger,
        });
        await registry.start();
        await enrolHousehold(registry, stack.extractor, enrolmentOf(audio[spec.enrol], household));
        const modelId = stack.encoder.modelId;
        const current = new Identifier(registry, {
          modelId,
          defaultThreshold: threshold,
          alternates: penalties,
        });
        await current.start();
        const previous = new Identifier(registry, {
          modelId,
          defaultThreshold: threshold,
          alternates: false,
        });
        await previous.start();
        // The --before checkout matches the same registry with its own penalties (an older one, with none
        // to give, as this checkout does).
        const theirs = beforePenalties
          ? new Identifier(registry, { modelId, defaultThreshold: threshold, alternates: beforePenalties })
          : null;
        await theirs?.start();
        if (spec.listen) {
          const heard = buildTurnStream(audio[spec.stream], audio.dry, household, seed + 1000, {
            memberPart: "first",
            protocol: { turns: LISTENING_TURNS },
          });
          progress(
            `${condition}, seed ${seed}: listening ${(heard.samples.length / 960_000).toFixed(1)} min`,
          );
          const learner = new RoomLearner({
            registry,
            candidates: () => current.candidates(),
            modelId,
            defaultThreshold: threshold,
            room: "bench",
            listening: () => true,
            logger: silentLogger,
          });
          const consider = (turn: EndedTurn) => {
            const speakerId = learner.learnable(turn);
            if (speakerId === null) return;
            const { startS, durationS } = turn.decision;
            if (voiceDuring(heard.turns, startS, startS + durationS) !== speakerId)
              listening.wronglyLearned++;
            listening.learned++;
            learner.consider(turn);
          };
          await runTracker(heard.samples, () => current.candidates(), runModels, identification, consider);
          await learner.idle();
          listening.minutes += heard.samples.length / 960_000;
          listening.visitorMinutes += heard.turns
            .filter((t) => t.member === null)
            .reduce((n, t) => n + (t.endS - t.startS) / 60, 0);
        }
        const stream = buildTurnStream(audio[spec.stream], audio.dry, household, seed);
        const audioSeconds = stream.samples.length / 16_000;
        progress(`${condition}, seed ${seed}: ${audioSeconds.toFixed(0)} s, ${stream.turns.length} turns`);
        const inputs: TrackerInput[] | undefined = v.record ? [] : undefined;
        const candidates = () => current.candidates();
        const runs: StreamRuns = {
          now: await runTracker(
            stream.samples,
            candidates,
            runModels,
            identification,
            undefined,
            undefined,
            inputs,
          ),
          enrolledOnly: await runTracker(
            stream.samples,
            () => previous.candidates(),
            runModels,
            identification,
          ),
          before: runBefore ? await runBefore(stream.samples, () => (theirs ?? current).candidates()) : null,
        };
        scores.add(seed, stream.turns, audioSeconds, runs);
        if (inputs) {
          recorded.push({
            condition,
            seed,
            audioSeconds,
            truth: stream.turns,
            candidates: [...current.candidates()],
            enrolledOnly: [...previous.candidates()],
            inputs,
          });
        }
        await theirs?.stop();
        await previous.stop();
        await current.stop();
        await registry.stop();
      }
      results[condition] = scores.result(spec.listen ? listening : null);
    }
    if (v.record) {
      const { modelId } = stack.encoder;
      writeRecording(v.record, {
        encoder: encoderId,
        modelId,
        defaultThreshold: threshold,
        streams: recorded,
      });
      progress(`recorded ${recorded.length} stream(s) to ${v.record}`);
    }

    progress("the two-person conversation, diarized");
    const conversation = readWavAs16kMono(readFileSync(conversationWav));
    const cut = (from: number, to: number) =>
      conversation.subarray(Math.round(from * 16_000), Math.round(to * 16_000));
    const enrolled: MatchCandidate[] = [];
    for (const [id, from, to] of [
      ["speaker90", 10.57, 14.7],
      ["speaker91", 21.78, 28.5],
    ] as const) {
      enrolled.push({ id, name: id, centroid: (await stack.extractor.fromSamples(cut(from, to))).embedding });
    }
    vad.reset();
    const turns = await diarize(conversation, {
      vad,
      encoder: stack.encoder,
      candidates: () => enrolled,
      segmenter: {},
      identification,
      logger: silentLogger,
    });
    const reference = readRttm(conversationRttm).map((r) => ({
      start: r.start,
      end: r.end,
      label: r.speaker,
    }));
    const der = diarizationError(reference, turns, 0.25);
    const derNoCollar = diarizationError(reference, turns, 0);

    return {
      encoderId,
      results,
      conversation: { der, derNoCollar },
      penalties: { now: penalties, before: beforePenalties },
    };
  } finally {
    await stack.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * The tracker alone, as the code is now, over a recording's streams (and the --before checkout's
 * tracker over the same input): no models, no audio.
 */
async function replayed(
  file: string,
  only: Condition[] | null,
  beforeDir: string | undefined,
  penaltyOverrides: Partial<AlternatePenalties>,
): Promise<BenchRun> {
  const recording = readRecording(file);
  const penalties = penaltiesNow(recording.modelId, penaltyOverrides);
  const { identification } = speechSettings(recording.encoder, recording.defaultThreshold, recording.modelId);
  const beforePenalties = beforeDir
    ? await penaltiesOf(path.resolve(beforeDir), recording.modelId)
    : undefined;
  const before = beforeDir ? await beforeTracker(beforeDir, recording, beforePenalties ?? null) : null;
  const results: Partial<Record<Condition, ConditionResult>> = {};
  for (const condition of CONDITION_NAMES) {
    const streams = recording.streams.filter((r) => r.condition === condition);
    if (streams.length === 0 || (only && !only.includes(condition))) continue;
    const scores = new ConditionScores();
    for (const r of streams) {
      scores.add(r.seed, r.truth, r.audioSeconds, {
        now: replayTracker(r.inputs, withPenalties(r.candidates, penalties), identification),
        enrolledOnly: replayTracker(r.inputs, r.enrolledOnly, identification),
        before: before ? before(r.inputs, r.candidates) : null,
      });
    }
    results[condition] = scores.result(null);
  }
  if (Object.keys(results).length === 0)
    throw new BenchSetupError(`--replay ${file}: no stream of those conditions`);
  return {
    encoderId: recording.encoder,
    results,
    conversation: null,
    penalties: { now: penalties, before: beforePenalties },
  };
}

/** This checkout's penalties for alternate centroids, each as --simulated-penalty or --learned-penalty gives it. */
function penaltiesNow(modelId: string, overrides: Partial<AlternatePenalties>): AlternatePenalties {
  const { simulated, learned } = alternatePenalties(modelId);
  return { simulated: overrides.simulated ?? simulated, learned: overrides.learned ?? learned };
}

/**
 * The penalties another checkout gives alternate centroids of `modelId` (null where it has none to give):
 * its tracker is run on candidates it would have matched.
 */
async function penaltiesOf(root: string, modelId: string): Promise<AlternatePenalties | null> {
  const voiceprints: Partial<typeof import("../src/enrolment/room-voiceprints.js")> = await import(
    path.join(root, "src/enrolment/room-voiceprints.ts")
  ).catch(() => ({}));
  return voiceprints.alternatePenalties?.(modelId) ?? null;
}

/** How a table row's matching treats alternate centroids. */
function describePenalties({ simulated, learned }: AlternatePenalties): string {
  return `simulated-room centroids -${simulated}, learned centroids -${learned}`;
}

function streamsPerCondition(results: BenchRun["results"]): number {
  return Math.max(...Object.values(results).map((r) => r.seeds.length));
}

/** The seeds the conditions were scored on, as a range where they run on ("seeds 21-40"). */
function describeSeeds(results: BenchRun["results"]): string {
  const seeds = [...new Set(Object.values(results).flatMap((r) => r.seeds))].sort((a, b) => a - b);
  const first = seeds[0];
  const last = seeds.at(-1);
  if (first === undefined || last === undefined) return "no seeds";
  if (seeds.length === 1) return `seed ${first}`;
  return last - first === seeds.length - 1 ? `seeds ${first}-${last}` : `seeds ${seeds.join(", ")}`;
}

function printResults(
  { encoderId, results, conversation, penalties }: BenchRun,
  beforeDir: string | undefined,
): void {
  const conditions = Object.keys(results) as Condition[];
  const seeds = streamsPerCondition(results);
  console.log(
    heading(
      `bench:stream, encoder ${encoderId}, ${seeds} stream(s) per condition (${describeSeeds(results)})`,
    ),
  );
  console.log(`penalties: now ${describePenalties(penalties.now)}`);
  if (penalties.before !== undefined)
    console.log(
      `           before ${penalties.before ? describePenalties(penalties.before) : "none (no alternate centroids)"}`,
    );
  for (const condition of conditions) {
    const r = results[condition]!;
    const goal = CONDITIONS[condition].goal;
    const row = (name: string, t: Totals, judged: boolean) => {
      const p50 = percentile(t.latencies, 0.5) ?? Number.NaN;
      const p95 = percentile(t.latencies, 0.95) ?? Number.NaN;
      const b50 = percentile(t.boundaryErrors, 0.5) ?? Number.NaN;
      const b95 = percentile(t.boundaryErrors, 0.95) ?? Number.NaN;
      const verdicts = [
        intervalVerdict(t.correctInterval, goal.correct, "at least"),
        intervalVerdict(t.wrongPersonInterval, goal.wrongPerson, "at most"),
        verdict(t.wrongFarSeconds <= GOALS.wrongFarSeconds),
        verdict(p50 <= GOALS.latencyP50 && p95 <= GOALS.latencyP95),
        verdict(t.falseUnknowns <= GOALS.falseUnknowns),
      ];
      if (CONDITIONS[condition].stream === "dry") verdicts.push(verdict(b50 <= GOALS.dryBoundaryP50));
      return [
        name,
        `${pct(t.correct, 1)} (${pctInterval(t.correctInterval, 1)})`,
        `${pct(Math.min(...t.correctPerStream), 0)} - ${pct(Math.max(...t.correctPerStream), 0)}`,
        `${pct(t.wrongPerson, 2)} (${pctInterval(t.wrongPersonInterval, 2)})`,
        t.wrongFarSeconds.toFixed(1),
        pct(t.missed, 1),
        `${p50.toFixed(2)} / ${p95.toFixed(2)} s`,
        `${b50.toFixed(2)} / ${b95.toFixed(2)} s`,
        `${t.neverNamed} of ${t.memberTurns}`,
        t.falseUnknowns,
        `${t.strangersAnnounced} of ${t.strangerTurns}`,
        `${t.wrongClaims} of ${t.claims}`,
        (t.windows / r.audioSeconds).toFixed(2),
        judged ? verdicts.join(" ") : "",
      ];
    };
    console.log(
      heading(
        `${condition}: ${(r.now.speechSeconds / 60).toFixed(1)} min spoken ` +
          `(${(r.nowWholePieces.speechSeconds / 60).toFixed(1)} min of pieces)`,
      ),
    );
    if (r.listening) {
      const l = r.listening;
      console.log(
        `listened first: ${l.minutes.toFixed(1)} min (${l.visitorMinutes.toFixed(1)} min of visitors); ` +
          `learned ${l.learned} voiceprints, ${l.wronglyLearned} of them from another voice`,
      );
    }
    console.log(
      formatTable(
        [
          "matching",
          "correct (90 % interval)",
          "per stream",
          "wrong person (90 % interval)",
          `wrong > ${FAR_FROM_CHANGE_S} s from a change (s)`,
          "missed",
          "first naming p50/p95",
          "boundary error p50/p95",
          "never named",
          "false unknowns",
          "strangers announced",
          "wrong claims",
          "windows/s",
          "verdicts",
        ],
        [
          row(
            CONDITIONS[condition].listen ? "now (+ rooms, learned)" : "now (+ simulated rooms)",
            r.now,
            true,
          ),
          row("  the same, scored on whole pieces", r.nowWholePieces, false),
          ...(r.before ? [row(`before (${beforeDir})`, r.before, false)] : []),
          row("enrolled centroids only", r.enrolledOnly, false),
        ],
      ),
    );
    console.log(
      `goals: correct >= ${pct(goal.correct, 0)}, wrong person <= ${pct(goal.wrongPerson, 1)}, first naming ` +
        `p50 <= ${GOALS.latencyP50} s and p95 <= ${GOALS.latencyP95} s, false unknowns ${GOALS.falseUnknowns}, ` +
        `wrong-person time more than ${FAR_FROM_CHANGE_S} s from a change ${GOALS.wrongFarSeconds}` +
        (CONDITIONS[condition].stream === "dry" ? `, boundary error p50 <= ${GOALS.dryBoundaryP50} s` : "") +
        ".\nCorrect and wrong person are judged on their 90 % interval over the streams: UNSURE when it " +
        "straddles the goal (more streams, --seeds, would tell).",
    );
    const heard = r.now.heardLatencies;
    if (heard.length > 0)
      console.log(
        `now, first naming timed from the first speech the VAD heard in the turn: p50/p95 ` +
          `${percentile(heard, 0.5)!.toFixed(2)} / ${percentile(heard, 0.95)!.toFixed(2)} s ` +
          `(${r.now.unheardOnsets} of the ${heard.length} member turns named began with ${UNHEARD_ONSET_S} s ` +
          "or more it did not hear).",
      );
    const strangers = r.now.strangerLatencies;
    if (strangers.length > 0)
      console.log(
        `now, strangers announced: ${r.now.strangersAnnounced} of the ${r.now.strangerTurns} visitor turns ` +
          `of ${STRANGER_TURN_S} s of speech or more (Home Assistant's unrecognized), ` +
          `${percentile(strangers, 0.5)!.toFixed(2)} / ${percentile(strangers, 0.95)!.toFixed(2)} s p50/p95 ` +
          "from their first sound.",
      );
  }
  console.log(heading("the two-person conversation (voiceid diarize)"));
  if (!conversation) {
    console.log("Not replayed: diarizing it needs the models (run without --replay).");
    return;
  }
  const { der, derNoCollar } = conversation;
  console.log(
    `DER ${pct(der.der, 1)} with the 0.25 s collar (missed ${pct(der.missed, 1)}, false alarm ` +
      `${pct(der.falseAlarm, 1)}, confusion ${pct(der.confusion, 1)}); ${pct(derNoCollar.der, 1)} without a collar. ` +
      "Enrolled from speaker90 10.57-14.70 s and speaker91 21.78-28.50 s of the file.",
  );
}

runMain(main);

/**
 * The speech path of another checkout (`--before DIR`, with its node_modules), run on the same streams
 * with this run's models and registry: its own VAD segmentation, windows and tracker.
 */
async function beforeRunner(
  dir: string,
  config: VoiceidConfig,
  stack: ModelStack,
): Promise<(samples: Float32Array, candidates: () => readonly MatchCandidate[]) => Promise<Run>> {
  const root = path.resolve(dir);
  const runs: typeof import("./bench/stream-runs.js") = await import(
    path.join(root, "scripts/bench/stream-runs.ts")
  );
  const options: typeof import("../src/identify/options.js") = await import(
    path.join(root, "src/identify/options.ts")
  );
  const vad = stack.streamVad();
  await vad.start();
  // An older liveIdentifierOptions takes (config, threshold) and ignores the model id.
  const identification = options.liveIdentifierOptions(
    config.identification,
    stack.defaultThreshold,
    stack.encoder.modelId,
  );
  // Scored by this checkout's reading of the decisions (an older one may lack what scoring needs).
  return async (samples, candidates) => {
    const run = await runs.runTracker(samples, candidates, { vad, encoder: stack.encoder }, identification);
    return { ...run, ...fromDecisions(run.decisions) };
  };
}

/**
 * The tracker of another checkout (`--before DIR`, with its node_modules) over recorded input, with its
 * own settings for the recording's encoder and its `penalties` (penaltiesOf; null: it has none).
 */
async function beforeTracker(
  dir: string,
  recording: TrackerRecording,
  penalties: AlternatePenalties | null,
): Promise<(inputs: readonly TrackerInput[], candidates: readonly MatchCandidate[]) => Run> {
  const root = path.resolve(dir);
  const runs: typeof import("./bench/stream-runs.js") = await import(
    path.join(root, "scripts/bench/stream-runs.ts")
  );
  const setup: typeof import("./bench/setup.js") = await import(path.join(root, "scripts/bench/setup.ts"));
  if (typeof runs.replayTracker !== "function" || typeof setup.speechSettings !== "function")
    throw new BenchSetupError(
      `--before ${dir}: that checkout cannot replay a recording (run without --replay)`,
    );
  const { identification } = setup.speechSettings(
    recording.encoder,
    recording.defaultThreshold,
    recording.modelId,
  );
  // A tracker from before turns were heard whole is not told of them (it has no answer to give).
  const heardWhole = "wholeTurn" in identification.tracker;
  return (inputs, candidates) => {
    const theirs = penalties ? withPenalties(candidates, penalties) : candidates;
    const told = heardWhole ? inputs : inputs.filter((input) => input.type !== "wholeTurn");
    const run = runs.replayTracker(told, theirs, identification);
    return { ...run, ...fromDecisions(run.decisions) };
  };
}
