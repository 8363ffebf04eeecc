import { describe, expect, it } from "vitest";
import { quoteInput } from "../../src/util/quote.js";

describe("quoteInput", () => {
  it("quotes short input whole and escaped", () => {
    expect(quoteInput('Al"ice\n')).toBe('"Al\\"ice\\n"');
  });

  it("cuts long input to a prefix with its length, never inside a surrogate pair", () => {
    expect(quoteInput("x".repeat(19 * 1024 * 1024))).toBe(`"${"x".repeat(40)}"… (19922944 characters)`);
    expect(quoteInput(`${"x".repeat(39)}😀😀`)).toBe(`"${"x".repeat(39)}"… (43 characters)`);
    expect(quoteInput("abcdef", 3)).toBe('"abc"… (6 characters)');
  });
});
