import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../../src/util/log.js";

function captured(run: () => void): string[] {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe("log lines", () => {
  it("start with an ISO timestamp when not under journald, which stamps lines itself", () => {
    const [plain] = captured(() =>
      createLogger("info", "voiceid", true).child("http").warn("hello", { a: 1 }),
    );
    expect(plain).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}\[voiceid:http\] hello \{"a":1\}\n$/,
    );
    const [journal] = captured(() => createLogger("info", "voiceid", false).info("hello"));
    expect(journal).toBe("INFO  [voiceid] hello\n");
  });

  it("decide by JOURNAL_STREAM, which systemd sets for the service", () => {
    const saved = process.env.JOURNAL_STREAM;
    try {
      process.env.JOURNAL_STREAM = "8:12345";
      expect(captured(() => createLogger().info("x"))[0]).toBe("INFO  [voiceid] x\n");
      delete process.env.JOURNAL_STREAM;
      expect(captured(() => createLogger().info("x"))[0]).toMatch(/^\d{4}-.*Z INFO {2}\[voiceid\] x\n$/);
    } finally {
      if (saved === undefined) delete process.env.JOURNAL_STREAM;
      else process.env.JOURNAL_STREAM = saved;
    }
  });
});
