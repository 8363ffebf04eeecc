import { describe, expect, it } from "vitest";
import { deceptiveNameReason, lookAlikeKeys, looksAlike } from "../../src/registry/look-alike.js";

const alike = (a: string, b: string) => looksAlike(lookAlikeKeys(a), lookAlikeKeys(b));

describe("look-alike names", () => {
  it("are one name whatever their width, case, script of look-alike letters or spelling of ß", () => {
    for (const [a, b] of [
      ["Alice", "Ａｌｉｃｅ"], // fullwidth
      ["Alice", "\u0410lice"], // Cyrillic А
      ["Alice", "ALICE"],
      ["Alice", "AIice"], // a capital I for the l
      ["Alice", "A1ice"],
      ["Straße", "STRASSE"],
      ["Bob", "B0b"],
      ["Sam", "Sarn"], // rn for m
      ["Anne Marie", "Anne  Marie"],
      ["José", "Jose\u0301"], // composed or not
    ]) {
      expect(alike(a, b), `${a} / ${b}`).toBe(true);
    }
  });

  it("keeps names apart that read differently", () => {
    for (const [a, b] of [
      ["Ian", "Lan"], // folding case after the skeleton would make both "lan"
      ["Zoë", "Zoe"],
      ["Anna", "Anne"],
      ["Anne-Marie", "Anne Marie"],
      ["Jürgen", "Jurgen"],
      ["王芳", "王方"],
      ["Alice", "Alicia"],
    ]) {
      expect(alike(a, b), `${a} / ${b}`).toBe(false);
    }
  });

  it("says why a name mixing look-alike scripts, or hiding characters, deceives", () => {
    expect(deceptiveNameReason("\u0410lice")).toBe(
      "mixes Latin and Cyrillic letters, which look alike; write it in one script",
    );
    expect(deceptiveNameReason("Ωmega")).toBe(
      "mixes Latin and Greek letters, which look alike; write it in one script",
    );
    expect(deceptiveNameReason("Alice\u034f")).toBe("must not contain invisible characters");
    for (const fine of ["Alice", "Анна", "Ελένη", "王芳", "山田 太郎", "Zoë O'Brien", "Ａｌｉｃｅ"]) {
      expect(deceptiveNameReason(fine), fine).toBeNull();
    }
  });
});
