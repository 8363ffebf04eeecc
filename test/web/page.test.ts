import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { defaultThresholdOf } from "../../src/embedding/encoder-models.js";
import { ModelStack } from "../../src/embedding/stack.js";
import { ROOM_SIMULATION } from "../../src/enrolment/room-voiceprints.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { SpeakerRegistry } from "../../src/registry/registry.js";
import { silentLogger } from "../../src/util/log.js";
import { librispeechWav, modelsDir, repoRoot } from "../helpers/paths.js";
import { type Browser, chromiumMissing, openBrowser, type PageDaemon, startPageDaemon } from "./helpers.js";

/**
 * The web page in a real browser (Debian's Chromium, headless, its fake microphone playing real speech)
 * against the real daemon. VOICEID_SCREENSHOTS=1 also writes the README's screenshots.
 */
const missing = chromiumMissing();
if (missing) throw new Error(`${missing}; the web page tests need it (.ci/run installs it)`);

const screenshots = process.env.VOICEID_SCREENSHOTS ? path.join(repoRoot, "docs", "screenshots") : null;
const speech = (file: string) => readWavAs16kMono(readFileSync(librispeechWav(file)));
const wav = (samples: Float32Array) => encodePcm16Wav(samples, 16_000);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setUp(
  microphone: Float32Array,
  overrides: Record<string, unknown> = {},
): Promise<{ daemon: PageDaemon; browser: Browser }> {
  const daemon = await startPageDaemon(overrides);
  cleanups.push(() => daemon.stop());
  const browser = await openBrowser(daemon.url, wav(microphone));
  cleanups.push(() => browser.close());
  const errors: string[] = [];
  browser.page.on("pageerror", (e) => errors.push(e.message));
  cleanups.push(async () => expect(errors).toEqual([]));
  return { daemon, browser };
}

interface SpeakerJson {
  id: string;
  name: string;
  threshold: number | null;
  sampleCount: number;
  voiceprints: { enrolled: number; simulated: number; learned: number };
  samples: { source: string }[];
}

const speakersOf = async (daemon: PageDaemon, init?: RequestInit) =>
  ((await (await fetch(`${daemon.url}/api/speakers`, init)).json()) as { speakers: SpeakerJson[] }).speakers;

