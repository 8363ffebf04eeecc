import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CommandSource } from "../../../src/audio/sources/microphone.js";
import type { Logger } from "../../../src/util/log.js";
import { silentLogger } from "../../../src/util/log.js";
import { childPids, concat, mismatches, s16ToFloat, UTTERANCE, waitFor, wavPayload } from "./helpers.js";

/** Pids of the processes in process group `pgid` (what the command started, its shell included). */
async function processGroup(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // state ppid pgrp ...; a zombie is gone but for its exit status.
      if (Number(fields[2]) === pgid && fields[0] !== "Z") pids.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return pids;
}

/** A command's standard output as a live input (a network stream through ffmpeg, say): real processes. */

let dir: string;
let raw: string;
let expected: Float32Array;
const sources: CommandSource[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "voiceid-command-"));
  raw = join(dir, "stream.raw");
  const payload = await wavPayload(UTTERANCE);
  await writeFile(raw, payload);
  expected = s16ToFloat(payload);
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function command(line: string, logger: Logger = silentLogger): CommandSource {
  const source = new CommandSource({
    command: line,
    sampleRate: 16000,
    channels: 1,
    restartBackoffMs: { min: 100, max: 400 },
    logger,
  });
  sources.push(source);
  return source;
}

describe("CommandSource", () => {
  it("delivers exactly what the command writes, and restarts it when it exits", async () => {
    // The stream, then the command ends (a camera dropping the connection): it is run again.
    const source = command(`cat '${raw}'`);
    const byRun: Float32Array[][] = [[], []];
    source.onAudio((chunk) => {
      const run = source.status().restarts;
      if (run < 2) byRun[run].push(chunk);
    });
    await source.start();
    await waitFor(
      "the stream again after a restart",
      () => concat(byRun[1]).length >= expected.length,
      15_000,
    );
    expect(source.kind).toBe("command");
    expect(mismatches(concat(byRun[0]), expected)).toBe(0);
    expect(mismatches(concat(byRun[1]).subarray(0, expected.length), expected)).toBe(0);
    expect(source.status().lastError).toMatch(/\/bin\/sh exited with code 0/);
  });

  it("stop() ends the command's processes, and its command line is never logged", async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      info: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      warn: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      error: (m, f) => lines.push(`${m} ${JSON.stringify(f)}`),
      child: () => logger,
    };
    // A paced stream of silence that never ends on its own; the password stands for a camera's. The loop
    // runs in a subshell, which would outlive a signal to the shell alone.
    const source = command(
      "PASSWORD=secret; (while true; do head -c 3200 /dev/zero; sleep 0.1; done)",
      logger,
    );
    let audio = 0;
    source.onAudio((c) => {
      audio += c.length;
    });
    await source.start();
    await waitFor("audio", () => audio >= 3200);
    expect(source.status()).toMatchObject({ state: "running", restarts: 0 });
    const [shell] = await childPids("sh");
    expect(shell).toBeGreaterThan(0);
    expect((await processGroup(shell)).length).toBeGreaterThan(1); // the shell and its head or sleep
    await source.stop();
    // Signalled together with the shell; give them the moment to go.
    for (let i = 0; i < 40 && (await processGroup(shell)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await processGroup(shell)).toEqual([]);
    expect(source.status().state).toBe("stopped");
    expect(lines.join("\n")).not.toContain("secret");
  });
});
