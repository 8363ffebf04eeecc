import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { defaultThresholdOf } from "../../src/embedding/encoder-models.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { freePort } from "../helpers/mosquitto.js";
import { librispeechWav } from "../helpers/paths.js";
import { pcm16, sendCommand, startReferenceUpstream } from "../wyoming/helpers.js";
import { chromiumMissing, openBrowser, startPageDaemon } from "./helpers.js";

/**
 * The web page's recent voice commands, in a real browser, after real commands through the daemon's
 * Wyoming proxy (gate mode) from the reference client, with the reference server as the upstream.
 */
const missing = chromiumMissing();
if (missing) throw new Error(`${missing}; the web page tests need it (.ci/run installs it)`);

const speech = (file: string) => readWavAs16kMono(readFileSync(librispeechWav(file)));
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("the web page's voice commands", () => {
  it("lists who gave each command, the score, the mode and whether it was forwarded, without transcripts", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "voiceid-web-commands-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const upstream = await startReferenceUpstream(dir);
    cleanups.push(() => upstream.stop());
    const listen = `tcp://127.0.0.1:${await freePort()}`;
    const daemon = await startPageDaemon({
      "wyoming.enabled": true,
      "wyoming.listen": listen,
      "wyoming.upstream": upstream.uri,
      "wyoming.mode": "gate",
    });
    cleanups.push(() => daemon.stop());

    const alice = speech("198-126831-0000.wav");
    const half = alice.length >> 1;
    const created = await fetch(`${daemon.url}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Alice" }),
    });
    expect(created.status).toBe(201);
    const sample = await fetch(`${daemon.url}/api/speakers/alice/samples`, {
      method: "POST",
      headers: { "Content-Type": "audio/wav" },
      body: encodePcm16Wav(alice.subarray(0, half), 16_000),
    });
    expect(sample.status).toBe(201);

    const visitor = speech("441-128982-0000.wav").subarray(16_000, 16_000 * 4);
    expect(await sendCommand(listen, pcm16(visitor), dir)).toEqual({ text: "" });
    const command = pcm16(alice.subarray(half + 8000, half + 8000 + 16_000 * 3));
    expect((await sendCommand(listen, command, dir)).text).toBe(`heard ${command.length} bytes`);

    const browser = await openBrowser(daemon.url, encodePcm16Wav(new Float32Array(16_000), 16_000));
    cleanups.push(() => browser.close());
    const { page } = browser;
    const rows = page.locator("#commands tbody tr");
    await expect.poll(() => rows.count()).toBe(2);
    const cells = async (i: number) => rows.nth(i).locator("td").allTextContents();
    const [newest, oldest] = [await cells(0), await cells(1)];
    expect(newest[1]).toBe("Alice");
    expect(Number(newest[2])).toBeGreaterThanOrEqual(defaultThresholdOf("campplus-zh-en"));
    expect(newest.slice(3)).toEqual(["gate", "yes"]);
    expect(["someone not enrolled", "not sure"]).toContain(oldest[1]);
    expect(oldest.slice(3)).toEqual(["gate", "no"]);
    // Transcripts are private unless wyoming.showTranscripts: neither on the page nor in the API.
    expect(await page.locator("#commands-transcript-h").isHidden()).toBe(true);
    const api = (await (await fetch(`${daemon.url}/api/commands`)).json()) as {
      showTranscripts: boolean;
      commands: Array<{ transcript: string | null }>;
    };
    expect(api.showTranscripts).toBe(false);
    expect(api.commands.map((c) => c.transcript)).toEqual([null, null]);
  }, 90_000);

  it("keeps the section hidden when the proxy is off", async () => {
    const daemon = await startPageDaemon();
    cleanups.push(() => daemon.stop());
    expect((await fetch(`${daemon.url}/api/commands`)).status).toBe(404);
    const browser = await openBrowser(daemon.url, encodePcm16Wav(new Float32Array(16_000), 16_000));
    cleanups.push(() => browser.close());
    // The page asks at start and every 5 s: once it was answered 404, the section stays hidden.
    const answer = () => browser.page.waitForResponse((r) => r.url().endsWith("/api/commands"));
    expect((await answer()).status()).toBe(404);
    // The next refresh comes after the first answer was handled.
    await answer();
    expect(await browser.page.locator("#commands-section").isHidden()).toBe(true);
  });
});
