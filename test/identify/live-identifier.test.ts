import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Decision, isAnnouncement } from "../../src/identify/decision.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { voiceStore } from "../voices/helpers.js";
import { benchStreamExcerpt, DRY, defaultIdentification, MISMATCH, ROOM } from "./bench-excerpts.js";
import {
  concat,
  enrol,
  enrolMembers,
  IDENTIFICATION,
  loadModels,
  MEMBER_A,
  type Models,
  roomUtterance,
  runStream,
  SAMPLE_RATE,
  SCENARIOS,
  seconds,
  silence,
  strangersAlternate,
  utterance,
  VISITOR,
} from "./helpers.js";

/**
 * Who talks when, through the daemon's speech path with the real VAD and encoder on real speech
 * (SCENARIOS in helpers.ts): members A and B are enrolled, the visitor is not.
 */
let models: Models;
let candidates: MatchCandidate[];
/** CAM++, for the cases found on bench:stream's streams (the encoder `auto` takes here). */
let campplus: Models;

beforeAll(async () => {
  models = await loadModels();
  candidates = await enrolMembers(models);
  campplus = await loadModels("campplus-zh-en");
});

afterAll(async () => {
  await models?.stop();
  await campplus?.stop();
});

const stopped = (ds: Decision[]) => ds.filter((d) => d.type === "stopped");
/** Everything claimed, as Home Assistant is told: named people, and "unknown" for a voice nobody enrolled. */
const claims = (ds: Decision[]) => ds.filter(isAnnouncement);

function describeDecisions(ds: Decision[]): string {
  return ds
    .map(
      (d) =>
        `${d.type} #${d.turnId} ${d.speakerId ?? d.reason} ${d.startS.toFixed(2)}+${d.durationS.toFixed(2)} @${d.decidedAtS.toFixed(2)}`,
    )
    .join("\n");
}

describe("a visitor interrupting a member after 0.05 s", () => {
  let ds: Decision[];
  beforeAll(async () => {
    ds = await runStream(models, candidates, SCENARIOS.visitorInterrupts());
  });

  it("names the member, then starts a new turn for the visitor that never names anyone", () => {
    const turns = stopped(ds);
    expect(
      turns.map((d) => d.speakerId),
      describeDecisions(ds),
    ).toEqual(["A", null]);
    expect(turns[1].reason).toMatch(/^(unknown|uncertain)$/);
    // The member's speech ends at 6.0 s, the visitor's starts at 6.05 s: the change is placed on it.
    expect(Math.abs(turns[1].startS - 6.05), describeDecisions(ds)).toBeLessThan(0.5);
    expect(Math.abs(turns[0].startS + turns[0].durationS - 6.0)).toBeLessThan(0.5);
    expect(
      claims(ds)
        .filter((d) => d.speakerId !== null)
        .every((d) => d.speakerId === "A"),
    ).toBe(true);
  });

  it("never claims the member's turn was a stranger", () => {
    const memberTurn = stopped(ds)[0].turnId;
    expect(ds.filter((d) => d.turnId === memberTurn && d.reason === "unknown")).toEqual([]);
  });
});

describe("a visitor following a member with no pause at all", () => {
  it("ends the member's turn and starts the visitor's within 0.5 s of the change, naming only the member", async () => {
    const ds = await runStream(models, candidates, SCENARIOS.visitorFollowsWithoutPause());
    const turns = stopped(ds);
    expect(
      turns.map((d) => d.speakerId),
      describeDecisions(ds),
    ).toEqual(["A", null]);
    expect(Math.abs(turns[1].startS - 6.0), describeDecisions(ds)).toBeLessThan(0.5);
    expect(claims(ds).every((d) => d.speakerId === "A" || d.speakerId === null)).toBe(true);
  });
});

describe("a member following a visitor with no pause at all", () => {
  it("starts the member's turn within 0.5 s of the change and names the member there, never the visitor", async () => {
    const ds = await runStream(models, candidates, SCENARIOS.memberFollowsVisitorWithoutPause());
    const turns = stopped(ds);
    const member = turns.find((d) => d.speakerId === "A");
    expect(member, describeDecisions(ds)).toBeDefined();
    expect(Math.abs(member!.startS - 6.0), describeDecisions(ds)).toBeLessThan(0.5);
    const named = claims(ds).filter((d) => d.speakerId !== null);
    expect(
      named.every((d) => d.speakerId === "A" && d.turnId === member!.turnId),
      describeDecisions(ds),
    ).toBe(true);
  });
});

