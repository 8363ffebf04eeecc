import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runShipped } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(tmpdir(), "voiceid-household-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("voiceid household", () => {
  it("`household key` prints a new 64-hex key", async () => {
    const [a, b] = await Promise.all([runShipped(["household", "key"]), runShipped(["household", "key"])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(b.stdout).not.toBe(a.stdout);
  });

  it("the daemon refuses to start with share on and no key, saying what to do", async () => {
    const run = await runShipped(["run", "--input", "-", "--data-dir", path.join(dir, "data")], {
      env: { VOICEID_CONFIG: "", VOICEID__HOUSEHOLD__SHARE: "true", VOICEID_HTTP_PORT: "0" },
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/household\.share needs household\.key or household\.keyFile/);
    expect(run.stderr).toContain("voiceid household key");
  });

  it("and with a key that is not 64 hex digits", async () => {
    const run = await runShipped(["run", "--input", "-", "--data-dir", path.join(dir, "data")], {
      env: { VOICEID_CONFIG: "", VOICEID__HOUSEHOLD__SHARE: "true", VOICEID_HOUSEHOLD_KEY: "secret" },
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/household\.key.*64 hex digits/);
  });
});
