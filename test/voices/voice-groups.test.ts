import { describe, expect, it } from "vitest";
import { groupTurn, type KeptTurn, type KeptVoice, nearestVoice } from "../../src/voices/voice-groups.js";

const policy = { join: 0.82 };
let n = 0;
/** A unit vector at `angle` degrees in the plane of the first two axes. */
function turn(angle: number): KeptTurn {
  const v = new Float32Array(4);
  v[0] = Math.cos((angle * Math.PI) / 180);
  v[1] = Math.sin((angle * Math.PI) / 180);
  n++;
  return {
    key: `k${n}`,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    room: "kitchen",
    speechSeconds: 4,
    durationSeconds: 4,
    voiceprint: v,
    clip: null,
  };
}

function idGen() {
  let next = 1;
  return () => `voice-${next++}`;
}

describe("grouping turns into voices", () => {
  it("joins a turn as close as a person must be to be named, and begins a new voice otherwise", () => {
    const voices: KeptVoice[] = [];
    const newId = idGen();
    // cos 20° = 0.94 joins; cos 60° = 0.5 does not.
    expect(groupTurn(voices, turn(0), policy, newId).id).toBe("voice-1");
    expect(groupTurn(voices, turn(20), policy, newId).id).toBe("voice-1");
    expect(groupTurn(voices, turn(80), policy, newId).id).toBe("voice-2");
    expect(voices.map((v) => v.turns.length)).toEqual([2, 1]);
  });

  it("merges two voices that come together, keeping the older id", () => {
    const voices: KeptVoice[] = [];
    const newId = idGen();
    groupTurn(voices, turn(0), policy, newId); // voice-1 at 0°
    groupTurn(voices, turn(40), policy, newId); // voice-2 at 40°: cos 40° = 0.77, another voice
    expect(voices.map((v) => v.id)).toEqual(["voice-1", "voice-2"]);
    // A turn between them moves the centroid it joins to 10° or 30°: 30° from the other, cos 0.87.
    groupTurn(voices, turn(20), policy, newId);
    expect(voices.map((v) => v.id)).toEqual(["voice-1"]);
    expect(voices[0].turns).toHaveLength(3);
    // The merged turns stay in time order.
    expect(voices[0].turns.map((t) => t.at)).toEqual([...voices[0].turns.map((t) => t.at)].sort());
  });

  it("never adds a turn to an ignored voice, nor merges one", () => {
    const voices: KeptVoice[] = [];
    const newId = idGen();
    groupTurn(voices, turn(0), policy, newId);
    voices[0].ignored = true;
    expect(groupTurn(voices, turn(5), policy, newId).id).toBe("voice-2");
    expect(voices).toHaveLength(2);
    expect(nearestVoice(voices, turn(0).voiceprint, policy)?.id).toBe("voice-2");
  });
});
