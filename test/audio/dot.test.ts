import { describe, expect, it } from "vitest";
import { createDotWorkspace, simdAvailable } from "../../src/audio/dot.js";

describe("DotWorkspace", () => {
  it("uses WebAssembly SIMD on this Node", () => {
    expect(simdAvailable()).toBe(true);
    expect(createDotWorkspace(8, 8).simd).toBe(true);
    expect(createDotWorkspace(8, 8, false).simd).toBe(false);
  });

  it("SIMD and JS dot products agree to float32 precision, for any offsets", () => {
    const simd = createDotWorkspace(300, 2000);
    const js = createDotWorkspace(300, 2000, false);
    for (let i = 0; i < 300; i++) simd.table[i] = js.table[i] = Math.sin(i * 0.37);
    for (let i = 0; i < 2000; i++) simd.signal[i] = js.signal[i] = Math.cos(i * 0.011) - 0.2;
    expect(simd.dot(0, 0, 0)).toBe(0);
    for (const [t, s, n] of [
      [0, 0, 8],
      [3, 5, 16],
      [1, 1001, 224],
      [40, 7, 256],
    ]) {
      let exact = 0;
      let scale = 0;
      for (let i = 0; i < n; i++) {
        exact += js.table[t + i] * js.signal[s + i];
        scale += Math.abs(js.table[t + i] * js.signal[s + i]);
      }
      expect(Math.abs(js.dot(t, s, n) - exact)).toBeLessThan(1e-12 * scale);
      expect(Math.abs(simd.dot(t, s, n) - exact)).toBeLessThan(1e-6 * scale);
    }
  });

  it("keeps table and signal contents when the signal region grows", () => {
    for (const ws of [createDotWorkspace(16, 10), createDotWorkspace(16, 10, false)]) {
      ws.table.fill(2);
      ws.signal.set([1, 2, 3, 4, 5, 6, 7, 8]);
      ws.ensureSignalCapacity(200_000);
      expect(ws.signal.length).toBeGreaterThanOrEqual(200_000);
      expect(Array.from(ws.signal.subarray(0, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(ws.dot(0, 0, 8)).toBe(72);
    }
  });
});
