/**
 * `npm run bench:stream`: live identification in a conversation, scored 10 ms by 10 ms. Turn-taking
 * streams are built from the shared LibriSpeech audio (scripts/bench/turn-streams.ts): a household of
 * 10 enrolled on the first half of their file, the other speakers visitors, 60 turns of 2-8 s (80 %
 * members from the second half of their file, 20 % visitors) with pauses of 0.05-2 s, in two conditions:
 * dry, and as a far-field room microphone hears them (enrolled through that microphone too). Each stream
 * goes through the daemon's speech path (Silero VAD, speech windows, speaker tracker) and, in the same
 * run, through the algorithm it replaced. Also: the diarization error rate of `voiceid diarize`'s
 * machinery on the shared two-person conversation.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { configSchema } from "../src/config/schema.js";
import { ENCODER_IDS } from "../src/embedding/encoder.js";
import { ModelStack } from "../src/embedding/stack.js";
import { diarize } from "../src/identify/diarize.js";
import { liveIdentifierOptions } from "../src/identify/options.js";
import type { MatchCandidate } from "../src/registry/matcher.js";
import { silentLogger } from "../src/util/log.js";
import { readRttm } from "../test/helpers/audio.js";
import { conversationRttm, conversationWav } from "../test/helpers/paths.js";
import { diarizationError } from "./bench/der.js";
import { percentile } from "./bench/live.js";
import {
  BenchSetupError,
  COMMON_BENCH_OPTIONS,
  librispeechFiles,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { type Run, runBaseline, runTracker } from "./bench/stream-runs.js";
import { formatTable, heading, pct, verdict } from "./bench/table.js";
import {
  buildTurnStream,
  type Condition,
  loadCondition,
  type StreamScore,
  scoreStream,
} from "./bench/turn-streams.js";

const GOALS = {
  dry: { correct: 0.92, wrongPerson: 0.01 },
  room: { correct: 0.8, wrongPerson: 0.02 },
  latencyP50: 1.8,
  latencyP95: 3,
  falseUnknowns: 0,
};

const USAGE = `usage: npm run bench:stream -- [options]
  --seeds N          streams per condition (default 3, seeds 1..N)
  --encoder ID       speaker encoder (default ${ENCODER_IDS[0]}; one of ${ENCODER_IDS.join(", ")})
  --conditions LIST  dry,room (default both)
  --json             print one JSON object instead of tables`;

interface Totals extends StreamScore {
  windows: number;
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
    memberTurns: scores.reduce((n, s) => n + s.memberTurns, 0),
    neverNamed: scores.reduce((n, s) => n + s.neverNamed, 0),
    falseUnknowns: scores.reduce((n, s) => n + s.falseUnknowns, 0),
    windows,
  };
}

async function main(): Promise<number> {
  const v = parseBenchArgs(
    () =>
      parseArgs({
        options: {
          seeds: { type: "string" },
          encoder: { type: "string" },
          conditions: { type: "string" },
          ...COMMON_BENCH_OPTIONS,
        },
        strict: true,
      }),
    USAGE,
  );
  if (!v) return 0;
  const seeds = numberOption("seeds", v.seeds, 3, (n) => Number.isInteger(n) && n >= 1 && n <= 20, "1-20");
  const encoderId = v.encoder ?? ENCODER_IDS[0];
  if (!(ENCODER_IDS as readonly string[]).includes(encoderId)) {
    throw new BenchSetupError(`unknown encoder "${encoderId}"; one of ${ENCODER_IDS.join(", ")}`);
  }
  const conditions = (v.conditions ?? "dry,room").split(",") as Condition[];
  if (!conditions.every((c) => c === "dry" || c === "room"))
    throw new BenchSetupError(`--conditions: dry and/or room\n${USAGE}`);
  const models = requireModels();
  const files = librispeechFiles();
  const stack = new ModelStack({ modelsDir: models.modelsDir, encoder: encoderId });
  await stack.start();
  const vad = stack.streamVad();
  await vad.start();
  const config = configSchema.parse({ identification: { encoder: encoderId } });
  const identification = liveIdentifierOptions(config.identification, stack.defaultThreshold);
  const threshold = identification.tracker.defaultThreshold;
  const results: Record<string, { tracker: Totals; before: Totals; streams: number; audioSeconds: number }> =
    {};
  try {
    for (const condition of conditions) {
      const audio = loadCondition(files, condition);
      const tracker: StreamScore[] = [];
      const before: StreamScore[] = [];
      let trackerWindows = 0;
      let beforeWindows = 0;
      let audioSeconds = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const stream = buildTurnStream(audio, condition, seed);
        audioSeconds += stream.samples.length / 16_000;
        progress(
          `${condition}, seed ${seed}: ${(stream.samples.length / 16_000).toFixed(0)} s, ${stream.turns.length} turns`,
        );
        const candidates: MatchCandidate[] = [];
        for (const [id, samples] of stream.enrolment) {
          candidates.push({ id, name: id, centroid: (await stack.extractor.fromSamples(samples)).embedding });
        }
        const runs: [StreamScore[], Run][] = [
          [
            tracker,
            await runTracker(stream.samples, candidates, { vad, encoder: stack.encoder }, identification),
          ],
          [before, await runBaseline(stream.samples, candidates, { vad, encoder: stack.encoder }, threshold)],
        ];
        for (const [into, run] of runs) into.push(scoreStream(stream.turns, run.reported, run.announcements));
        trackerWindows += runs[0][1].windows;
        beforeWindows += runs[1][1].windows;
      }
      results[condition] = {
        tracker: total(tracker, trackerWindows),
        before: total(before, beforeWindows),
        streams: seeds,
        audioSeconds,
      };
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
    const turns = await diarize(
      conversation,
      {
        vad,
        encoder: stack.encoder,
        candidates: () => enrolled,
        segmenter: {},
        identification,
        logger: silentLogger,
      },
      stack.extractor,
    );
    const reference = readRttm(conversationRttm).map((r) => ({
      start: r.start,
      end: r.end,
      label: r.speaker,
    }));
    const der = diarizationError(reference, turns, 0.25);
    const derNoCollar = diarizationError(reference, turns, 0);

    if (v.json) {
      console.log(
        JSON.stringify({ encoder: encoderId, seeds, goals: GOALS, results, der, derNoCollar }, null, 2),
      );
      return 0;
    }
    console.log(heading(`bench:stream, encoder ${encoderId}, ${seeds} stream(s) per condition`));
    for (const condition of conditions) {
      const r = results[condition];
      const goal = GOALS[condition];
      const row = (name: string, t: Totals, judged: boolean) => {
        const p50 = percentile(t.latencies, 0.5) ?? Number.NaN;
        const p95 = percentile(t.latencies, 0.95) ?? Number.NaN;
        return [
          name,
          pct(t.correct, 1),
          pct(t.wrongPerson, 2),
          pct(t.missed, 1),
          `${p50.toFixed(2)} / ${p95.toFixed(2)} s`,
          `${t.neverNamed} of ${t.memberTurns}`,
          t.falseUnknowns,
          (t.windows / r.audioSeconds).toFixed(2),
          judged
            ? [
                verdict(t.correct >= goal.correct),
                verdict(t.wrongPerson <= goal.wrongPerson),
                verdict(p50 <= GOALS.latencyP50 && p95 <= GOALS.latencyP95),
                verdict(t.falseUnknowns <= GOALS.falseUnknowns),
              ].join(" ")
            : "",
        ];
      };
      console.log(heading(`${condition}: ${(r.tracker.speechSeconds / 60).toFixed(1)} min of speech`));
      console.log(
        formatTable(
          [
            "algorithm",
            "correct",
            "wrong person",
            "missed",
            "first naming p50/p95",
            "never named",
            "false unknowns",
            "windows/s",
            "verdicts",
          ],
          [
            row("speaker tracker (now)", r.tracker, true),
            row("before (one label per turn)", r.before, false),
          ],
        ),
      );
      console.log(
        `goals: correct >= ${pct(goal.correct, 0)}, wrong person <= ${pct(goal.wrongPerson, 0)}, first naming ` +
          `p50 <= ${GOALS.latencyP50} s and p95 <= ${GOALS.latencyP95} s, false unknowns ${GOALS.falseUnknowns}`,
      );
    }
    console.log(heading("the two-person conversation (voiceid diarize)"));
    console.log(
      `DER ${pct(der.der, 1)} with the 0.25 s collar (missed ${pct(der.missed, 1)}, false alarm ` +
        `${pct(der.falseAlarm, 1)}, confusion ${pct(der.confusion, 1)}); ${pct(derNoCollar.der, 1)} without a collar. ` +
        "Enrolled from speaker90 10.57-14.70 s and speaker91 21.78-28.50 s of the file.",
    );
    return 0;
  } finally {
    await stack.stop();
  }
}

runMain(main);
