import { describe, expect, it } from "vitest";
import type { VoiceCommand } from "../../src/wyoming/command.js";
import { CommandLog, RECENT_COMMANDS } from "../../src/wyoming/command-log.js";

const command = (id: number): VoiceCommand => ({
  id,
  at: new Date(0).toISOString(),
  speakerId: "alice",
  speaker: "Alice",
  reason: null,
  score: 0.9,
  durationS: 2,
  mode: "gate",
  forwarded: true,
  forwardedS: 2,
  transcript: null,
});

describe("CommandLog", () => {
  it("keeps the newest commands first, at most RECENT_COMMANDS", () => {
    const log = new CommandLog(false);
    for (let i = 1; i <= RECENT_COMMANDS + 5; i++) log.add(command(i));
    const ids = log.recent().commands.map((c) => c.id);
    expect(ids).toHaveLength(RECENT_COMMANDS);
    expect(ids[0]).toBe(RECENT_COMMANDS + 5);
  });

  it("keeps transcripts only when asked to", () => {
    const hidden = new CommandLog(false);
    hidden.add(command(1));
    hidden.transcribed(command(1), "turn on the lights");
    expect(hidden.recent()).toMatchObject({ showTranscripts: false, commands: [{ transcript: null }] });
    const shown = new CommandLog(true);
    shown.add(command(1));
    shown.transcribed(command(1), "turn on the lights");
    expect(shown.recent()).toMatchObject({
      showTranscripts: true,
      commands: [{ transcript: "turn on the lights" }],
    });
  });
});
