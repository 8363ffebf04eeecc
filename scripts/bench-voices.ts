/**
 * `npm run bench:voices`: voices nobody enrolled, kept and grouped as they come, then named. Per
 * condition (dry, room) and seed: a household of 10 enrolled members (first half of their file) and 6
 * visitors; 20 minutes of turns where each visitor speaks 6 to 10 times (from the first half of their
 * file) between members' turns (second half). Through the daemon's speech path with the store of
 * unknown voices (the daemon's own UnknownVoiceStore):
 * - purity: the share of each voice's speech that belongs to its majority visitor;
 * - fragmentation: voices per visitor;
 * - members' speech wrongly kept as unknown voices.
 * Then each of visitors 1-5 is named from their largest voice (nameVoice, what POST /api/voices/:id/assign
 * runs), visitor 6's largest voice is ignored, and 10 minutes more are streamed with the visitors
 * speaking from the second half of their file (never heard before): how much of a named visitor's speech is
 * named right, whether anyone else is named as them, and how many events visitor 6's turns make past
 * the gate in front of Home Assistant. `--calibrate` re-groups the kept turns of other seeds at several
 * join thresholds and prints the criterion that chose the threshold.
 */

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ENCODER_IDS } from "../src/embedding/encoder.js";
import { Identifier } from "../src/enrolment/identifier.js";
import type { Decision } from "../src/identify/decision.js";
import { consistencyWarningFor } from "../src/identify/options.js";
import type { UnknownTurn } from "../src/identify/speaker-tracker.js";
import { cosineSpread } from "../src/identify/voice-change.js";
import type { MatchCandidate } from "../src/registry/matcher.js";
import { SpeakerRegistry } from "../src/registry/registry.js";
import { silentLogger } from "../src/util/log.js";
import { IgnoredVoiceGate } from "../src/voices/ignored-voice-gate.js";
import { groupTurn, type KeptTurn, type KeptVoice, voiceGroupingPolicy } from "../src/voices/voice-groups.js";
import { nameVoice, VoiceTooShortError } from "../src/voices/voice-naming.js";
import { UnknownVoiceStore } from "../src/voices/voice-store.js";
import { mulberry32 } from "./bench/prng.js";
import {
  enrolHousehold,
  librispeechFiles,
  numberOption,
  parseBenchArgs,
  progress,
  runMain,
  startSpeechModels,
} from "./bench/setup.js";
import { runTracker } from "./bench/stream-runs.js";
import { formatTable, heading, pct, verdict } from "./bench/table.js";
import {
  type Audio,
  drawHousehold,
  enrolmentOf,
  loadAudio,
  SAMPLE_RATE,
  type TrueTurn,
} from "./bench/turn-streams.js";

const GOALS = {
  purity: 0.95,
  voicesPerVisitor: 1.5,
  namedRight: 0.8,
  wrongAsVisitor: 0.02,
  ignoredEvents: 0,
};
const VISITORS = 6;
const PAUSES_S = [0.2, 0.5, 1, 2];
/** Join thresholds tried, written for Resemblyzer (threshold 0.82); other encoders move them to their scale. */
const CALIBRATION_JOINS = [0.7, 0.74, 0.78, 0.8, 0.82, 0.84, 0.86, 0.9];

const USAGE = `usage: npm run bench:voices -- [options]
  --seeds N         streams per condition (default 2, seeds 1..N)
  --minutes M       minutes of the first stream (default 20; the second is half as long)
  --conditions L    of dry,room (default both)
  --calibrate       re-group the kept turns of seeds 101..100+N at several join thresholds
  --encoder ID      speaker encoder (default ${ENCODER_IDS[0]}; one of ${ENCODER_IDS.join(", ")})
  --json            print one JSON object instead of tables`;

interface Piece {
  voice: string;
  member: boolean;
  samples: Float32Array;
}

/**
 * Turns in a random order: each visitor `visitorTurns` times (3-6 s from `visitorPart` of their file),
 * members (2-6 s from the second half of theirs) filling the rest of `minutes`.
 */