describe("the web page", () => {
  // About 35 s of real-time recording and listening: a longer timeout, for a slow CI machine.
  it("enrols a person who speaks into the browser, then names them in the live view", async () => {
    // The browser's fake microphone plays the first part of Alice's file; the daemon later hears the rest.
    const alice = speech("1069-133699-0000.wav");
    const split = Math.floor(alice.length * 0.6);
    const { daemon, browser } = await setUp(alice.subarray(0, split));
    const { page } = browser;

    await page.getByLabel("Name", { exact: true }).fill("Alice");
    await page.getByRole("button", { name: "Add person" }).click();
    await page.getByText("Added Alice: now add a few samples").waitFor();
    await page.getByLabel("Recording length").selectOption("15");
    await page.getByRole("button", { name: "Record in this browser" }).click();
    // The countdown, the level meter and a sentence to read are on screen while it records.
    await page.getByText(/^Recording in \d…$/).waitFor();
    await page.getByRole("meter", { name: "Input level" }).waitFor();
    const added = page.getByText(/^Added: \d+\.\d s of speech/);
    await added.waitFor({ timeout: 40_000 });
    const speechSeconds = Number((await added.textContent())?.match(/Added: ([\d.]+) s/)?.[1]);
    expect(speechSeconds).toBeGreaterThan(5);
    const [enrolled] = await speakersOf(daemon);
    expect(enrolled).toMatchObject({ id: "alice", name: "Alice", sampleCount: 1 });
    await page.getByText(/^1 samples, \d+\.\d s of speech, default threshold$/).waitFor();

    daemon.speak(alice.subarray(split));
    daemon.speak(new Float32Array(16_000 * 3));
    await page.getByText("Alice is talking").waitFor({ timeout: 30_000 });
    const row = page.locator("#turns tbody tr").first();
    await expect.poll(() => row.locator("td").nth(1).textContent()).toMatch(/^Alice/);
    // Named at or above the threshold of the encoder "auto" runs here (CAM++).
    expect(Number(await row.locator("td").nth(2).textContent())).toBeGreaterThanOrEqual(
      defaultThresholdOf("campplus-zh-en"),
    );
    if (screenshots) {
      mkdirSync(screenshots, { recursive: true });
      await page.screenshot({ path: path.join(screenshots, "live.png") });
    }
    await expect.poll(() => page.locator("#now").textContent(), { timeout: 15_000 }).toBe("Nobody");

    // "Test me": a few seconds from the browser's microphone, and who the daemon would say.
    await page.getByRole("button", { name: "Test me: record 5 s here" }).click();
    await page
      .getByText(/^That was Alice \(score 0\.\d\d, threshold 0\.50\)\.$/)
      .waitFor({ timeout: 30_000 });

    // Enrol from the daemon's own microphone: what its input hears while it records.
    await page.getByLabel("Recording length").selectOption("5");
    await page.getByRole("button", { name: "Record from the daemon's microphone" }).click();
    await page.getByText("Recording 5 s from the daemon's microphone: speak now…").waitFor();
    daemon.speak(alice.subarray(split, split + 16_000 * 6));
    await page.getByText(/^2 samples, \d+\.\d s of speech, consistency 0\.\d\d, default threshold$/).waitFor({
      timeout: 30_000,
    });
    const [afterMicrophone] = await speakersOf(daemon);
    expect(afterMicrophone.samples.map((s) => s.source)).toEqual(["http", "microphone"]);
  }, 120_000);

  it("adds, renames and deletes people, sets a threshold, and refuses a bad upload with a clear message", async () => {
    const bob = speech("103-1240-0000.wav");
    const { daemon, browser } = await setUp(bob);
    const { page } = browser;
    page.on("dialog", (d) => void d.accept());

    // Names are user input: markup is refused with the reason, and what is accepted is shown as text.
    const add = async (name: string) => {
      await page.getByLabel("Name", { exact: true }).fill(name);
      await page.getByRole("button", { name: "Add person" }).click();
    };
    await add(`<img src=x onerror="document.title='owned'">`);
    await page.getByText(/may only contain letters, digits, spaces and \. _ ' -/).waitFor();
    for (const name of ["Bob", "Zoë O'Brien"]) {
      await add(name);
      await page.getByText(`Added ${name}: now add`).waitFor();
    }
    await expect.poll(() => page.locator(".person h3").allTextContents()).toEqual(["Bob", "Zoë O'Brien"]);
    expect(await page.locator(".person img").count()).toBe(0);
    expect(await page.title()).toBe("voiceid");

    // Upload a real WAV, then a file that is not one: a clear message and nothing written.
    // A new person's "Add a sample" panel opens by itself.
    const bobCard = page.locator('[data-speaker="bob"]');
    await bobCard.getByLabel("WAV files for Bob").setInputFiles({
      name: "bob.wav",
      mimeType: "audio/wav",
      buffer: Buffer.from(wav(bob)),
    });
    await bobCard.getByText(/^Added: \d+\.\d s of speech/).waitFor({ timeout: 30_000 });
    await bobCard.getByLabel("WAV files for Bob").setInputFiles({
      name: "notes.wav",
      mimeType: "audio/wav",
      buffer: Buffer.from("these are my notes, not audio"),
    });
    await bobCard.getByText(/^Not added: /).waitFor();
    expect(await bobCard.getByText(/^Not added: /).textContent()).toMatch(/notes\.wav.*(WAV|RIFF)/i);
    expect((await speakersOf(daemon)).find((s) => s.id === "bob")?.sampleCount).toBe(1);

    // Listen to the kept sample; a second sample, then deleted again.
    await bobCard.getByText("Samples (1)").click();
    await bobCard.getByRole("button", { name: "Listen" }).click();
    await expect.poll(() => bobCard.locator("audio").count()).toBe(1);
    await bobCard.getByLabel("WAV files for Bob").setInputFiles({
      name: "bob-2.wav",
      mimeType: "audio/wav",
      buffer: Buffer.from(wav(bob.subarray(bob.length >> 1))),
    });
    await bobCard.getByText("Samples (2)").waitFor({ timeout: 30_000 });
    await bobCard.getByRole("button", { name: "Delete sample" }).last().click();
    await page.getByText("Deleted a sample of Bob.").waitFor();
    await bobCard.getByText("Samples (1)").waitFor();

    // Threshold: the scores beside it, then a new value saved and back to the default.
    await bobCard.getByText("Threshold", { exact: true }).click();
    await bobCard.getByRole("button", { name: "Show scores and threshold" }).click();
    await bobCard
      .getByText(/^Bob's own samples score needs two samples; the closest of everyone else: /)
      .waitFor();
    await bobCard.getByLabel("Threshold for Bob").fill("0.9");
    await bobCard.getByRole("button", { name: "Save threshold" }).click();
    await page.getByText("Bob's threshold is now 0.90.").waitFor();
    expect((await speakersOf(daemon)).find((s) => s.id === "bob")?.threshold).toBe(0.9);
    await page.getByText(/, threshold 0\.9$/).waitFor();

    // Rename keeps the id; delete removes the person.
    await page.locator('[data-speaker="bob"]').getByRole("button", { name: "Rename" }).click();
    await page.getByLabel("New name for Bob").fill("Robert");
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByText("Renamed Bob to Robert.").waitFor();
    expect((await speakersOf(daemon)).map((s) => [s.id, s.name])).toEqual([
      ["bob", "Robert"],
      ["zoe-o-brien", "Zoë O'Brien"],
    ]);
    if (screenshots) {
      await page.getByRole("heading", { name: "People" }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(screenshots, "people.png") });
    }
    // A phone's screen: nothing wider than it.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await page.getByRole("button", { name: "Delete Robert" }).click();
    await page.getByText("Deleted Robert.").waitFor();
    expect((await speakersOf(daemon)).map((s) => s.id)).toEqual(["zoe-o-brien"]);
  });

  it("shows each person's voiceprints, advises after a close-talk upload, and forgets what was learned", async () => {
    // LibriSpeech 1040: a clean close-talk recording (a phone or headset, by the enroller's measure).
    const alice = speech("1040-133433-0000.wav");
    const { daemon, browser } = await setUp(alice);
    const { page } = browser;
    const confirmations: string[] = [];
    let acceptConfirm = false;
    page.on("dialog", (d) => {
      confirmations.push(d.message());
      void (acceptConfirm ? d.accept() : d.dismiss());
    });

    await page.getByLabel("Name", { exact: true }).fill("Alice");
    await page.getByRole("button", { name: "Add person" }).click();
    const card = page.locator('[data-speaker="alice"]');
    await card.getByLabel("WAV files for Alice").setInputFiles({
      name: "alice-phone.wav",
      mimeType: "audio/wav",
      buffer: Buffer.from(wav(alice.subarray(0, 9 * 16_000))),
    });
    await card.getByText(/^Added: \d+\.\d s of speech/).waitFor({ timeout: 30_000 });
    // Advice beside the feedback, not a warning or an error.
    const hint = card.locator(".feedback .hint");
    expect(await hint.textContent()).toMatch(/^recorded close to the microphone: .*daemon's own microphone/);
    expect(await card.locator(".feedback .warning, .feedback .error").count()).toBe(0);
    const rooms = ROOM_SIMULATION.rooms;
    await card
      .getByText(`1 enrolled · ${rooms} simulated · 0 learned voiceprints`, { exact: true })
      .waitFor();
    expect(await card.getByRole("button", { name: "Forget learned" }).count()).toBe(0);

    // The daemon learns as it names people; here two voiceprints of speech Alice did not enrol with are
    // written the way it writes them, through the registry beside it, from its own encoder.
    const { encoder } = (await (await fetch(`${daemon.url}/health`)).json()) as {
      encoder: { model: string };
    };
    const models = new ModelStack({ modelsDir, encoder: encoder.model });
    const registry = new SpeakerRegistry({ dataDir: daemon.dataDir, logger: silentLogger });
    await Promise.all([models.start(), registry.start()]);
    try {
      for (const [from, to] of [
        [9, 11.5],
        [11.5, alice.length / 16_000],
      ]) {
        const heard = await models.extractor.fromSamples(alice.subarray(from * 16_000, to * 16_000));
        await registry.addLearned("alice", {
          modelId: encoder.model,
          voiceprint: heard.embedding,
          speechSeconds: heard.speechSeconds,
          room: "living room",
        });
      }
    } finally {
      await Promise.all([models.stop(), registry.stop()]);
    }
    const aliceOf = async () => (await speakersOf(daemon)).find((s) => s.id === "alice");
    await expect.poll(async () => (await aliceOf())?.voiceprints.learned, { timeout: 10_000 }).toBe(2);
    await page.reload();
    await card
      .getByText(
        new RegExp(`^1 enrolled · ${rooms} simulated · 2 learned voiceprints \\(last learned .+\\)$`),
      )
      .waitFor();

    // Dismissed: nothing is forgotten. Accepted: the learned go, the sample stays.
    await card.getByRole("button", { name: "Forget learned" }).click();
    await expect.poll(() => confirmations.length).toBe(1);
    expect(confirmations[0]).toBe("Forget the 2 voiceprints learned of Alice? Their samples stay.");
    expect((await aliceOf())?.voiceprints.learned).toBe(2);
    acceptConfirm = true;
    await card.getByRole("button", { name: "Forget learned" }).click();
    await page.getByText("Forgot 2 learned voiceprints of Alice.").waitFor();
    await card
      .getByText(`1 enrolled · ${rooms} simulated · 0 learned voiceprints`, { exact: true })
      .waitFor();
    expect(await card.getByRole("button", { name: "Forget learned" }).count()).toBe(0);
    expect(await aliceOf()).toMatchObject({
      sampleCount: 1,
      voiceprints: { enrolled: 1, simulated: rooms, learned: 0 },
    });
  });

  it("with a token configured, does nothing until it is given the right one", async () => {
    const token = "a-token-of-sixteen-chars";
    const { daemon, browser } = await setUp(speech("103-1240-0000.wav"), { "http.token": token });
    const { page } = browser;
    const authorized = { headers: { Authorization: `Bearer ${token}` } };
    const dialog = page.getByRole("dialog", { name: "Access token" });
    await dialog.waitFor();
    // Nothing can be done behind the dialog; nothing reached the registry.
    await expect(page.getByRole("button", { name: "Add person" }).click({ timeout: 1000 })).rejects.toThrow();
    expect(await speakersOf(daemon, authorized)).toEqual([]);

    await dialog.getByLabel("Token").fill("not-the-token-at-all");
    await dialog.getByRole("button", { name: "Use this token" }).click();
    await dialog.getByText("That token was refused.").waitFor();
    await dialog.getByLabel("Token").fill(token);
    await dialog.getByRole("button", { name: "Use this token" }).click();
    await dialog.waitFor({ state: "hidden" });

    // By keyboard alone: the name field, Enter.
    await page.getByLabel("Name", { exact: true }).focus();
    await page.keyboard.type("Carol");
    await page.keyboard.press("Enter");
    await page.getByText("Added Carol: now add").waitFor();
    expect((await speakersOf(daemon, authorized)).map((s) => s.name)).toEqual(["Carol"]);
    // The token lives in this tab's session storage, never in a cookie another site could ride on.
    expect(await browser.context.cookies()).toEqual([]);
  });

  it("lets no other site's page in the same browser change anything", async () => {
    const { daemon, browser } = await setUp(speech("103-1240-0000.wav"));
    // Another site (another port: same host, other origin) tries a form post and a fetch.
    const attacker = createServer((_req, res) => {
      res.setHeader("Content-Type", "text/html");
      res.end(`<!doctype html><form id="f" method="POST" action="${daemon.url}/api/speakers" enctype="text/plain">
        <input name='{"name":"Mallory","x":"' value='"}'></form>
        <script>
          fetch("${daemon.url}/api/speakers", { method: "POST", mode: "no-cors", body: '{"name":"Eve"}' });
          fetch("${daemon.url}/api/listening", { method: "POST", mode: "no-cors", body: '{"listening":false}' });
          document.getElementById("f").submit();
        </script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          attacker.closeAllConnections();
          attacker.close(() => resolve());
        }),
    );
    const other = await browser.context.newPage();
    await other.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
    // The form's navigation lands on the daemon's refusal.
    await other.waitForURL(`${daemon.url}/api/speakers`);
    expect(await other.textContent("body")).toMatch(/cross_site_request/);
    expect(await speakersOf(daemon)).toEqual([]);
    const listening = (await (await fetch(`${daemon.url}/api/listening`)).json()) as { listening: boolean };
    expect(listening.listening).toBe(true);
  });

  it("serves the page with a policy that loads nothing from elsewhere and cannot be framed", async () => {
    const daemon = await startPageDaemon();
    cleanups.push(() => daemon.stop());
    const res = await fetch(daemon.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect((await fetch(`${daemon.url}/assets/app.js`)).headers.get("content-type")).toMatch(
      /^text\/javascript/,
    );
    expect((await fetch(`${daemon.url}/assets/../package.json`)).status).toBe(404);
  });
});
