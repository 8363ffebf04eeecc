/**
 * `npm run bench:accuracy`: speaker verification and household identification on the 120
 * LibriSpeech speakers of the shared audio. Each speaker enrols on the first half of its file and is
 * tested on the second half; voiceprints come from VoiceprintExtractor (volume normalisation, Silero
 * silence trimming, Resemblyzer encoder), the same path as enrolment and `voiceid embed`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { ENCODER_IDS, type EncoderId, isEncoderId } from "../src/embedding/encoder.js";
import { defaultThresholdOf } from "../src/embedding/encoder-models.js";
import { ModelStack } from "../src/embedding/stack.js";
import {
  alternatePenalties,
  ROOM_SIMULATION,
  simulatedRoomVoiceprint,
} from "../src/enrolment/room-voiceprints.js";
import { cosine } from "../src/registry/matcher.js";
import { sharedAudio } from "../test/helpers/paths.js";
import {
  drawHouseholds,
  evaluateHouseholds,
  type HouseholdDraws,
  type HouseholdShares,
  householdShares,
  type SpeakerPrints,
} from "./bench/households.js";
import {
  type Distribution,
  distribution,
  type EqualErrorRate,
  equalErrorRate,
  errorRates,
} from "./bench/scores.js";
import {
  type BenchFile,
  BenchSetupError,
  librispeechFiles,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { type Cell, fixed, formatTable, heading, pct, verdict } from "./bench/table.js";

const GOALS = { maxEer: 0.05, minMembersCorrect: 0.95, maxVisitorsNamed: 0.02 };
/** Eleven thresholds around the encoder's default, 0.02 apart: cosine scales differ by model. */
const sweepAround = (t: number) =>
  Array.from({ length: 11 }, (_, k) => Math.round((t - 0.1 + 0.02 * k) * 100) / 100);

const USAGE = `usage: npm run bench:accuracy -- [options]
  --encoder ID       ${ENCODER_IDS.join(" or ")} (default ${ENCODER_IDS[0]}); ECAPA-TDNN needs its
                     weights installed (\`voiceid models fetch --mirror DIR\`)
  --threshold T      identification threshold for the household figures and goals (default: the encoder's)
  --seed N           seed of the household draws (default 1)
  --draws N          households drawn (default 200)
  --household N      enrolled speakers per household (default 5)
  --trim-only        skip the second table without silence trimming
  --json             print one JSON object instead of tables`;

interface Options {
  encoder: EncoderId;
  threshold: number;
  seed: number;
  draws: number;
  householdSize: number;
  trimOnly: boolean;
  json: boolean;
}

function parseOptions(): Options | null {
  const v = parseBenchArgs(
    {
      encoder: { type: "string" },
      threshold: { type: "string" },
      seed: { type: "string" },
      draws: { type: "string" },
      household: { type: "string" },
      "trim-only": { type: "boolean", default: false },
    },
    USAGE,
  );
  if (!v) return null;
  const encoder = v.encoder ?? ENCODER_IDS[0];
  if (!isEncoderId(encoder))
    throw new BenchSetupError(`unknown encoder "${encoder}"; one of ${ENCODER_IDS.join(", ")}`);
  return {
    encoder,
    threshold: numberOption(
      "threshold",
      v.threshold,
      defaultThresholdOf(encoder),
      (n) => n >= -1 && n <= 1,
      "a number in [-1, 1]",
    ),
    seed: numberOption("seed", v.seed, 1, (n) => Number.isInteger(n) && n >= 0, "an integer >= 0"),
    draws: numberOption("draws", v.draws, 200, (n) => Number.isInteger(n) && n >= 1, "an integer >= 1"),
    householdSize: numberOption(
      "household",
      v.household,
      5,
      (n) => Number.isInteger(n) && n >= 1,
      "an integer >= 1",
    ),
    trimOnly: v["trim-only"],
    json: v.json,
  };
}