describe("a stranger who stops a second before a member speaks", () => {
  it("is announced unknown in the pause, once the VAD ends their speech, and never over the member", async () => {
    // 2.85 s of the visitor's speech: its windows judge 2.5 s of it only once the VAD has ended it.
    const stranger = utterance(VISITOR).subarray(seconds(12.9), seconds(15.75));
    const memberFrom = 1 + stranger.length / 16_000 + 1;
    const ds = await runStream(
      models,
      candidates,
      concat(
        silence(1),
        stranger,
        silence(1),
        utterance(MEMBER_A).subarray(seconds(8), seconds(13)),
        silence(2),
      ),
    );
    expect(
      stopped(ds).map((d) => d.speakerId ?? d.reason),
      describeDecisions(ds),
    ).toEqual(["unknown", "A"]);
    const unknowns = claims(ds).filter((d) => d.reason === "unknown");
    expect(unknowns, describeDecisions(ds)).toHaveLength(1);
    expect(unknowns[0].decidedAtS).toBeLessThan(memberFrom);
    expect(unknowns[0].turnId).toBe(stopped(ds)[0].turnId);
  });
});

describe("a member who begins 0.2 s after a stranger's 2 s", () => {
  // bench:stream's dry stream 17 at 150.66 s: member 1594, 1 s, stranger 196 (1.9 s of speech), 0.2 s,
  // member 1992. The stranger's turn reaches 2.5 s of speech only with the member's first second in it.
  it("is named, and the stranger's turn is not announced unknown over the member's first words", async () => {
    const first = utterance("1594-135914-0000");
    const second = utterance("1992-141719-0000");
    const household = await enrol(models, {
      1594: first.subarray(0, first.length >> 1),
      1992: second.subarray(0, second.length >> 1),
    });
    const before = first.subarray(seconds(8.652), seconds(13.415));
    const stranger = utterance("196-122150-0000").subarray(seconds(1.477), seconds(4.465));
    const memberFrom = 1 + before.length / SAMPLE_RATE + 1 + stranger.length / SAMPLE_RATE + 0.2;
    const ds = await runStream(
      models,
      household,
      concat(
        silence(1),
        before,
        silence(1),
        stranger,
        silence(0.2),
        second.subarray(seconds(7.1075), seconds(14.215)),
        silence(2),
      ),
    );
    expectMemberAfterStranger(ds, ["1594", "1992"], memberFrom, 0.3);
  });
});

/**
 * Member `before`, a stranger's short turn, then member `after` from `memberFrom` s: both members named,
 * nothing announced "unknown" once the second member speaks, and the stranger's turn ending without a
 * name, the member's beginning within `tolerance` s of the change.
 */
function expectMemberAfterStranger(
  ds: Decision[],
  [before, after]: [string, string],
  memberFrom: number,
  tolerance: number,
): void {
  expectOnlyMembersClaimed(ds, [before, after], memberFrom);
  expect(
    stopped(ds).map((d) => d.speakerId),
    describeDecisions(ds),
  ).toEqual([before, null, after]);
  expect(Math.abs(stopped(ds)[2].startS - memberFrom), describeDecisions(ds)).toBeLessThan(tolerance);
}

/** The two members are named, in order, and nobody is announced "unknown" once the second has begun. */
function expectOnlyMembersClaimed(ds: Decision[], members: [string, string], memberFrom: number): void {
  const unknowns = claims(ds).filter((d) => d.reason === "unknown");
  expect(
    unknowns.filter((d) => d.decidedAtS > memberFrom),
    describeDecisions(ds),
  ).toEqual([]);
  expect(
    claims(ds).map((d) => d.speakerId ?? d.reason),
    describeDecisions(ds),
  ).toEqual(members);
}

/**
 * A stranger's turn, then member `member` from `memberFrom` s: the stranger's turn stops "unknown" before
 * the member begins, nothing is announced "unknown" once the member speaks, and the member is named last.
 */
function expectStrangerReportedNotAnnounced(ds: Decision[], memberFrom: number, member: string): void {
  const stranger = stopped(ds).find((d) => d.reason === "unknown");
  expect(stranger, describeDecisions(ds)).toBeDefined();
  expect(stranger!.startS + stranger!.durationS, describeDecisions(ds)).toBeLessThan(memberFrom);
  const unknowns = claims(ds).filter((d) => d.reason === "unknown");
  expect(
    unknowns.filter((d) => d.decidedAtS > memberFrom),
    describeDecisions(ds),
  ).toEqual([]);
  expect(claims(ds).at(-1)?.speakerId, describeDecisions(ds)).toBe(member);
}

