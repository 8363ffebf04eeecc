import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import type { Logger } from "../../src/util/log.js";
import { silentLogger } from "../../src/util/log.js";
import { librispeechWav } from "../helpers/paths.js";
import { readWav16kMono } from "../vad/helpers.js";
import { startDaemonInProcess } from "./helpers.js";

/** The mute switch through the HTTP API of a real daemon (real models, stdin input, real server). */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function startDaemon(dataDir: string, logger: Logger = silentLogger) {
  const started = await startDaemonInProcess(dataDir, {}, logger);
  cleanups.push(() => started.stop());
  return started;
}

async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "voiceid-listening-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/api/listening`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });

describe("POST /api/listening", () => {
  it("mutes and unmutes, shows it in /health, and keeps it across a restart", async () => {
    // A first run: the data directory does not exist yet.
    const dataDir = path.join(await newDataDir(), "not-yet-created");
    const first = await startDaemon(dataDir);
    expect(await (await fetch(`${first.url}/api/listening`)).json()).toMatchObject({ listening: true });

    const off = await post(first.url, JSON.stringify({ listening: false }));
    expect(off.status).toBe(200);
    const state = (await off.json()) as { listening: boolean; changedAt: string };
    expect(state.listening).toBe(false);
    expect(Date.parse(state.changedAt)).toBeGreaterThan(Date.now() - 10_000);
    const health = await fetch(`${first.url}/health`);
    // Muted on purpose is not a fault.
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      listening: { listening: false },
      components: { audio: { state: "disabled", detail: expect.stringMatching(/muted/) } },
    });
    // Recording from the live input is refused while muted, and nothing is enrolled.
    const created = await fetch(`${first.url}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Dora" }),
    });
    expect(created.status).toBe(201);
    const record = await fetch(`${first.url}/api/speakers/dora/record`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seconds: 3 }),
    });
    expect(record.status).toBe(409);
    expect(await record.json()).toMatchObject({ error: { code: "not_listening" } });

    await first.daemon.stop();
    const second = await startDaemon(dataDir);
    expect(second.daemon.health().listening.listening).toBe(false);
    const on = await post(second.url, JSON.stringify({ listening: true }));
    expect(await on.json()).toMatchObject({ listening: true });
    expect(second.daemon.health().components.audio.state).not.toBe("disabled");
    expect(JSON.parse(await readFile(path.join(dataDir, "listening.json"), "utf8"))).toMatchObject({
      listening: true,
    });
  });

  it("dates turns after listening resumed from when it resumed", async () => {
    const { url, stdin } = await startDaemon(await newDataDir());
    const raw = (samples: Float32Array) => encodePcm16Wav(samples, 16_000).subarray(44);
    stdin.write(raw(new Float32Array(16_000))); // the stream's clock starts here
    await new Promise((r) => setTimeout(r, 300));
    await post(url, JSON.stringify({ listening: false }));
    await new Promise((r) => setTimeout(r, 1500));
    await post(url, JSON.stringify({ listening: true }));
    const resumedAt = Date.now();
    const events = await fetch(`${url}/api/events`);
    const reader = events.body!.getReader();
    stdin.write(raw(readWav16kMono(librispeechWav("1040-133433-0000.wav")).subarray(0, 3 * 16_000)));
    stdin.write(raw(new Float32Array(3 * 16_000)));
    let text = "";
    while (!text.includes("event: detection")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const data = /event: detection\ndata: (.*)\n/.exec(text)?.[1];
    expect(data).toBeDefined();
    expect(Date.parse(JSON.parse(data!).startedAt)).toBeGreaterThanOrEqual(resumedAt - 50);
  });

  it("refuses bad bodies and other sites' pages, and changes nothing", async () => {
    const { url, daemon } = await startDaemon(await newDataDir());
    const cases: Array<[number, Response]> = [
      [415, await post(url, JSON.stringify({ listening: false }), { "Content-Type": "text/plain" })],
      [400, await post(url, JSON.stringify({ listening: "no" }))],
      [400, await post(url, JSON.stringify({ listening: false, extra: 1 }))],
      [400, await post(url, "{")],
      [403, await post(url, JSON.stringify({ listening: false }), { "Sec-Fetch-Site": "cross-site" })],
      [403, await post(url, JSON.stringify({ listening: false }), { Origin: "http://evil.example" })],
    ];
    for (const [status, res] of cases) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBeTruthy();
    }
    expect(daemon.health().listening.listening).toBe(true);
  });

  it("stays muted, with a warning, when listening.json cannot be understood", async () => {
    const dataDir = await newDataDir();
    await writeFile(path.join(dataDir, "listening.json"), "{ not json");
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m), child: () => logger };
    const { daemon } = await startDaemon(dataDir, logger);
    expect(daemon.health().listening.listening).toBe(false);
    expect(warnings.some((w) => /listening\.json is not valid/.test(w))).toBe(true);
  });
});