function buildStream(
  audio: Map<string, Float32Array>,
  members: readonly string[],
  visitors: readonly string[],
  minutes: number,
  visitorPart: "first" | "second",
  random: () => number,
): { samples: Float32Array; truth: TrueTurn[] } {
  const part = (id: string, half: "first" | "second", minS: number, maxS: number) => {
    const file = audio.get(id)!;
    const mid = file.length >> 1;
    const [from, to] = half === "first" ? [0, mid] : [mid, file.length];
    const length = Math.min(to - from, Math.round((minS + random() * (maxS - minS)) * SAMPLE_RATE));
    const start = from + Math.floor(random() * (to - from - length + 1));
    return file.subarray(start, start + length);
  };
  const pieces: Piece[] = [];
  for (const v of visitors) {
    const turns = 6 + Math.floor(random() * 5);
    for (let i = 0; i < turns; i++)
      pieces.push({ voice: v, member: false, samples: part(v, visitorPart, 3, 6) });
  }
  const target = minutes * 60 * SAMPLE_RATE;
  let length = pieces.reduce((n, p) => n + p.samples.length + SAMPLE_RATE, 0);
  while (length < target) {
    const m = members[Math.floor(random() * members.length)];
    const samples = part(m, "second", 2, 6);
    pieces.push({ voice: m, member: true, samples });
    length += samples.length + SAMPLE_RATE;
  }
  for (let i = pieces.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pieces[i], pieces[j]] = [pieces[j], pieces[i]];
  }
  const pauses = pieces.map(() => PAUSES_S[Math.floor(random() * PAUSES_S.length)]);
  const total =
    SAMPLE_RATE + pieces.reduce((n, p, i) => n + p.samples.length + Math.round(pauses[i] * SAMPLE_RATE), 0);
  const samples = new Float32Array(total + SAMPLE_RATE);
  const truth: TrueTurn[] = [];
  let at = SAMPLE_RATE;
  pieces.forEach((p, i) => {
    samples.set(p.samples, at);
    truth.push({
      member: p.member ? p.voice : null,
      voice: p.voice,
      startS: at / SAMPLE_RATE,
      endS: (at + p.samples.length) / SAMPLE_RATE,
    });
    at += p.samples.length + Math.round(pauses[i] * SAMPLE_RATE);
  });
  return { samples, truth };
}

/** The true voice that spoke most of [startS, endS), and for how long. */
function voiceDuring(truth: readonly TrueTurn[], startS: number, endS: number): TrueTurn | null {
  let best: TrueTurn | null = null;
  let most = 0;
  for (const t of truth) {
    const overlap = Math.min(endS, t.endS) - Math.max(startS, t.startS);
    if (overlap > most) {
      most = overlap;
      best = t;
    }
  }
  return best;
}

interface Grouping {
  purity: number;
  voicesPerVisitor: number;
  /** Members' speech kept as unknown voices / members' speech in the stream. */
  membersKept: number;
  /** Visitors' speech kept / visitors' speech in the stream. */
  visitorsKept: number;
  voices: number;
}

/** Scores the voices a store ended with; `truthOf` gives each kept turn's true voice. */
function scoreGrouping(
  voices: readonly KeptVoice[],
  truthOf: (t: KeptTurn) => TrueTurn | null,
  truth: readonly TrueTurn[],
): Grouping {
  let majority = 0;
  let total = 0;
  let membersKept = 0;
  let visitorsKept = 0;
  const voicesOf = new Map<string, number>();
  for (const voice of voices) {
    const byVisitor = new Map<string, number>();
    for (const t of voice.turns) {
      const who = truthOf(t);
      if (!who) continue;
      if (who.member) membersKept += t.speechSeconds;
      else visitorsKept += t.speechSeconds;
      const key = who.member ? `member:${who.voice}` : who.voice;
      byVisitor.set(key, (byVisitor.get(key) ?? 0) + t.speechSeconds);
    }
    const sorted = [...byVisitor.entries()].sort((a, b) => b[1] - a[1]);
    if (sorted.length === 0) continue;
    majority += sorted[0][1];
    total += [...byVisitor.values()].reduce((a, b) => a + b, 0);
    if (!sorted[0][0].startsWith("member:"))
      voicesOf.set(sorted[0][0], (voicesOf.get(sorted[0][0]) ?? 0) + 1);
  }
  const speech = (member: boolean) =>
    truth.filter((t) => (t.member !== null) === member).reduce((n, t) => n + t.endS - t.startS, 0);
  const counts = [...voicesOf.values()];
  return {
    purity: total > 0 ? majority / total : 1,
    voicesPerVisitor: counts.length > 0 ? counts.reduce((a, b) => a + b, 0) / counts.length : 0,
    membersKept: membersKept / speech(true),
    visitorsKept: visitorsKept / speech(false),
    voices: voices.length,
  };
}