describe("two strangers nobody enrolled taking turns with 0.2 s pauses", () => {
  it("gives a turn per change of voice, each change within 0.3 s of its pause, and names nobody", async () => {
    const { samples, changes } = strangersAlternate();
    const ds = await runStream(models, candidates, samples);
    const turns = stopped(ds).filter((d) => d.reason !== "too_short");
    expect(turns, describeDecisions(ds)).toHaveLength(4);
    changes.forEach((change, i) => {
      expect(distanceTo(turns[i + 1].startS, change), describeDecisions(ds)).toBeLessThanOrEqual(0.3);
      expect(distanceTo(turns[i].startS + turns[i].durationS, change)).toBeLessThanOrEqual(0.3);
    });
    expect(ds.every((d) => d.speakerId === null)).toBe(true);
  });
});

describe("two members alternating with 0.2 s pauses", () => {
  let ds: Decision[];
  beforeAll(async () => {
    ds = await runStream(models, candidates, SCENARIOS.membersAlternate());
  });

  it("gives three turns named A, B, A, each announced as its person once and stopped once", () => {
    const turns = stopped(ds);
    expect(
      turns.map((d) => d.speakerId),
      describeDecisions(ds),
    ).toEqual(["A", "B", "A"]);
    for (const turn of turns) {
      const own = ds.filter((d) => d.turnId === turn.turnId);
      expect(own[0].type).toBe("started");
      expect(own.filter((d) => d.speakerId !== null && d.type === "updated")).toHaveLength(1);
    }
    // True changes at 5.5-5.7 s and 10.2-10.4 s (the pauses): the turns change within 0.3 s of them.
    expect(distanceTo(turns[1].startS, [5.5, 5.7]), describeDecisions(ds)).toBeLessThanOrEqual(0.3);
    expect(distanceTo(turns[2].startS, [10.2, 10.4]), describeDecisions(ds)).toBeLessThanOrEqual(0.3);
  });

  it("announces nobody as unknown", () => {
    expect(ds.filter((d) => d.reason === "unknown")).toEqual([]);
  });
});

describe("a member answering another after a pause of about the pause allowance", () => {
  it("names the second member for their turn, never the first (whose speech the first windows reach back into)", async () => {
    // 1.6 s of silence: the first turn has ended (1.5 s after the VAD ended its speech) by the time the
    // VAD confirms the second voice, while the windows still join the two voices' speech across it.
    const bFrom = 1 + 4 + 1.6;
    const ds = await runStream(models, candidates, SCENARIOS.memberAnswersAfterPause());
    const named = claims(ds).map((d) => [d.turnId, d.speakerId]);
    const turns = stopped(ds);
    expect(
      turns.map((d) => d.speakerId),
      describeDecisions(ds),
    ).toEqual(["A", "B"]);
    expect(named, describeDecisions(ds)).toEqual([
      [turns[0].turnId, "A"],
      [turns[1].turnId, "B"],
    ]);
    expect(Math.abs(turns[1].startS - bFrom), describeDecisions(ds)).toBeLessThan(0.3);
  });
});

describe("a member pausing 1 s mid-sentence", () => {
  let ds: Decision[];
  beforeAll(async () => {
    ds = await runStream(models, candidates, SCENARIOS.memberPauses());
  });

  it("is one turn, named once, from the first words to the last", () => {
    const turns = stopped(ds);
    expect(
      turns.map((d) => d.speakerId),
      describeDecisions(ds),
    ).toEqual(["A"]);
    expect(new Set(ds.map((d) => d.turnId)).size).toBe(1);
    expect(turns[0].startS).toBeLessThan(1.1);
    expect(turns[0].startS + turns[0].durationS).toBeGreaterThan(9.5);
    expect(claims(ds).map((d) => d.speakerId)).toEqual(["A"]);
  });

  it("ends the turn only after the pause allowance, with the decision position saying so", () => {
    const [end] = stopped(ds);
    expect(end.decidedAtS - (end.startS + end.durationS)).toBeGreaterThanOrEqual(1.5 - 0.05);
  });
});

