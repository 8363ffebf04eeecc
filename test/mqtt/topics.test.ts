import { describe, expect, it } from "vitest";
import {
  buildTopics,
  InvalidTopicError,
  identifiedEventPayload,
  lastSpeakerPayload,
  type SpeechEvent,
  speakerKey,
  speakerTopicLevel,
  speechEventPayload,
} from "../../src/mqtt/topics.js";

const started: SpeechEvent = {
  type: "started",
  segmentId: "seg-1",
  speaker: "Alice",
  speakerId: "alice",
  reason: null,
  score: 0.91,
  nearestSpeaker: "Alice",
  nearestSpeakerId: "alice",
  margin: 0.2,
  threshold: 0.82,
  startedAt: new Date("2025-01-02T03:04:05.000Z"),
};

describe("buildTopics", () => {
  it("defaults to voiceid/default and puts everything under <base>/<room>", () => {
    const t = buildTopics();
    expect(t.availability).toBe("voiceid/default/status");
    expect(t.event).toBe("voiceid/default/event");
    expect(t.identified).toBe("voiceid/default/identified");
    expect(t.lastSpeaker).toBe("voiceid/default/last_speaker");
    expect(t.talking("alice")).toBe("voiceid/default/speaker/alice/talking");
  });

  it("accepts a multi-level base topic and a custom room", () => {
    const t = buildTopics("home/voiceid", "kitchen");
    expect(t.availability).toBe("home/voiceid/kitchen/status");
  });

  it.each([
    ["", "default"],
    ["voiceid/", "default"],
    ["voice+id", "default"],
    ["voiceid", "a/b"],
    ["voiceid", "#"],
    ["voiceid", ""],
  ])("rejects base %j with room %j", (base, room) => {
    expect(() => buildTopics(base, room)).toThrow(InvalidTopicError);
  });

  it("percent-encodes speaker ids that are not topic-safe, losslessly", () => {
    expect(speakerTopicLevel("a/b")).toBe("a%2Fb");
    expect(speakerTopicLevel("a+#")).toBe("a%2B%23");
    expect(speakerTopicLevel("a/b")).not.toBe(speakerTopicLevel("a_b"));
    expect(() => speakerTopicLevel("")).toThrow(InvalidTopicError);
  });

  it("gives distinct discovery keys to ids that slugify alike", () => {
    expect(speakerKey("alice_1")).toBe("alice_1");
    expect(speakerKey("Bob Smith")).toMatch(/^bob_smith_[0-9a-f]{8}$/);
    expect(speakerKey("bob smith")).not.toBe(speakerKey("Bob Smith"));
  });
});

describe("payloads", () => {
  it("serialises a speech event with room and ISO start time", () => {
    const payload = speechEventPayload({ ...started, type: "stopped", durationS: 1.5 }, "kitchen");
    expect(payload).toEqual({
      type: "stopped",
      segmentId: "seg-1",
      room: "kitchen",
      speaker: "Alice",
      speakerId: "alice",
      reason: null,
      score: 0.91,
      nearestSpeaker: "Alice",
      nearestSpeakerId: "alice",
      margin: 0.2,
      threshold: 0.82,
      startedAt: "2025-01-02T03:04:05.000Z",
      durationS: 1.5,
    });
    expect("durationS" in speechEventPayload(started, "kitchen")).toBe(false);
  });

  it("maps unidentified speech to the HA event type 'unknown'", () => {
    const at = new Date("2025-01-02T03:04:06.000Z");
    const unknown = { ...started, speaker: null, speakerId: null, reason: "unknown" as const };
    expect(identifiedEventPayload(unknown, "default", at).event_type).toBe("unknown");
    expect(identifiedEventPayload(started, "default", at)).toMatchObject({
      event_type: "alice",
      speaker: "Alice",
    });
    expect(lastSpeakerPayload(unknown, at)).toEqual({
      speaker: null,
      speakerId: null,
      score: 0.91,
      segmentId: "seg-1",
      at: "2025-01-02T03:04:06.000Z",
    });
  });
});
