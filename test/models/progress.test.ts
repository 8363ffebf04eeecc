import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { formatBytes, streamProgress } from "../../src/models/progress.js";

function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY });
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe("progress reporting", () => {
  it("writes periodic plain lines when stderr is not a terminal", () => {
    let now = 0;
    const { stream, text } = capture(false);
    const p = streamProgress(stream, { lineIntervalMs: 1000, clock: () => now }).start(
      "model.onnx",
      4 * 1024 * 1024,
    );
    p.update(1024 * 1024); // too soon for a line
    now = 1500;
    p.update(2 * 1024 * 1024);
    now = 1700;
    p.update(3 * 1024 * 1024); // too soon again
    p.update(4 * 1024 * 1024);
    p.end();
    p.end(); // idempotent
    expect(text().split("\n")).toEqual([
      "model.onnx   0% (0 B of 4.0 MiB)",
      "model.onnx  50% (2.0 MiB of 4.0 MiB)",
      "model.onnx 100% (4.0 MiB of 4.0 MiB)",
      "",
    ]);
  });

  it("redraws one bar line on a terminal", () => {
    let now = 0;
    const { stream, text } = capture(true);
    const p = streamProgress(stream, { clock: () => now }).start("x", 2048);
    now = 200;
    p.update(1024);
    p.end();
    const out = text();
    expect(out).toContain("\rx [###############---------------]  50% 1.0 KiB/2.0 KiB\x1b[K");
    expect(out.endsWith("\rx [###############---------------]  50% 1.0 KiB/2.0 KiB\x1b[K\n")).toBe(true);
    expect(out.split("\n")).toHaveLength(2);
  });

  it("shows bytes only when the total is unknown", () => {
    const { stream, text } = capture(false);
    const p = streamProgress(stream, { clock: () => 0 }).start("y", undefined);
    p.update(512);
    p.end();
    expect(text()).toBe("y 0 B\ny 512 B\n");
  });

  it("formats sizes", () => {
    expect(formatBytes(12)).toBe("12 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(17090379)).toBe("16.3 MiB");
  });
});