describe("single voices", () => {
  it("starts pending and names a member within about two seconds of the start of their speech", async () => {
    const ds = await runStream(models, candidates, SCENARIOS.memberAlone());
    expect(ds[0]).toMatchObject({ type: "started", reason: "pending", speakerId: null });
    const named = claims(ds)[0];
    expect(named.speakerId).toBe("A");
    expect(named.decidedAtS - 1).toBeLessThan(2.5);
  });

  it("says unknown (never the nearest enrolled person) for a visitor who talks long enough", async () => {
    const ds = await runStream(models, candidates, concat(silence(1), utterance(VISITOR), silence(2)));
    for (const d of ds) expect(d.speakerId).toBeNull();
    expect(claims(ds).length, describeDecisions(ds)).toBeGreaterThanOrEqual(1);
    expect(claims(ds).every((d) => d.reason === "unknown")).toBe(true);
    expect(stopped(ds)[0].nearestSpeakerId).not.toBeNull();
  });

  it("reports speech shorter than minSpeechSeconds as too_short, and claims nothing", async () => {
    const ds = await runStream(models, candidates, SCENARIOS.memberTooShort());
    expect(ds.map((d) => d.type)).toEqual(["started", "stopped"]);
    expect(ds[1].reason).toBe("too_short");
  });

  it("with nobody enrolled, a long turn is unknown", async () => {
    const ds = await runStream(models, [], SCENARIOS.memberAlone());
    expect(stopped(ds).map((d) => d.reason)).toEqual(["unknown"]);
  });

  it("ends a named turn whose whole voiceprint falls below the threshold uncertain, never pending", async () => {
    // 3.2 s of reader 89 (a bench:stream turn), enrolled from the first half of the file: named at 0.820
    // as the windows reach the threshold, the whole turn ends at 0.79.
    const reader = utterance("89-218-0000");
    const enrolled = await enrol(models, { C: reader.subarray(0, reader.length >> 1) });
    const ds = await runStream(
      models,
      enrolled,
      concat(silence(1), reader.subarray(seconds(9.09), seconds(12.32)), silence(2)),
    );
    const named = claims(ds).find((d) => d.speakerId === "C");
    expect(named, describeDecisions(ds)).toBeDefined();
    const end = stopped(ds).find((d) => d.turnId === named!.turnId)!;
    expect(end.speakerId, describeDecisions(ds)).toBeNull();
    expect(end.reason).toBe("uncertain");
    expect(end.nearestSpeakerId).toBe("C");
    expect(
      stopped(ds).every((d) => d.reason !== "pending"),
      describeDecisions(ds),
    ).toBe(true);
  });
});

/** Seconds from `t` to the interval [from, to] (0 inside). */
function distanceTo(t: number, [from, to]: [number, number]): number {
  return t < from ? from - t : t > to ? t - to : 0;
}