interface ConfigReport {
  trim: boolean;
  voiceprints: number;
  embedSeconds: number;
  /** Mean seconds of speech in the enrolment / test halves (after trimming when on). */
  meanEnrolSpeechSeconds: number;
  meanTestSpeechSeconds: number;
  genuineTrials: number;
  impostorTrials: number;
  eer: EqualErrorRate;
  genuine: Distribution;
  impostor: Distribution;
  atThreshold: { falseAcceptRate: number; falseRejectRate: number; households: HouseholdShares };
  atEerThreshold: HouseholdShares;
  sweep: {
    threshold: number;
    falseAcceptRate: number;
    falseRejectRate: number;
    households: HouseholdShares;
  }[];
}

async function main(): Promise<number | undefined> {
  const options = parseOptions();
  if (!options) return 0;
  const started = performance.now();
  const models = requireModels();
  const files = librispeechFiles();
  if (files.length <= options.householdSize) {
    throw new BenchSetupError(`need more than ${options.householdSize} speakers, found ${files.length}`);
  }

  const stack = new ModelStack({ modelsDir: models.modelsDir, encoder: options.encoder });
  const { extractor } = stack;
  await stack.start();

  const draws = drawHouseholds(files.length, options.householdSize, options.draws, options.seed);
  const reports: ConfigReport[] = [];
  let microphones: MicrophoneReport;
  try {
    const halves = files.map((f) => {
      const samples = readWavAs16kMono(readFileSync(f.path));
      const half = Math.floor(samples.length / 2);
      return { id: f.id, file: f.file, enrol: samples.subarray(0, half), test: samples.subarray(half) };
    });
    for (const trim of options.trimOnly ? [true] : [true, false]) {
      progress(
        `embedding ${halves.length * 2} half-files (${trim ? "silence trimming on" : "no trimming"})...`,
      );
      const t0 = performance.now();
      const prints: SpeakerPrints[] = [];
      let enrolSpeech = 0;
      let testSpeech = 0;
      for (const h of halves) {
        const at = (which: string) => `${h.file} (${which} half, trim ${trim ? "on" : "off"})`;
        const enrol = await extractor.fromSamples(h.enrol, { trim }).catch((err: Error) => {
          throw new Error(`${at("first")}: ${err.message}`);
        });
        const test = await extractor.fromSamples(h.test, { trim }).catch((err: Error) => {
          throw new Error(`${at("second")}: ${err.message}`);
        });
        enrolSpeech += enrol.speechSeconds;
        testSpeech += test.speechSeconds;
        prints.push({ id: h.id, enrol: enrol.embedding, test: test.embedding });
      }
      const embedSeconds = (performance.now() - t0) / 1000;
      reports.push({
        ...scoreConfig(prints, draws, options.threshold),
        trim,
        voiceprints: prints.length * 2,
        embedSeconds,
        meanEnrolSpeechSeconds: enrolSpeech / prints.length,
        meanTestSpeechSeconds: testSpeech / prints.length,
      });
    }
    microphones = await acrossMicrophones(stack, files, draws, options.threshold);
  } finally {
    await stack.stop();
  }

  const primary = reports[0];
  const goals = [
    {
      goal: `EER <= ${pct(GOALS.maxEer, 0)}`,
      value: primary.eer.eer,
      pass: primary.eer.eer <= GOALS.maxEer,
    },
    {
      goal: `members named correctly >= ${pct(GOALS.minMembersCorrect, 0)} (threshold ${options.threshold})`,
      value: primary.atThreshold.households.membersCorrect,
      pass: primary.atThreshold.households.membersCorrect >= GOALS.minMembersCorrect,
    },
    {
      goal: `visitors named as a member <= ${pct(GOALS.maxVisitorsNamed, 0)} (threshold ${options.threshold})`,
      value: primary.atThreshold.households.visitorsNamed,
      pass: primary.atThreshold.households.visitorsNamed <= GOALS.maxVisitorsNamed,
    },
  ];
  const wallSeconds = (performance.now() - started) / 1000;

  if (options.json) {
    console.log(
      JSON.stringify({
        benchmark: "accuracy",
        encoder: options.encoder,
        speakers: files.length,
        seed: options.seed,
        draws: options.draws,
        householdSize: options.householdSize,
        threshold: options.threshold,
        configs: reports,
        microphones,
        goals: goals.map((g) => ({ ...g, verdict: verdict(g.pass) })),
        wallSeconds: Number(wallSeconds.toFixed(1)),
      }),
    );
    return 0;
  }
  printReport(options, files.length, reports, goals, wallSeconds);
  printMicrophones(microphones, options.threshold);
  return 0;
}

