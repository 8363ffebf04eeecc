import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { learningCriteria } from "../../src/enrolment/room-learner.js";
import { DEFAULT_VOICE_SEPARATION, voiceSeparationFor } from "../../src/identify/diarize.js";
import { consistencyWarningFor, liveIdentifierOptions, minMarginFor } from "../../src/identify/options.js";
import { DEFAULT_TRACKER_OPTIONS } from "../../src/identify/speaker-tracker.js";
import { cosineSpread, onEncoderScale, voiceChangeModel } from "../../src/identify/voice-change.js";
import { voiceGroupingPolicy } from "../../src/voices/voice-groups.js";

const identification = configSchema.parse({}).identification;

describe("settings for the running encoder", () => {
  it("leaves Resemblyzer's settings as they are written", () => {
    expect(cosineSpread("resemblyzer-0.1.4")).toBe(1);
    const { tracker } = liveIdentifierOptions(identification, 0.82, "resemblyzer-0.1.4");
    expect(tracker).toMatchObject({
      evidenceOffset: DEFAULT_TRACKER_OPTIONS.evidenceOffset,
      evidenceScale: DEFAULT_TRACKER_OPTIONS.evidenceScale,
      unknownMargin: DEFAULT_TRACKER_OPTIONS.unknownMargin,
      minMargin: 0.05,
      voiceChange: voiceChangeModel("resemblyzer-0.1.4"),
    });
    expect(minMarginFor(identification, "resemblyzer-0.1.4")).toBe(0.05);
    expect(consistencyWarningFor(0.75, 0.82, "resemblyzer-0.1.4")).toBe(0.75);
    expect(voiceSeparationFor("resemblyzer-0.1.4")).toEqual(DEFAULT_VOICE_SEPARATION);
    expect(voiceGroupingPolicy(0.82, "resemblyzer-0.1.4").join).toBeCloseTo(0.84, 10);
    expect(learningCriteria("resemblyzer-0.1.4")).toMatchObject({ aboveThreshold: 0.06, minMargin: 0.1 });
    // Its utterance voiceprint is its windows' mean: a turn is never heard whole again.
    expect(tracker.wholeTurn).toBeNull();
  });

  it("widens every margin written in Resemblyzer's cosines by CAM++'s measured spread", () => {
    // Same-voice windows spread 0.12 around their whole turn (calibrate:voice-change) against Resemblyzer's 0.055.
    const spread = cosineSpread("campplus-zh-en");
    expect(spread).toBeCloseTo(0.12 / 0.055, 10);
    const { tracker } = liveIdentifierOptions(identification, 0.5, "campplus-zh-en");
    expect(tracker.defaultThreshold).toBe(0.5);
    expect(tracker.evidenceOffset).toBeCloseTo(0.08 * spread, 10);
    expect(tracker.evidenceScale).toBeCloseTo(20 / spread, 10);
    expect(tracker.unknownMargin).toBeCloseTo(0.11 * spread, 10);
    expect(tracker.minMargin).toBeCloseTo(0.05 * spread, 10);
    expect(tracker.switchEvidence).toBe(DEFAULT_TRACKER_OPTIONS.switchEvidence);
    // A waveform encoder hears a turn not yet named whole, from 2 to 4 s of its speech.
    expect(tracker.wholeTurn).toMatchObject({ from: 2, until: 4, every: 0.4 });
    expect(tracker.wholeTurn?.aboveThreshold).toBeCloseTo(0.01 * spread, 10);
    // The voice-change model is its own fit: a window against the turn's windows it does not overlap.
    expect(tracker.voiceChange.same.mean).toBe(0.633);
    // 0.07 below Resemblyzer's threshold is 0.15 below CAM++'s.
    expect(consistencyWarningFor(0.75, 0.5, "campplus-zh-en")).toBe(0.35);
    expect(voiceGroupingPolicy(0.5, "campplus-zh-en").join).toBeCloseTo(0.5 + 0.02 * spread, 10);
    expect(learningCriteria("campplus-zh-en").minMargin).toBeCloseTo(0.1 * spread, 10);
    // The diarizer: the merge similarity and the closest pair's rule calibrated for CAM++, the rest moved
    // to its scale.
    expect(voiceSeparationFor("campplus-zh-en")).toEqual({
      mergeSimilarity: 0.565,
      minCleanWindows: 18,
      minWindows: 10,
      clean: "no-change",
      joinSimilarity: onEncoderScale(0.65, "campplus-zh-en"),
      firstGrouping: onEncoderScale(0.8, "campplus-zh-en"),
      likenessScale: 20 / spread,
      closestPair: { similarity: 0.369, margin: 0.153 },
    });
    // An encoder without settings of its own (ECAPA-TDNN) takes Resemblyzer's, on its scale.
    expect(voiceSeparationFor("ecapa-voxceleb").mergeSimilarity).toBeCloseTo(
      onEncoderScale(0.84, "ecapa-voxceleb"),
      10,
    );
    expect(onEncoderScale(0.855, "campplus-zh-en")).toBeCloseTo(0.729, 10);
  });

  it("keeps a margin of 0 off", () => {
    const off = configSchema.parse({ identification: { minMargin: 0 } }).identification;
    expect(minMarginFor(off, "campplus-zh-en")).toBeUndefined();
    expect(liveIdentifierOptions(off, 0.5, "campplus-zh-en").tracker.minMargin).toBe(0);
  });
});