describe("voices nobody enrolled, kept as they end", () => {
  const keptIn = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "voiceid-kept-"));
    const store = voiceStore(dir);
    await store.start();
    return { store, dispose: () => store.stop().then(() => rm(dir, { recursive: true, force: true })) };
  };

  it("two strangers taking turns become two voices, each turn carrying its own", async () => {
    const { store, dispose } = await keptIn();
    try {
      const { samples } = strangersAlternate();
      const ds = await runStream(models, candidates, samples, { voices: store.forRoom("kitchen") });
      const turns = stopped(ds).filter((d) => d.reason !== "too_short");
      const voices = turns.map((d) => d.voice);
      expect(voices, describeDecisions(ds)).toEqual([voices[0], voices[1], voices[0], voices[1]]);
      expect(voices[0]).not.toBe(voices[1]);
      expect(store.list().map((v) => v.turns.length)).toEqual([2, 2]);
    } finally {
      await dispose();
    }
  });

  it("keeps a turn that ends uncertain below every threshold (a stranger in a room), not one too short", async () => {
    const { store, dispose } = await keptIn();
    try {
      // At a threshold just above the visitor's score, they are neither named nor far enough to be unknown.
      const probe = await runStream(models, candidates, concat(silence(1), utterance(VISITOR), silence(2)));
      const score = stopped(probe)[0].score!;
      const identification = {
        ...IDENTIFICATION,
        tracker: { ...IDENTIFICATION.tracker, defaultThreshold: score + 0.05 },
      };
      const ds = await runStream(models, candidates, concat(silence(1), utterance(VISITOR), silence(2)), {
        identification,
        voices: store.forRoom("kitchen"),
      });
      // (At this threshold the utterance may come as two turns: both the same kept voice.)
      const turns = stopped(ds);
      expect(turns.length, describeDecisions(ds)).toBeGreaterThanOrEqual(1);
      for (const d of turns) expect([d.reason, d.voice]).toEqual(["uncertain", "voice-1"]);
      // Nothing was claimed about them: the store only remembers the voice.
      expect(claims(ds)).toEqual([]);
      const short = await runStream(models, candidates, SCENARIOS.memberTooShort(), {
        identification,
        voices: store.forRoom("kitchen"),
      });
      expect(stopped(short)[0].voice).toBeNull();
      expect(store.list().map((v) => v.turns.length)).toEqual([turns.length]);
    } finally {
      await dispose();
    }
  });

  it("an unnamed turn nearest an ignored voice, and not far from it, is that voice: ignored, not kept", async () => {
    const { store, dispose } = await keptIn();
    try {
      const visitor = utterance(VISITOR);
      const half = visitor.length >> 1;
      const stream = concat(silence(1), visitor.subarray(half, half + seconds(5)), silence(2));
      const { embedding } = await models.stack.extractor.fromSamples(visitor.subarray(0, half));
      const tv = (threshold: number): MatchCandidate => ({
        id: "voice-7",
        name: "voice-7",
        centroid: embedding,
        threshold,
        ignored: true,
      });
      // Never reached (1.0): how close each turn comes to the ignored voice (here two, a pause apart).
      const probe = stopped(await runStream(models, [...candidates, tv(1)], stream));
      const scores = probe.map((d) => d.score!);
      // Its threshold a little above the closest: nothing is the voice by its threshold; a turn within the
      // margin below it (0.11) is the voice all the same, one further below is not.
      const threshold = Math.max(...scores) + 0.05;
      const ds = stopped(
        await runStream(models, [...candidates, tv(threshold)], stream, { voices: store.forRoom("kitchen") }),
      );
      expect(ds.map((d) => d.score)).toEqual(probe.map((d) => d.score));
      const expected = scores.map((score) => (score >= threshold - 0.11 ? "ignored" : "not ignored"));
      expect(expected).toContain("ignored");
      expect(ds.map((d) => (d.reason === "ignored" ? "ignored" : "not ignored"))).toEqual(expected);
      for (const d of ds.filter((x) => x.reason === "ignored")) expect(d.voice).toBe("voice-7");
      // What was ignored was not kept.
      const kept = store.list().flatMap((v) => v.turns).length;
      expect(kept).toBe(ds.filter((d) => d.reason !== "ignored" && d.voice !== null).length);
    } finally {
      await dispose();
    }
  });
});

describe("a member who begins 0.5 s after a stranger's short turn, through a room's microphone (CAM++)", () => {
  // bench:stream's room stream 7 at 124 s, on CAM++: member 196, 0.2 s, stranger 730 (2.8 s), 0.5 s,
  // member 229, the household of ten enrolled from the room recordings. The stranger is just above the
  // margin for "unknown" (0.265 against 0.26); the windows reaching across the pause into the member's
  // first words tipped the turn below it, and the member was announced "unknown".

  /**
   * A bench:stream room stream's stranger between two members, on its own: the household of ten enrolled
   * from the first half of their room recordings, each piece [stem, offset s, length s], the pauses
   * between them. Returns the decisions and where the second member begins.
   */
  async function strangerBetweenMembers(
    householdStems: string[],
    pieces: [string, number, number][],
    [firstPause, secondPause]: [number, number],
  ): Promise<{ ds: Decision[]; memberFrom: number }> {
    const household = await enrol(
      campplus,
      Object.fromEntries(
        householdStems.map((stem) => {
          const samples = roomUtterance(stem);
          return [stem.split("-")[0], samples.subarray(0, samples.length >> 1)];
        }),
      ),
    );
    const [before, stranger, member] = pieces.map(([stem, from, length]) =>
      roomUtterance(stem).subarray(seconds(from), seconds(from + length)),
    );
    const ds = await runStream(
      campplus,
      household,
      concat(silence(1), before, silence(firstPause), stranger, silence(secondPause), member, silence(2)),
      { identification: defaultIdentification(campplus) },
    );
    const memberFrom = 1 + (before.length + stranger.length) / SAMPLE_RATE + firstPause + secondPause;
    return { ds, memberFrom };
  }

  it("is named, and the stranger's turn is not announced unknown over the member's first words", async () => {
    const stems = ["1034-121119-0000", "118-121721-0000", "196-122150-0000", "229-130880-0000"];
    stems.push("2514-149482-0000", "27-123349-0000", "289-121652-0000", "3235-11599-0000");
    stems.push("3374-298025-0000", "89-218-0000");
    const { ds, memberFrom } = await strangerBetweenMembers(
      stems,
      [
        ["196-122150-0000", 7.5639, 5.729],
        ["730-358-0000", 2.974, 2.8389],
        ["229-130880-0000", 9.4069, 7.3282],
      ],
      [0.2, 0.5],
    );
    expectMemberAfterStranger(ds, ["196", "229"], memberFrom, 0.5);
  });

  it("is named when the stranger's turn was too short to judge before the pause", async () => {
    // bench:stream's room stream 11 at 204 s: member 1355, 0.05 s, stranger 1455 (2.6 s, confidently
    // nobody), 0.5 s, member 254, the household of ten enrolled from the room recordings. The member's
    // first second carried the stranger's turn past the 2.5 s it needs to be judged "unknown" while
    // the member's windows still looked like the turn: each was compared with a voiceprint holding the
    // windows that overlap it (0.50-0.56), not with the stranger's own (0.2).
    const stems = ["254-12312-0000", "27-123349-0000", "2952-407-0000", "2911-12359-0000"];
    stems.push("458-126290-0000", "2817-142371-0000", "1355-39947-0000", "1088-129236-0000");
    stems.push("302-123504-0000", "250-140277-0000");
    const { ds, memberFrom } = await strangerBetweenMembers(
      stems,
      [
        ["1355-39947-0000", 6.2412, 3.6792],
        ["1455-134435-0000", 2.9096, 2.5913],
        ["254-12312-0000", 2.4139, 2.3554],
      ],
      [0.05, 0.5],
    );
    // Enrolled here without the simulated rooms the daemon adds, the member's room voice is named later
    // than in the bench (and the turn ends uncertain); what must hold is that nobody greets them as a
    // stranger and that they are named within the first naming's goal (3 s).
    expectOnlyMembersClaimed(ds, ["1355", "254"], memberFrom);
    expect(claims(ds)[1].decidedAtS - memberFrom, describeDecisions(ds)).toBeLessThan(3);
  });
});