const MICROPHONE_GOALS = { minMembersCorrect: 0.85, maxVisitorsNamed: 0.02 };

/** How people enrol (the clip's microphone) and how the daemon hears them. */
const MICROPHONE_CONDITIONS = {
  dry: { enrol: "dry", test: "dry" },
  room: { enrol: "room", test: "room" },
  mismatch: { enrol: "dry", test: "room" },
} as const;
type MicrophoneCondition = keyof typeof MICROPHONE_CONDITIONS;

interface MicrophoneReport {
  penalty: number;
  conditions: Record<MicrophoneCondition, { before: HouseholdShares; now: HouseholdShares }>;
  /** Seconds of CPU per second of enrolment speech: its voiceprint, and its simulated rooms. */
  enrolment: { voiceprintPerSecond: number; simulatedPerSecond: number; rooms: number };
}

/**
 * Issue 17's conditions: enrolled from the clean files or through the room microphone, heard through
 * the room microphone (librispeech-room, a room model voiceid's simulation does not share) or clean.
 * "before" matches the enrolled voiceprints alone; "now" adds their simulated rooms, as the registry does.
 */
async function acrossMicrophones(
  stack: ModelStack,
  files: BenchFile[],
  draws: HouseholdDraws,
  threshold: number,
): Promise<MicrophoneReport> {
  const { extractor } = stack;
  const penalty = alternatePenalties(stack.encoder.modelId).simulated;
  const heard = { dry: "librispeech-train-clean-100", room: "librispeech-room" } as const;
  const prints: Record<
    "dry" | "room",
    { enrol: Float32Array; simulated: Float32Array; test: Float32Array }[]
  > = {
    dry: [],
    room: [],
  };
  let speech = 0;
  let voiceprintSeconds = 0;
  let simulatedSeconds = 0;
  for (const [kind, dir] of Object.entries(heard) as ["dry" | "room", string][]) {
    progress(
      `embedding ${files.length} ${kind} files, each enrolment also in ${ROOM_SIMULATION.rooms} simulated rooms...`,
    );
    for (const f of files) {
      const samples = readWavAs16kMono(readFileSync(path.join(sharedAudio, dir, f.file)));
      const half = samples.length >> 1;
      const t0 = performance.now();
      const { speech: enrolSpeech, voiceprint } = await extractor.speechAndVoiceprint(
        samples.subarray(0, half),
      );
      const t1 = performance.now();
      const simulated = await simulatedRoomVoiceprint(extractor, enrolSpeech);
      const t2 = performance.now();
      speech += enrolSpeech.speechSeconds;
      voiceprintSeconds += (t1 - t0) / 1000;
      simulatedSeconds += (t2 - t1) / 1000;
      const test = await extractor.fromSamples(samples.subarray(half));
      prints[kind].push({
        enrol: voiceprint.embedding,
        simulated: Float32Array.from(simulated.voiceprint),
        test: test.embedding,
      });
    }
  }
  const conditions = {} as MicrophoneReport["conditions"];
  for (const [name, { enrol, test }] of Object.entries(MICROPHONE_CONDITIONS) as [
    MicrophoneCondition,
    (typeof MICROPHONE_CONDITIONS)[MicrophoneCondition],
  ][]) {
    const speakers = (withRooms: boolean): SpeakerPrints[] =>
      files.map((f, i) => ({
        id: f.id,
        enrol: prints[enrol][i].enrol,
        test: prints[test][i].test,
        ...(withRooms
          ? { alternates: [{ kind: "simulated" as const, centroid: prints[enrol][i].simulated, penalty }] }
          : {}),
      }));
    conditions[name] = {
      before: householdShares(evaluateHouseholds(speakers(false), draws, threshold)),
      now: householdShares(evaluateHouseholds(speakers(true), draws, threshold)),
    };
  }
  return {
    penalty,
    conditions,
    enrolment: {
      voiceprintPerSecond: voiceprintSeconds / speech,
      simulatedPerSecond: simulatedSeconds / speech,
      rooms: ROOM_SIMULATION.rooms,
    },
  };
}

