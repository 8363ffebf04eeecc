import { describe, expect, it } from "vitest";
import type { Decision, DecisionReason, DecisionType } from "../../src/identify/decision.js";
import { IgnoredVoiceGate } from "../../src/voices/ignored-voice-gate.js";

function d(
  type: DecisionType,
  turnId: number,
  reason: DecisionReason | null,
  speakerId: string | null = null,
): Decision {
  return {
    type,
    turnId,
    speakerId,
    speaker: speakerId,
    reason,
    score: null,
    margin: null,
    threshold: 0.82,
    nearestSpeakerId: null,
    nearestSpeaker: null,
    scores: {},
    voice: reason === "ignored" ? "voice-1" : null,
    startS: 0,
    durationS: 0,
    decidedAtS: 0,
  };
}

describe("the gate in front of Home Assistant", () => {
  it("passes everything at once while no voice is ignored", () => {
    const gate = new IgnoredVoiceGate(() => false);
    expect(gate.admit(d("started", 1, "pending"))).toHaveLength(1);
    expect(gate.admit(d("stopped", 1, "unknown"))).toHaveLength(1);
  });

  it("drops every decision of an ignored voice's turn, the pending start included", () => {
    const gate = new IgnoredVoiceGate(() => true);
    expect(gate.admit(d("started", 1, "pending"))).toEqual([]);
    expect(gate.admit(d("updated", 1, "ignored"))).toEqual([]);
    expect(gate.admit(d("stopped", 1, "ignored"))).toEqual([]);
  });

  it("releases a held start, in order, as soon as the turn is named, and then passes the rest", () => {
    const gate = new IgnoredVoiceGate(() => true);
    gate.admit(d("started", 2, "pending"));
    const named = gate.admit(d("updated", 2, null, "alice"));
    expect(named.map((x) => x.type)).toEqual(["started", "updated"]);
    expect(gate.admit(d("stopped", 2, null, "alice")).map((x) => x.type)).toEqual(["stopped"]);
  });

  it("releases a turn that ends without a name (too short, uncertain) with its start", () => {
    const gate = new IgnoredVoiceGate(() => true);
    gate.admit(d("started", 3, "pending"));
    expect(gate.admit(d("stopped", 3, "too_short")).map((x) => x.type)).toEqual(["started", "stopped"]);
  });
});