describe("bench:stream's streams on CAM++, excerpts where a voice was named wrongly", () => {
  it("keeps a stranger's words after their own short pause unnamed, not the next member's", async () => {
    // bench:stream's room stream 13, the 36 s from 140 s: stranger 2196 speaks 23.92-25.52 s and, after a
    // pause of their own, 26.02-26.77 s; member 587 follows at 26.98 s. The stranger's turn was split at
    // their pause; in the young turn after it evidence for 587 built, the change was placed on the pause
    // before 587, and the turn was relabelled 587 from 26.08 s, naming the stranger's last words.
    const ds = await benchStreamExcerpt(campplus, ROOM, 13, [140, 176]);
    const member = stopped(ds).find((d) => d.speakerId === "587" && d.startS > 20);
    expect(member?.startS, describeDecisions(ds)).toBeGreaterThan(26.98 - 0.3);
    // Nothing names anyone over the stranger's speech.
    const stranger = stopped(ds).filter((d) => d.startS < 26.77 && d.startS + d.durationS > 23.92);
    expect(
      stranger.filter((d) => d.speakerId !== null && d.startS + 0.5 < 26.77),
      describeDecisions(ds),
    ).toEqual([]);
  });

  it("ends a member's turn where a visitor who sounds like them begins, without a pause to show it", async () => {
    // bench:stream's dry stream 17, the 16 s from 94 s: member 32 speaks 5.04-11.16 s, and visitor 2911,
    // 0.5 s later, 11.70-14.34 s. The visitor's windows score 0.34-0.41 against 32 (threshold 0.5), which
    // still counted for 32, and the pooled voice-change fit took their 0.40 to 32's turn for 32's voice:
    // 32's turn ran on to 14.11 s, naming the visitor. 32's own windows sit at 0.84 ± 0.07 to the turn.
    const ds = await benchStreamExcerpt(campplus, DRY, 17, [94, 110]);
    const member = stopped(ds).find((d) => d.speakerId === "32");
    expect(member, describeDecisions(ds)).toBeDefined();
    expect(member!.startS + member!.durationS, describeDecisions(ds)).toBeLessThan(11.16 + 0.5);
    // Nobody is named over the visitor's speech, farther than 0.5 s from its ends.
    const named = stopped(ds).filter(
      (d) => d.speakerId !== null && d.startS < 14.34 - 0.5 && d.startS + d.durationS > 11.7 + 0.5,
    );
    expect(named, describeDecisions(ds)).toEqual([]);
  });

  it("places a change on the pause where the next voice begins, not on a stop inside the last words", async () => {
    // bench:stream's dry stream 10: member 248 speaks 191.50-196.30 s, member 1841 from 196.66 s; the VAD
    // saw a 30 ms stop at 195.33 s and a 220 ms pause at 196.45 s. 248's last words score low for them
    // (0.67 against 0.84 before), so the windows turn early, and the change was placed on the stop:
    // 1841's turn began at 195.36 s, over 248's last second. The excerpt starts in a 1.65 s silence and
    // on the VAD's 32 ms grid, and shows the fault as the whole stream did (starts off the grid, tried
    // from 170 to 189 s, window the speech otherwise, and there the windows place the change right).
    const from = 160.96;
    const ds = await benchStreamExcerpt(campplus, DRY, 10, [from, 198]);
    const first = stopped(ds).find((d) => d.speakerId === "248" && from + d.startS > 190);
    const second = stopped(ds).find((d) => d.speakerId === "1841" && from + d.startS > 190);
    expect(first && second, describeDecisions(ds)).toBeTruthy();
    expect(from + first!.startS + first!.durationS, describeDecisions(ds)).toBeGreaterThan(196.3 - 0.3);
    expect(from + second!.startS, describeDecisions(ds)).toBeGreaterThan(196.3 - 0.3);
  });

  it("does not greet a member as a stranger whose short turn their first words would make long enough", async () => {
    // bench:stream's mismatch stream 12 (enrolled from the clean recordings, heard in the room), the 15 s
    // from 38 s: member 3240 until 7.81 s, stranger 1447 8.41-9.34 s, member 831 from 9.73 s. The change
    // out of 3240 was placed on their own pause at 7.30 s, in the past; the stranger's turn opened there
    // counted the VAD's gap of 0.31 s in it as speech, reached the 2.5 s that "unknown" needs on 831's
    // first words, and greeted 831 as a stranger at 10.77 s.
    const ds = await benchStreamExcerpt(campplus, MISMATCH, 12, [38, 53]);
    expectOnlyMembersClaimed(ds, ["3240", "831"], 9.73);
  });
});