function printMicrophones(report: MicrophoneReport, threshold: number): void {
  console.log(heading("Across microphones (issue 17): households as above, at the encoder's threshold"));
  console.log(
    "dry: enrolled and heard clean; room: enrolled and heard through the room microphone;\n" +
      "mismatch: enrolled from the clean files (an upload, a phone), heard through the room microphone.\n" +
      `before: the enrolled voiceprints alone; now: also their ${report.enrolment.rooms} simulated rooms ` +
      `(scored less ${report.penalty}).`,
  );
  const rows: Cell[][] = [];
  for (const [name, r] of Object.entries(report.conditions)) {
    for (const [label, shares] of [
      ["now", r.now],
      ["before", r.before],
    ] as const) {
      rows.push([
        `${name}, ${label}`,
        pct(shares.membersCorrect),
        pct(shares.membersWrong),
        pct(shares.visitorsNamed),
        label === "now"
          ? [
              ...(name === "mismatch"
                ? [
                    verdict(shares.membersCorrect >= MICROPHONE_GOALS.minMembersCorrect),
                    verdict(shares.visitorsNamed <= MICROPHONE_GOALS.maxVisitorsNamed),
                  ]
                : []),
              // The simulated rooms must not name visitors the enrolled voiceprints alone would not.
              verdict(shares.visitorsNamed <= r.before.visitorsNamed),
            ].join(" ")
          : "",
      ]);
    }
  }
  console.log(
    formatTable(
      [`@${threshold}`, "members named correctly", "members as someone else", "visitors named", "verdicts"],
      rows,
    ),
  );
  console.log(
    `goals (mismatch): members named >= ${pct(MICROPHONE_GOALS.minMembersCorrect, 0)}, visitors named <= ` +
      `${pct(MICROPHONE_GOALS.maxVisitorsNamed, 0)}; in every condition, visitors named no more often than before (the last verdict)`,
  );
  const e = report.enrolment;
  console.log(
    `enrolment cost per second of speech: voiceprint ${e.voiceprintPerSecond.toFixed(4)} s, ` +
      `${e.rooms} simulated rooms ${e.simulatedPerSecond.toFixed(4)} s (one thread)`,
  );
}

function scoreConfig(
  prints: SpeakerPrints[],
  draws: HouseholdDraws,
  threshold: number,
): Omit<
  ConfigReport,
  "trim" | "voiceprints" | "embedSeconds" | "meanEnrolSpeechSeconds" | "meanTestSpeechSeconds"
> {
  // Enrolment voiceprint of A against test voiceprint of B: A = B genuine, A != B impostor.
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let a = 0; a < prints.length; a++) {
    for (let b = 0; b < prints.length; b++) {
      (a === b ? genuine : impostor).push(cosine(prints[a].enrol, prints[b].test));
    }
  }
  const eer = equalErrorRate(genuine, impostor);
  const at = (t: number) => {
    const rates = errorRates(genuine, impostor, t);
    return {
      threshold: t,
      falseAcceptRate: rates.falseAcceptRate,
      falseRejectRate: rates.falseRejectRate,
      households: householdShares(evaluateHouseholds(prints, draws, t)),
    };
  };
  const main = at(threshold);
  return {
    genuineTrials: genuine.length,
    impostorTrials: impostor.length,
    eer,
    genuine: distribution(genuine),
    impostor: distribution(impostor),
    atThreshold: main,
    atEerThreshold: householdShares(evaluateHouseholds(prints, draws, eer.threshold)),
    sweep: sweepAround(threshold).map(at),
  };
}

