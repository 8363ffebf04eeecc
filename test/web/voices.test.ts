import { afterEach, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { utterance } from "../identify/helpers.js";
import { chromiumMissing, openBrowser, startPageDaemon } from "./helpers.js";

/**
 * The web page's "Voices heard", in a real browser, on voices the real daemon heard from real speech:
 * listen, name, ignore, forget; the live view shows which voice an unknown turn is.
 */
const missing = chromiumMissing();
if (missing) throw new Error(`${missing}; the web page tests need it (.ci/run installs it)`);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("the web page's voices heard", () => {
  it("lists a voice heard twice, plays its clip, names it, and ignores then forgets another", async () => {
    const daemon = await startPageDaemon({ "unknownVoices.keepClips": true });
    cleanups.push(() => daemon.stop());
    const browser = await openBrowser(daemon.url, encodePcm16Wav(new Float32Array(16_000), 16_000));
    cleanups.push(() => browser.close());
    const { page } = browser;
    await page
      .getByText("Only voiceprints are kept", { exact: false })
      .or(page.getByText("Clips of these voices"))
      .waitFor();
    await page.getByText("No voices kept yet.").waitFor();

    const visitor = utterance("911-128684-0000");
    const half = visitor.length >> 1;
    const gap = new Float32Array(16_000 * 3);
    daemon.speak(visitor.subarray(0, half));
    daemon.speak(gap);
    daemon.speak(visitor.subarray(half));
    daemon.speak(gap);

    const card = page.locator('li[data-voice="voice-1"]');
    await card.getByText(/^2 turns, \d+\.\d s of speech; first heard/).waitFor({ timeout: 60_000 });
    await page.getByText("Clips of these voices are kept", { exact: false }).waitFor();
    // The live view says which voice it was.
    await expect
      .poll(() => page.locator("#turns tbody tr").first().locator("td").nth(1).textContent())
      .toBe("someone not enrolled (voice-1) (ended)");
    await card.getByRole("button", { name: "Play clip 1" }).click();
    await card.locator("audio").waitFor({ state: "attached" });

    await card.getByLabel("This is…").fill("Victor");
    await card.getByRole("button", { name: "Name", exact: true }).click();
    await page.getByText("voice-1 is Victor (new person): named from now on.").waitFor();
    await page.getByText("No voices kept yet.").waitFor();
    const people = (await (await fetch(`${daemon.url}/api/speakers`)).json()) as {
      speakers: Array<{ name: string; sampleCount: number }>;
    };
    expect(people.speakers).toMatchObject([{ name: "Victor", sampleCount: 2 }]);

    // The TV, twice: ignored from the page, it moves to the ignored list; forgotten, it is gone.
    const tv = utterance("1723-141149-0000");
    daemon.speak(tv.subarray(0, tv.length >> 1));
    daemon.speak(gap);
    daemon.speak(tv.subarray(tv.length >> 1));
    daemon.speak(gap);
    const tvCard = page.locator("#voices li[data-voice]").first();
    await tvCard.getByText(/^2 turns/).waitFor({ timeout: 60_000 });
    const tvId = await tvCard.getAttribute("data-voice");
    await tvCard.getByLabel("Label").fill("TV");
    await tvCard.getByRole("button", { name: "Ignore (TV, radio…)" }).click();
    await page.locator("#ignored-voices").getByText(`${tvId} (TV)`).waitFor();
    await page.locator("#ignored-voices").getByRole("button", { name: "Forget" }).click();
    await page.getByText(`${tvId} forgotten.`).waitFor();
    await expect.poll(() => page.locator("#ignored-voices li").count()).toBe(0);
  }, 180_000);
});