describe("a stranger's long turn, then a member's few words at its end (CAM++)", () => {
  it("never calls the member a stranger, nor splits the stranger's turn on their own pause", async () => {
    // bench:stream's held-out mismatch stream 27, its last 16.5 s: stranger 2384 speaks 235.09-239.98 s
    // (a pause of their own at 238.17-238.49 s), member 19 240.48-241.22 s, of which the VAD heard 0.3 s.
    // Evidence for another voice rose on the last window alone; fitted against that window (mostly the
    // stranger still), the change was placed on the stranger's own pause, 2 s early, and the 2.8 s split
    // off there announced "unknown" over 19's words. (The change now lands near 239.1 s: still early, too
    // little of it to announce.)
    const from = 228;
    const ds = await benchStreamExcerpt(campplus, MISMATCH, 27, [from, 244.45]);
    const at = (s: number) => s - from;
    expect(
      claims(ds).filter((d) => d.reason === "unknown" && d.decidedAtS > at(240.48)),
      describeDecisions(ds),
    ).toEqual([]);
    // Not on the stranger's own pause: the voice there is theirs on both sides.
    const onTheirPause = stopped(ds).filter((d) => Math.abs(d.startS - at(238.49)) < 0.2);
    expect(onTheirPause, describeDecisions(ds)).toEqual([]);
  });
});

describe("a stranger whose turn ends as the pause runs out, a member beginning (CAM++)", () => {
  it("is reported unknown when the turn stops, and not announced over the member's first words", async () => {
    // bench:stream's mismatch stream of seed 62, 100-121 s: stranger 2002 speaks 111.3-115.0 s with a
    // pause of their own at 114.11-114.43 s, and was not yet confidently nobody there (held back for a
    // window wholly after it, which never came); member 233 from 116.43 s. The turn's pause ran out at
    // 116.61 s and announced the stranger "unknown" then, 0.2 s into 233's words.
    const from = 100;
    const ds = await benchStreamExcerpt(campplus, MISMATCH, 62, [from, 121]);
    const memberFrom = 116.43 - from;
    expectStrangerReportedNotAnnounced(ds, memberFrom, "233");
  }, 60_000);
});

