import { describe, expect, it } from "vitest";
import { intervalVerdict, pooledInterval, slopeInterval } from "../../scripts/bench/interval.js";

describe("pooledInterval", () => {
  it("pools the streams' shares by their weights", () => {
    const { estimate } = pooledInterval([
      { share: 0.5, weight: 1 },
      { share: 1, weight: 3 },
    ]);
    expect(estimate).toBeCloseTo(0.875, 12);
  });

  it("gives Student's 90 % interval of the ratio over the streams (worked by hand), within 0-1", () => {
    // Mean 0.9; standard error sqrt(3/2 * 0.02) / 3 = 0.05774; t(0.95, 2 df) = 2.920.
    const i = pooledInterval([0.8, 0.9, 1].map((share) => ({ share, weight: 1 })));
    expect(i.estimate).toBeCloseTo(0.9, 12);
    expect(i.low).toBeCloseTo(0.9 - 2.92 * 0.057735, 4);
    expect(i.high).toBe(1);
  });

  it("narrows as streams with the same scatter are added, and is a point for one stream", () => {
    const streams = (n: number) =>
      Array.from({ length: n }, (_, k) => ({ share: k % 2 === 0 ? 0.85 : 0.95, weight: 60 }));
    const width = (n: number) => {
      const i = pooledInterval(streams(n));
      return i.high - i.low;
    };
    expect(width(10)).toBeLessThan(width(4));
    expect(width(4)).toBeLessThan(width(2));
    expect(pooledInterval(streams(1))).toEqual({ estimate: 0.85, low: 0.85, high: 0.85 });
  });
});

describe("intervalVerdict", () => {
  const interval = { estimate: 0.9, low: 0.86, high: 0.94 };
  it("passes or misses only when the whole interval is on one side of the goal", () => {
    expect(intervalVerdict(interval, 0.8, "at least")).toBe("PASS");
    expect(intervalVerdict(interval, 0.95, "at least")).toBe("MISS");
    expect(intervalVerdict(interval, 0.95, "at most")).toBe("PASS");
    expect(intervalVerdict(interval, 0.8, "at most")).toBe("MISS");
  });

  it("is unsure when the interval straddles the goal, whichever side the estimate is on", () => {
    expect(intervalVerdict(interval, 0.92, "at least")).toBe("UNSURE");
    expect(intervalVerdict(interval, 0.88, "at least")).toBe("UNSURE");
    expect(intervalVerdict(interval, 0.88, "at most")).toBe("UNSURE");
  });
});

describe("slopeInterval", () => {
  it("gives the least-squares slope and Student's 90 % interval (worked by hand)", () => {
    // x 0..3, y 1, 3, 2, 5: slope 5.5 / 5 = 1.1; squared residuals 2.7 on 2 df: SE sqrt(2.7 / 2 / 5) = 0.5196.
    const i = slopeInterval([1, 3, 2, 5].map((y, x) => ({ x, y })));
    expect(i.estimate).toBeCloseTo(1.1, 12);
    expect(i.low).toBeCloseTo(1.1 - 2.92 * 0.519615, 4);
    expect(i.high).toBeCloseTo(1.1 + 2.92 * 0.519615, 4);
  });

  it("is a point on a straight line, and refuses fewer than 3 points", () => {
    expect(slopeInterval([0, 1, 2].map((x) => ({ x, y: 4 - 2 * x })))).toEqual({
      estimate: -2,
      low: -2,
      high: -2,
    });
    expect(() =>
      slopeInterval([
        { x: 0, y: 0 },
        { x: 1, y: 1 },
      ]),
    ).toThrow(RangeError);
  });
});