interface Naming {
  namedRight: number;
  wrongAsVisitor: number;
  /** The part of wrongAsVisitor that was a member's speech (the rest: another visitor's). */
  membersAsVisitor: number;
  ignoredEvents: number;
  /** Visitors whose largest voice held too little speech to be named (enrolment's 3 s). */
  unnamed: number;
  /** Members' speech named right after the naming, for reference. */
  membersRight: number;
}

/** What the second stream's decisions said, on a 10 ms grid, once the visitors were named. */
function scoreNaming(
  decisions: readonly Decision[],
  truth: readonly TrueTurn[],
  namedAs: Map<string, string>,
  memberIds: Map<string, string>,
  ignoredVisitor: string,
): Naming {
  const step = 0.01;
  const labelAt = (s: number) => {
    for (const d of decisions) {
      if (d.type === "stopped" && d.startS <= s && s < d.startS + d.durationS) return d.speakerId;
    }
    return null;
  };
  const visitorOf = new Map([...namedAs.entries()].map(([visitor, id]) => [id, visitor]));
  let visitorFrames = 0;
  let visitorRight = 0;
  let frames = 0;
  let wrong = 0;
  let membersWrong = 0;
  let memberFrames = 0;
  let memberRight = 0;
  for (const t of truth) {
    for (let s = t.startS; s < t.endS; s += step) {
      const label = labelAt(s);
      frames++;
      if (namedAs.has(t.voice)) {
        visitorFrames++;
        if (label === namedAs.get(t.voice)) visitorRight++;
      }
      if (t.member) {
        memberFrames++;
        if (label !== null && memberIds.get(label) === t.voice) memberRight++;
      }
      const as = label === null ? undefined : visitorOf.get(label);
      if (as !== undefined && as !== t.voice) {
        wrong++;
        if (t.member) membersWrong++;
      }
    }
  }
  // What the daemon would publish: the decisions through the gate, then those about the ignored visitor.
  const gate = new IgnoredVoiceGate(() => true);
  let ignoredEvents = 0;
  for (const d of decisions) {
    for (const published of gate.admit(d)) {
      const who = voiceDuring(truth, published.startS, published.startS + Math.max(published.durationS, 0.5));
      if (who?.voice === ignoredVisitor) ignoredEvents++;
    }
  }
  return {
    namedRight: visitorRight / visitorFrames,
    wrongAsVisitor: wrong / frames,
    membersAsVisitor: membersWrong / frames,
    ignoredEvents,
    unnamed: 0,
    membersRight: memberRight / memberFrames,
  };
}

interface SeedResult {
  grouping: Grouping;
  naming: Naming;
  /** The kept turns of the first stream, with their truth, for --calibrate. */
  kept: { turn: KeptTurn; who: TrueTurn | null }[];
  truth: TrueTurn[];
  audioSeconds: number;
}

