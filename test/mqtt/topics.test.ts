import { describe, expect, it } from "vitest";
import {
  announcementOf,
  buildTopics,
  InvalidTopicError,
  identifiedEventPayload,
  lastSpeakerPayload,
  speakerKey,
  speakerTopicLevel,
  speechEventPayload,
  type TimedDecision,
} from "../../src/mqtt/topics.js";

const started: TimedDecision = {
  type: "started",
  turnId: 1,
  voice: null,
  speaker: "Alice",
  speakerId: "alice",
  reason: null,
  score: 0.91,
  nearestSpeaker: "Alice",
  nearestSpeakerId: "alice",
  margin: 0.2,
  threshold: 0.82,
  scores: { alice: 0.912345, bob: 0.71 },
  startS: 12.5,
  durationS: 1.6,
  decidedAtS: 14.1,
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
    expect(t.lastHeard("alice")).toBe("voiceid/default/speaker/alice/last_heard");
    expect(t.listening).toBe("voiceid/default/listening");
    expect(t.listeningCommand).toBe("voiceid/default/listening/set");
    expect(t.diagnostics).toBe("voiceid/default/diagnostics");
  });

  it("slugs the room for topics, whatever it is called, and keeps the name as typed", () => {
    const t = buildTopics("voiceid", "Living Room");
    expect(t.availability).toBe("voiceid/living_room/status");
    expect(t.room).toBe("Living Room");
    expect(buildTopics("voiceid", "a/b+c#").event).toBe("voiceid/a_b_c/event");
    expect(buildTopics("voiceid", "Küche").event).toBe("voiceid/kuche/event");
  });

  it("accepts a multi-level base topic and a custom room", () => {
    const t = buildTopics("home/voiceid", "kitchen");
    expect(t.availability).toBe("home/voiceid/kitchen/status");
  });

  it.each([
    ["", "default"],
    ["voiceid/", "default"],
    ["voice+id", "default"],
    ["/voiceid", "default"],
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
  it("serialises a decision with room, ISO start time, stream positions and rounded scores", () => {
    const payload = speechEventPayload({ ...started, type: "stopped", durationS: 4.25 }, "kitchen");
    expect(payload).toEqual({
      type: "stopped",
      turnId: 1,
      room: "kitchen",
      speaker: "Alice",
      speakerId: "alice",
      reason: null,
      score: 0.91,
      nearestSpeaker: "Alice",
      nearestSpeakerId: "alice",
      margin: 0.2,
      threshold: 0.82,
      scores: { alice: 0.9123, bob: 0.71 },
      voice: null,
      startedAt: "2025-01-02T03:04:05.000Z",
      offsetS: 12.5,
      decidedAtS: 14.1,
      durationS: 4.25,
    });
  });

  it("claims a person, 'unrecognized' for a voice confidently nobody enrolled, and nothing otherwise", () => {
    expect(announcementOf(started)).toBe("alice");
    expect(announcementOf({ speakerId: null, reason: "unknown" })).toBe("unrecognized");
    for (const reason of ["pending", "uncertain", "too_short", "ignored"] as const) {
      expect(announcementOf({ speakerId: null, reason })).toBeNull();
    }
  });

  it("maps unidentified speech to the HA event type 'unrecognized'", () => {
    const at = new Date("2025-01-02T03:04:06.000Z");
    const unknown = { ...started, speaker: null, speakerId: null, reason: "unknown" as const };
    expect(identifiedEventPayload(unknown, "default", at).event_type).toBe("unrecognized");
    // The same stranger again: the voice they were kept as is an attribute of the HA event.
    expect(identifiedEventPayload({ ...unknown, voice: "voice-3" }, "default", at)).toMatchObject({
      event_type: "unrecognized",
      voice: "voice-3",
    });
    expect(identifiedEventPayload(started, "default", at)).toMatchObject({
      event_type: "alice",
      speaker: "Alice",
    });
    expect(lastSpeakerPayload(unknown, at)).toEqual({
      speaker: null,
      speakerId: null,
      score: 0.91,
      turnId: 1,
      at: "2025-01-02T03:04:06.000Z",
    });
  });
});
