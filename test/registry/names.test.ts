import { describe, expect, it } from "vitest";
import { InvalidSpeakerNameError } from "../../src/registry/errors.js";
import {
  assertNewSpeakerName,
  normalizeSpeakerName,
  slugify,
  uniqueSpeakerId,
} from "../../src/registry/names.js";

describe("speaker names", () => {
  it("trims and NFC-normalises valid names", () => {
    expect(normalizeSpeakerName("  Anne-Marie  ")).toBe("Anne-Marie");
    // "e" + combining acute -> precomposed "é"
    expect(normalizeSpeakerName("Rene\u0301")).toBe("René");
    expect(normalizeSpeakerName("J.R.R. O'Neil_3")).toBe("J.R.R. O'Neil_3");
  });

  it("says what is wrong with invalid names", () => {
    expect(() => normalizeSpeakerName("")).toThrow(/must not be empty/);
    expect(() => normalizeSpeakerName("a\u0007b")).toThrow(/control characters/);
    expect(() => normalizeSpeakerName("x".repeat(65))).toThrow(/at most 64/);
    expect(() => normalizeSpeakerName("a+b")).toThrow(/may only contain/);
    expect(() => normalizeSpeakerName(42)).toThrow(InvalidSpeakerNameError);
  });

  it("slugifies to ASCII and makes ids unique", () => {
    expect(slugify("Zoë  O'Brien")).toBe("zoe-o-brien");
    expect(slugify("--Ångström--")).toBe("angstrom");
    expect(slugify("王芳")).toBe("speaker");
    expect(slugify("a".repeat(64))).toHaveLength(48);
    expect(uniqueSpeakerId("Alice", new Set(["alice", "alice-2"]))).toBe("alice-3");
    expect(uniqueSpeakerId("Alice", new Set(["bob"]))).toBe("alice");
    // "unknown" is the Home Assistant event type of unrecognised voices: a person named so gets another id.
    expect(uniqueSpeakerId("Unknown", new Set())).toBe("unknown-2");
  });

  it("refuses, for a new name, the words Home Assistant and voiceid show for no one in particular", () => {
    for (const name of [
      "unknown",
      "Unknown",
      "ＵＮＫＮＯＷＮ",
      "unrecognized",
      "Unrecognised",
      "uncertain",
      "pending",
      "Too Short",
      "too_short",
      "None",
      "nobody",
      "No-Body",
      "Unavailable",
    ]) {
      expect(() => assertNewSpeakerName(name), name).toThrow(
        /reads as "[a-z ]+", which Home Assistant or voiceid shows for no one in particular; choose another name$/,
      );
    }
    for (const name of ["unknown-1", "Unknown 2", "unknown_12"]) {
      expect(() => assertNewSpeakerName(name), name).toThrow(/reads like "unknown-1"/);
    }
    expect(() => assertNewSpeakerName("\u0410lice")).toThrow(InvalidSpeakerNameError);
    for (const name of ["Alice", "Noné", "Nobody Jones", "Unknown Pleasures", "Penny"]) {
      expect(() => assertNewSpeakerName(name), name).not.toThrow();
    }
  });
});
