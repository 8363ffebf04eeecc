import { describe, expect, it } from "vitest";
import {
  cosSinOfTurn,
  portableExp,
  portableLog,
  portablePow,
} from "../../../src/models/onnx/portable-math.js";

describe("portable math (the same bits on every machine)", () => {
  it("gives cos and sin of any fraction of a turn to 4e-15, exact where they are exact", () => {
    let worst = 0;
    for (const den of [7, 399, 512, 1000])
      for (let n = -3 * den; n < 3 * den; n++) {
        const [c, s] = cosSinOfTurn(n, den);
        const angle = (2 * Math.PI * n) / den;
        worst = Math.max(worst, Math.abs(c - Math.cos(angle)), Math.abs(s - Math.sin(angle)));
      }
    expect(worst).toBeLessThan(4e-15);
    // (+ 0 makes -0 and 0 one value.)
    const exact = (n: number) => cosSinOfTurn(n, 512).map((v) => v + 0);
    expect([exact(0), exact(128), exact(256), exact(384)]).toEqual([
      [1, 0],
      [0, 1],
      [-1, 0],
      [0, -1],
    ]);
  });

  it("gives ln, exp and powers to a few units in the last place", () => {
    for (let x = 1e-6; x < 1e6; x *= 1.37) {
      expect(Math.abs(portableLog(x) - Math.log(x))).toBeLessThan(1e-15 * Math.max(1, Math.abs(Math.log(x))));
      expect(Math.abs(portableExp(Math.log(x)) - x) / x).toBeLessThan(4e-15);
    }
    for (let x = 0; x <= 1; x += 1 / 64)
      expect(Math.abs(portablePow(x, 0.85) - x ** 0.85)).toBeLessThan(2e-15);
    expect(() => portableLog(0)).toThrow(RangeError);
  });
});