function printReport(
  options: Options,
  speakers: number,
  reports: ConfigReport[],
  goals: { goal: string; value: number; pass: boolean }[],
  wallSeconds: number,
): void {
  const t = options.threshold;
  const visitors = speakers - options.householdSize;
  console.log(
    `voiceid accuracy benchmark: ${options.encoder}, LibriSpeech train-clean-100, ${speakers} speakers`,
  );
  console.log(
    "Enrol on the first half of each speaker's file, test on the second half; voiceprints via\n" +
      "VoiceprintExtractor (normalise -30 dBFS, Silero silence trimming, encoder), as enrolment does.",
  );
  console.log(
    `Pairs: enrolment of A vs test of B -> ${reports[0].genuineTrials} genuine, ${reports[0].impostorTrials} impostor scores.`,
  );
  console.log(
    `Households: ${options.draws} random draws (seed ${options.seed}, --seed) of ${options.householdSize} ` +
      `enrolled speakers, the other ${visitors} are visitors; matchVoiceprint against the members.`,
  );

  const col = (r: ConfigReport) => (r.trim ? "trim (real path)" : "no trim");
  const hh = (label: string, pick: (r: ConfigReport) => HouseholdShares): Cell[][] => [
    [`${label}: members named correctly`, ...reports.map((r) => pct(pick(r).membersCorrect))],
    [`${label}: members as someone else`, ...reports.map((r) => pct(pick(r).membersWrong))],
    [`${label}: members unknown`, ...reports.map((r) => pct(pick(r).membersUnknown))],
    [`${label}: members missed (else + unknown)`, ...reports.map((r) => pct(pick(r).membersMissed))],
    [`${label}: visitors named as a member`, ...reports.map((r) => pct(pick(r).visitorsNamed))],
  ];
  console.log(heading("Summary"));
  console.log(
    formatTable(
      ["", ...reports.map(col)],
      [
        ["EER (pairs)", ...reports.map((r) => pct(r.eer.eer))],
        ["threshold at the EER", ...reports.map((r) => fixed(r.eer.threshold, 4))],
        [
          `FAR / FRR at ${t}`,
          ...reports.map(
            (r) => `${pct(r.atThreshold.falseAcceptRate)} / ${pct(r.atThreshold.falseRejectRate)}`,
          ),
        ],
        ["genuine mean", ...reports.map((r) => fixed(r.genuine.mean, 4))],
        ["genuine min", ...reports.map((r) => fixed(r.genuine.min, 4))],
        ["genuine max", ...reports.map((r) => fixed(r.genuine.max, 4))],
        ["impostor mean", ...reports.map((r) => fixed(r.impostor.mean, 4))],
        ["impostor p99", ...reports.map((r) => fixed(r.impostor.p99, 4))],
        ["impostor max", ...reports.map((r) => fixed(r.impostor.max, 4))],
        ...hh(`@${t}`, (r) => r.atThreshold.households),
        ...hh("@EER threshold", (r) => r.atEerThreshold),
        [
          "mean speech per half (enrol / test)",
          ...reports.map(
            (r) => `${r.meanEnrolSpeechSeconds.toFixed(1)} s / ${r.meanTestSpeechSeconds.toFixed(1)} s`,
          ),
        ],
        ["embedding time", ...reports.map((r) => `${r.embedSeconds.toFixed(1)} s for ${r.voiceprints}`)],
      ],
    ),
  );

  for (const r of reports) {
    console.log(heading(`Threshold sweep, ${col(r)}`));
    console.log(
      formatTable(
        [
          "threshold",
          "FAR pairs",
          "FRR pairs",
          "members correct",
          "as someone else",
          "unknown",
          "visitors named",
        ],
        r.sweep.map((s) => [
          s.threshold.toFixed(2),
          pct(s.falseAcceptRate),
          pct(s.falseRejectRate),
          pct(s.households.membersCorrect),
          pct(s.households.membersWrong),
          pct(s.households.membersUnknown),
          pct(s.households.visitorsNamed),
        ]),
      ),
    );
  }

  const meetsBoth = reports[0].sweep
    .filter(
      (s) =>
        s.households.membersCorrect >= GOALS.minMembersCorrect &&
        s.households.visitorsNamed <= GOALS.maxVisitorsNamed,
    )
    .map((s) => s.threshold.toFixed(2));
  console.log(
    `\nSweep thresholds meeting both household goals (${col(reports[0])}): ${meetsBoth.join(", ") || "none"}`,
  );

  console.log(heading("Goals (silence trimming on: the real enrolment/identification path)"));
  console.log(
    formatTable(
      ["goal", "measured", "verdict"],
      goals.map((g) => [g.goal, pct(g.value), verdict(g.pass)]),
    ),
  );
  console.log(`\nTook ${wallSeconds.toFixed(1)} s.`);
}

runMain(main);