describe("a stranger held back across the gap before a member (CAM++)", () => {
  it("is reported unknown when the turn stops, and not announced on a window reaching into the member", async () => {
    // bench:stream's mismatch stream of seed 20, 2-19 s: stranger 2514 speaks 8.72-12.57 s with a pause of
    // their own at 11.04-11.10 s (held back there, not yet confidently nobody), then member 2159 from
    // 13.07 s. Confidently nobody by the gap before 2159, the stranger was no longer held, and the first
    // window past their own pause, reaching across the gap, announced them "unknown" 0.1 s into 2159.
    const from = 2;
    const ds = await benchStreamExcerpt(campplus, MISMATCH, 20, [from, 19]);
    const memberFrom = 13.07 - from;
    expectStrangerReportedNotAnnounced(ds, memberFrom, "2159");
  }, 60_000);
});

describe("a stranger whose windows leaned towards a member until the gap before one (CAM++)", () => {
  it("is reported unknown when the turn stops, and not announced on a window reaching into the member", async () => {
    // bench:stream's dry stream of seed 30 (streams held out from every choice), 120-190 s: member 481
    // until 180.22 s, stranger 2416 180.71-183.23 s, member 248 from 183.82 s. The stranger's windows
    // leaned towards members 233 and 587 (far below their threshold), so the turn could not be announced
    // "unknown" as its speech ended; it became nobody on windows reaching across the gap and was announced
    // 0.6 s into 248's words.
    // Heard from 120 s: the turns before shape the stranger's (from 150 s or 168 s, it is not "unknown").
    const from = 120;
    const ds = await benchStreamExcerpt(campplus, DRY, 30, [from, 190]);
    expectStrangerReportedNotAnnounced(ds, 183.82 - from, "248");
  }, 60_000);
});

describe("a member enrolled from a clean recording, heard through a room's microphone (CAM++)", () => {
  it("is named within two seconds of their first words, the room scoring their enrolment's simulated rooms", async () => {
    // bench:stream's mismatch stream 8, the 10.6 s from 143.5 s: member 27 until 4.57 s, member 1926
    // from 5.19 s. 1926's windows score 0.40-0.55 against their clean enrolment's simulated rooms; less
    // CAM++'s former penalty of 0.09 (scaled, never measured), their turn reached the threshold 3.59 s
    // after they began; less 0.07 (measured: src/enrolment/room-voiceprints.ts), in under 2 s.
    const ds = await benchStreamExcerpt(campplus, MISMATCH, 8, [143.5, 154.1]);
    const memberFrom = 148.69 - 143.5;
    expectOnlyMembersClaimed(ds, ["27", "1926"], memberFrom);
    const named = claims(ds).find((d) => d.speakerId === "1926");
    expect(named!.decidedAtS - memberFrom, describeDecisions(ds)).toBeLessThan(2);
  });

  it("is named on their turn's speech heard whole, where the mean of its windows stays short", async () => {
    // bench:stream's room stream 19, the 11.5 s from 109.5 s: member 1116 until 4.62 s, member 200
    // 5.62-8.17 s, visitor 2092 from 8.22 s. 200's 1.6 s windows average 0.3-0.45 against them (CAM++,
    // threshold 0.5) and named them late or never; their 2 s of speech heard as one utterance scores 0.585.
    const ds = await benchStreamExcerpt(campplus, ROOM, 19, [109.5, 121]);
    const memberFrom = 115.12 - 109.5;
    const named = claims(ds).find((d) => d.speakerId === "200");
    expect(named, describeDecisions(ds)).toBeDefined();
    expect(named!.decidedAtS - memberFrom, describeDecisions(ds)).toBeLessThan(2.5);
    // Named for their own turn, and nobody over the visitor's speech.
    expect(named!.startS, describeDecisions(ds)).toBeGreaterThan(memberFrom - 0.5);
    expect(
      claims(ds).filter((d) => d.speakerId !== null && d.decidedAtS > 117.72 - 109.5 + 0.5),
      describeDecisions(ds),
    ).toEqual([]);
    // Its windows alone name them only once the visitor is talking (in the whole stream: never).
    const windowsOnly = await benchStreamExcerpt(campplus, ROOM, 19, [109.5, 121], { wholeTurn: null });
    const late = claims(windowsOnly).find((d) => d.speakerId === "200");
    expect(late?.decidedAtS ?? Number.POSITIVE_INFINITY, describeDecisions(windowsOnly)).toBeGreaterThan(
      117.72 - 109.5,
    );
    // Two excerpts, each enrolling its household: 27 s on an idle 2-core machine, over 60 s beside a second
    // test run.
  }, 120_000);
});