async function runSeed(
  models: Awaited<ReturnType<typeof startSpeechModels>>,
  audio: Map<string, Float32Array>,
  ids: readonly string[],
  seed: number,
  minutes: number,
  calibrating: boolean,
): Promise<SeedResult> {
  const household = drawHousehold(ids, seed);
  const visitors = household.visitors.slice(0, VISITORS);
  const random = mulberry32(seed * 7919);
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-voices-"));
  try {
    const registry = new SpeakerRegistry({ dataDir: dir, logger: silentLogger });
    await registry.start();
    const { stack, identification } = models;
    const memberIds = await enrolHousehold(registry, stack.extractor, enrolmentOf(audio, household));
    const identifier = new Identifier(registry, {
      modelId: stack.encoder.modelId,
      defaultThreshold: stack.defaultThreshold,
    });
    await identifier.start();
    const store = new UnknownVoiceStore({
      dataDir: dir,
      modelId: stack.encoder.modelId,
      threshold: stack.defaultThreshold,
      policy: voiceGroupingPolicy(stack.defaultThreshold, stack.encoder.modelId),
      maxTurns: 500,
      maxDays: 14,
      keepClips: false,
      logger: silentLogger,
    });
    await store.start();
    const candidates = (): MatchCandidate[] => [...identifier.candidates(), ...store.ignoredCandidates()];
    const extents = new Map<Float32Array, UnknownTurn>();
    const room = store.forRoom("bench");
    const voices = {
      recognise: room.recognise,
      keep: (turn: UnknownTurn) => {
        extents.set(turn.voiceprint, turn);
        return room.keep(turn);
      },
    };

    const first = buildStream(audio, household.members, visitors, minutes, "first", random);
    await runTracker(
      first.samples,
      candidates,
      { vad: models.vad, encoder: stack.encoder },
      identification,
      undefined,
      voices,
    );
    const truthOf = (t: KeptTurn) => {
      const e = extents.get(t.voiceprint);
      return e ? voiceDuring(first.truth, e.start / SAMPLE_RATE, e.end / SAMPLE_RATE) : null;
    };
    const kept = store.list().flatMap((v) => v.turns.map((turn) => ({ turn, who: truthOf(turn) })));
    const grouping = scoreGrouping(store.list(), truthOf, first.truth);
    const audioSeconds = first.samples.length / SAMPLE_RATE;
    if (calibrating) {
      const none = {
        namedRight: 0,
        wrongAsVisitor: 0,
        membersAsVisitor: 0,
        ignoredEvents: 0,
        unnamed: 0,
        membersRight: 0,
      };
      return { grouping, naming: none, kept, truth: first.truth, audioSeconds };
    }

    // Each visitor's largest voice: named (1-5) or ignored (6).
    const namedAs = new Map<string, string>();
    let unnamed = 0;
    for (const [i, visitor] of visitors.entries()) {
      let best: KeptVoice | null = null;
      let most = 0;
      for (const voice of store.list()) {
        const speech = voice.turns
          .filter((t) => truthOf(t)?.voice === visitor)
          .reduce((n, t) => n + t.speechSeconds, 0);
        if (speech > most) {
          most = speech;
          best = voice;
        }
      }
      if (!best) continue;
      if (i === VISITORS - 1) {
        await store.ignore(best.id, "TV");
        continue;
      }
      try {
        const named = await nameVoice(
          store,
          registry,
          best.id,
          { createNamed: `Visitor ${i + 1}` },
          {
            modelId: stack.encoder.modelId,
            minSpeechSeconds: 3,
            consistencyWarning: consistencyWarningFor(0.75, stack.defaultThreshold, stack.encoder.modelId),
          },
        );
        namedAs.set(visitor, named.speaker.id);
      } catch (err) {
        // As for a user: too little of them was kept to name them yet.
        if (!(err instanceof VoiceTooShortError)) throw err;
        unnamed++;
      }
    }
    const second = buildStream(audio, household.members, visitors, minutes / 2, "second", random);
    const run = await runTracker(
      second.samples,
      candidates,
      { vad: models.vad, encoder: stack.encoder },
      identification,
      undefined,
      voices,
    );
    const naming = {
      ...scoreNaming(run.decisions, second.truth, namedAs, memberIds, visitors[VISITORS - 1]),
      unnamed,
    };
    await store.stop();
    await identifier.stop();
    await registry.stop();
    return {
      grouping,
      naming,
      kept,
      truth: first.truth,
      audioSeconds: audioSeconds + second.samples.length / SAMPLE_RATE,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The kept turns of several streams grouped again, offline, at each join threshold. */
function calibrationTable(
  results: readonly SeedResult[],
  threshold: number,
  modelId: string,
): { join: number; grouping: Grouping }[] {
  return CALIBRATION_JOINS.map((resemblyzerJoin) => {
    const join = Number((threshold + (resemblyzerJoin - 0.82) * cosineSpread(modelId)).toFixed(3));
    const scores = results.map((r) => {
      const voices: KeptVoice[] = [];
      let next = 1;
      const truthOf = new Map<KeptTurn, TrueTurn | null>();
      for (const { turn, who } of [...r.kept].sort((a, b) => a.turn.at.localeCompare(b.turn.at))) {
        const copy = { ...turn };
        truthOf.set(copy, who);
        groupTurn(voices, copy, { join }, () => `voice-${next++}`);
      }
      return scoreGrouping(voices, (t) => truthOf.get(t) ?? null, r.truth);
    });
    return { join, grouping: mean(scores) };
  });
}

function mean<T extends object>(items: readonly T[]): T {
  const out = {} as Record<string, number>;
  for (const key of Object.keys(items[0])) {
    out[key] = items.reduce((n, x) => n + (x as Record<string, number>)[key], 0) / items.length;
  }
  return out as T;
}

async function main(): Promise<number> {
  const values = parseBenchArgs(
    {
      seeds: { type: "string" },
      minutes: { type: "string" },
      conditions: { type: "string", default: "dry,room" },
      calibrate: { type: "boolean", default: false },
      encoder: { type: "string" },
    },
    USAGE,
  );
  if (!values) return 0;
  const seeds = numberOption(
    "seeds",
    values.seeds,
    2,
    (n) => Number.isInteger(n) && n >= 1,
    "a whole number >= 1",
  );
  const minutes = numberOption("minutes", values.minutes, 20, (n) => n >= 1 && n <= 120, "1 to 120");
  const conditions = values.conditions.split(",") as Audio[];
  const files = librispeechFiles();
  const ids = files.map((f) => f.id);
  const models = await startSpeechModels(values.encoder);
  const report: Record<string, unknown> = {};
  try {
    for (const condition of conditions) {
      const audio = loadAudio(files, condition);
      const firstSeed = values.calibrate ? 101 : 1;
      const results: SeedResult[] = [];
      for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
        progress(`${condition}: seed ${seed}`);
        results.push(await runSeed(models, audio, ids, seed, minutes, values.calibrate));
      }
      if (values.calibrate) {
        report[condition] = calibrationTable(
          results,
          models.stack.defaultThreshold,
          models.stack.encoder.modelId,
        );
        continue;
      }
      report[condition] = {
        grouping: mean(results.map((r) => r.grouping)),
        naming: mean(results.map((r) => r.naming)),
        audioMinutes: results.reduce((n, r) => n + r.audioSeconds, 0) / 60,
      };
    }
  } finally {
    await models.stack.stop();
  }
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ seeds, minutes, join: voiceGroupingPolicy(models.stack.defaultThreshold, models.stack.encoder.modelId).join, report })}\n`,
    );
    return 0;
  }
  if (values.calibrate) {
    for (const condition of conditions) {
      process.stdout.write(
        `${heading(`join threshold on calibration seeds 101..${100 + seeds} (${condition})`)}\n`,
      );
      const rows = (report[condition] as ReturnType<typeof calibrationTable>).map(({ join, grouping: g }) => [
        join,
        pct(g.purity, 1),
        g.voicesPerVisitor.toFixed(2),
        pct(g.membersKept, 2),
        pct(g.visitorsKept, 1),
      ]);
      process.stdout.write(
        formatTable(["join", "purity", "voices/visitor", "members kept", "visitors kept"], rows),
      );
    }
    process.stdout.write(
      "\nCriterion: the fewest voices per visitor among thresholds with purity >= 95 % in both conditions.\n",
    );
    return 0;
  }
  const title = `unknown voices: ${seeds} seed(s), ${minutes} + ${minutes / 2} min per seed, join ${voiceGroupingPolicy(models.stack.defaultThreshold, models.stack.encoder.modelId).join.toFixed(2)}`;
  process.stdout.write(`${heading(title)}\n`);
  const rows = conditions.map((c) => {
    const r = report[c] as { grouping: Grouping; naming: Naming };
    return [
      c,
      pct(r.grouping.purity, 1),
      r.grouping.voicesPerVisitor.toFixed(2),
      pct(r.grouping.membersKept, 2),
      pct(r.grouping.visitorsKept, 1),
      pct(r.naming.namedRight, 1),
      pct(r.naming.wrongAsVisitor, 2),
      pct(r.naming.membersAsVisitor, 2),
      r.naming.ignoredEvents,
      r.naming.unnamed,
      pct(r.naming.membersRight, 1),
    ];
  });
  process.stdout.write(
    formatTable(
      [
        "condition",
        "purity",
        "voices/visitor",
        "members kept",
        "visitors kept",
        "named right",
        "wrong as visitor",
        "of it members",
        "ignored events",
        "too short to name",
        "members right",
      ],
      rows,
    ),
  );
  process.stdout.write("\nGoals:\n");
  for (const c of conditions) {
    const r = report[c] as { grouping: Grouping; naming: Naming };
    process.stdout.write(
      `  ${c}: purity >= 95 % ${verdict(r.grouping.purity >= GOALS.purity)}; <= 1.5 voices per visitor ${verdict(r.grouping.voicesPerVisitor <= GOALS.voicesPerVisitor)}; ` +
        `named right >= 80 % ${verdict(r.naming.namedRight >= GOALS.namedRight)}; wrong <= 2 % ${verdict(r.naming.wrongAsVisitor <= GOALS.wrongAsVisitor)}; ` +
        `ignored voice 0 events ${verdict(r.naming.ignoredEvents === GOALS.ignoredEvents)}\n`,
    );
  }
  return 0;
}

runMain(main);
