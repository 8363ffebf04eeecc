import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { TIMELINE_FILE } from "../../src/timeline/journal.js";
import type { TimelineTurn } from "../../src/timeline/turn.js";
import {
  buildStream,
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  spawnDaemon,
  startDaemonInProcess,
  streamedPieces,
  type TestStream,
  waitForHealth,
  within,
} from "../daemon/helpers.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { repoRoot } from "../helpers/paths.js";
import { type Browser, chromiumMissing, openBrowser } from "./helpers.js";

/**
 * The web page's timeline in a real browser against the daemon as it ships (the bundle, the example
 * configuration, a real broker), playing a real stream at the pace of a microphone: Alice (enrolled),
 * a stranger, Alice again. Bars land in the right lanes as it plays, after a reload, and after a restart.
 * VOICEID_SCREENSHOTS=1 also writes the README's screenshot of it.
 */
const missing = chromiumMissing();
if (missing) throw new Error(`${missing}; the web page tests need it (.ci/run installs it)`);

const screenshots = process.env.VOICEID_SCREENSHOTS ? path.join(repoRoot, "docs", "screenshots") : null;

interface Bar {
  lane: string;
  x: number;
  width: number;
  open: boolean;
  title: string;
}
interface ApiTurn {
  startedAt: string;
  durationS: number;
  speakerId: string | null;
  reason: string | null;
  voice: string | null;
  open: boolean;
}

let broker: MosquittoBroker;
let daemon: DaemonProcess;
let restarted: DaemonProcess | null = null;
let browser: Browser;
let stream: TestStream;
let aliceId: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
  daemon = await spawnDaemon({ mqttUrl: broker.url, room: "Kitchen", realtime: true });
  await waitForHealth(daemon, (h) => h.status === "ok", "a healthy daemon");
  aliceId = await enrolOverHttp(daemon, "Alice", enrolmentClips().A);
  const p = streamedPieces();
  // The input ends where the WAV's data does, and the daemon with it: silence keeps it listening meanwhile.
  stream = buildStream([0.5, ["A", p.a1], 3, ["unknown", p.stranger], 3, ["A", p.a2], 120]);
  browser = await openBrowser(daemon.httpUrl, encodePcm16Wav(new Float32Array(16_000), 16_000));
  browser.page.on("pageerror", (e) => pageErrors.push(e.message));
});
afterAll(async () => {
  await browser?.close();
  await daemon?.dispose();
  await restarted?.dispose();
  await broker?.stop();
});

/** The bars drawn, by start, with their lane, place and hover text. */
const barsOnPage = (): Promise<Bar[]> => barsOnPageOf(browser);
const barsOnPageOf = (on: Browser): Promise<Bar[]> =>
  on.page.$$eval("#timeline svg rect.turn", (rects) =>
    rects
      .map((r) => ({
        lane: r.getAttribute("data-lane") ?? "",
        x: Number(r.getAttribute("x")),
        width: Number(r.getAttribute("width")),
        open: r.classList.contains("open"),
        title: r.querySelector("title")?.textContent ?? "",
      }))
      .sort((a, b) => a.x - b.x),
  );

const turnsOf = async (d: DaemonProcess): Promise<ApiTurn[]> =>
  ((await (await fetch(`${d.httpUrl}/api/timeline?minutes=10`)).json()) as { turns: ApiTurn[] }).turns;

/** Lanes in the order they were talked in, a lane's consecutive bars counted once; short unsure bits left out. */
const laneSequence = (bars: Bar[]) =>
  bars
    .filter((b) => b.lane !== "unsure")
    .map((b) => b.lane)
    .filter((lane, i, all) => i === 0 || all[i - 1] !== lane);

describe("the web page's timeline", () => {
  it("draws the played turns as bars in each voice's lane, live, after a reload and after a restart", async () => {
    const { page } = browser;
    // Before anything is said: Alice's lane is there, empty.
    await page.locator('#timeline [data-lane="person:alice"] .lane-label').waitFor();
    expect(await page.locator("#timeline .lane-label").allTextContents()).toEqual(["Alice"]);
    expect(await page.locator("#timeline svg").getAttribute("aria-label")).toBe(
      "Who talked in the last hour: 0 turns",
    );

    // Played at the pace of a microphone: the bars appear as the daemon decides.
    daemon.feed(stream.wav, false);
    await expect
      .poll(async () => laneSequence((await barsOnPage()).filter((b) => !b.open)), { timeout: 60_000 })
      .toEqual([`person:${aliceId}`, "voice:voice-1", `person:${aliceId}`]);
    const live = await barsOnPage();
    expect(pageErrors).toEqual([]);

    // What the page drew is what the daemon kept.
    const turns = (await turnsOf(daemon)).filter((t) => !t.open);
    expect(
      turns.map((t) => (t.speakerId ? `person:${t.speakerId}` : t.voice ? `voice:${t.voice}` : "unsure")),
    ).toEqual(live.filter((b) => !b.open).map((b) => b.lane));
    // The stranger was kept as a voice nobody enrolled: their lane is that voice's.
    // Alice spoke about 8.6 s in two turns, the stranger 8 s: the bars are as long as the turns.
    const seconds = (lane: string) =>
      turns
        .filter((t) => (lane === "unknown" ? t.reason === "unknown" : t.speakerId === lane))
        .reduce((s, t) => s + t.durationS, 0);
    expect(seconds(aliceId)).toBeGreaterThan(6);
    expect(seconds(aliceId)).toBeLessThan(11);
    expect(seconds("unknown")).toBeGreaterThan(6);
    expect(seconds("unknown")).toBeLessThan(10);
    // In an hour's width, the second of Alice's turns starts right of the stranger's, which starts right of her first.
    const [first, stranger, second] = ["person:", "voice:", "person:"].map((lane, i) =>
      live.filter((b) => b.lane.startsWith(lane)).at(i === 2 ? -1 : 0),
    );
    expect(first!.x).toBeLessThan(stranger!.x);
    expect(stranger!.x).toBeLessThan(second!.x);
    // Hover: who, when, how long and how sure.
    expect(first!.title).toMatch(
      /^Alice: \d\d:\d\d:\d\d( [AP]M)?, \d+\.\d s, score 0\.\d\d \(threshold 0\.\d\d\)$/,
    );
    // A stranger's score may be below 0 on CAM++'s scale.
    expect(stranger!.title).toMatch(/^voice-1: .*, score -?0\.\d\d \(threshold 0\.\d\d\)$/);
    expect(await page.locator("#timeline .lane-label").allTextContents()).toEqual([
      "Alice",
      "voice-1",
      ...(live.some((b) => b.lane === "unsure") ? ["Not sure"] : []),
    ]);

    // A reload: the timeline and the live view's table show the turns before anything new is said.
    const ended = live.filter((b) => !b.open);
    await page.reload();
    await expect.poll(async () => (await barsOnPage()).map((b) => b.lane)).toEqual(ended.map((b) => b.lane));
    const rows = page.locator("#turns tbody tr");
    await expect.poll(() => rows.count()).toBe(turns.length);
    expect(await rows.first().locator("td").nth(1).textContent()).toBe("Alice (ended)");

    // Other ranges: the same turns, six times as far apart in ten minutes as in an hour.
    const range = page.getByRole("combobox", { name: "Who talked in the last" });
    const span = async () => {
      const bars = await barsOnPage();
      return bars[bars.length - 1].x - bars[0].x;
    };
    const inAnHour = await span();
    await range.selectOption("10");
    await expect.poll(async () => (await span()) / inAnHour).toBeCloseTo(6, 0);
    if (screenshots) {
      mkdirSync(screenshots, { recursive: true });
      await page.getByRole("heading", { name: "Who is talking" }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(screenshots, "timeline.png") });
    }
    await range.selectOption("1440");
    await expect
      .poll(() => page.locator("#timeline svg").getAttribute("aria-label"))
      .toBe(`Who talked in the last 24 hours: ${turns.length} turns`);
    expect((await barsOnPage()).map((b) => b.lane)).toEqual(ended.map((b) => b.lane));

    // A restart of the daemon (the service stopped and started again): the turns are still there.
    daemon.child.kill("SIGTERM");
    await within(daemon.exited, 20_000, "the daemon to stop", daemon);
    restarted = await spawnDaemon({ mqttUrl: broker.url, room: "Kitchen", dataDir: daemon.dataDir });
    await waitForHealth(restarted, (h) => h.status === "ok", "the restarted daemon");
    expect((await turnsOf(restarted)).map((t) => t.startedAt)).toEqual(turns.map((t) => t.startedAt));
    await page.goto(restarted.httpUrl);
    await expect.poll(async () => (await barsOnPage()).map((b) => b.lane)).toEqual(ended.map((b) => b.lane));

    // Alice removed: her turns go from the timeline (and its file) with her.
    expect((await fetch(`${restarted.httpUrl}/api/speakers/${aliceId}`, { method: "DELETE" })).status).toBe(
      204,
    );
    await expect
      .poll(async () => (await turnsOf(restarted!)).filter((t) => t.speakerId !== null))
      .toEqual([]);
    await page.reload();
    await expect
      .poll(async () => (await barsOnPage()).map((b) => b.lane))
      .toEqual(ended.filter((b) => !b.lane.startsWith("person:")).map((b) => b.lane));
    expect(await page.locator("#timeline .lane-label").allTextContents()).not.toContain("Alice");
    expect(pageErrors).toEqual([]);
  }, 150_000);
});

describe("the web page's timeline lanes", () => {
  it("gives each voice id a lane, writes names as text, and shows what the range holds", async () => {
    // What an earlier run kept: named people, two voices nobody enrolled, a stranger without a voice id,
    // a turn too short to tell, a name that is markup, a turn two hours old, and a line a crash cut.
    const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-web-timeline-"));
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    const turn = (minutes: number, who: Partial<TimelineTurn>): TimelineTurn => ({
      room: "Kitchen",
      turnId: minutes,
      startedAt: ago(minutes),
      durationS: 3,
      speakerId: null,
      speaker: null,
      reason: "unknown",
      score: 0.55,
      threshold: 0.82,
      voice: null,
      open: false,
      ...who,
    });
    const markup = `<img src=x onerror="document.title='owned'">`;
    const kept = [
      turn(120, { speakerId: "bob", speaker: "Bob", reason: null, score: 0.9 }),
      turn(50, { speakerId: "alice", speaker: "Alice", reason: null, score: 0.93 }),
      turn(40, { voice: "voice-2" }),
      turn(30, { voice: "voice-10" }),
      turn(20, { voice: "voice-2" }),
      turn(15, { speakerId: "mallory", speaker: markup, reason: null, score: 0.88 }),
      turn(12, {}),
      turn(5, { reason: "too_short", score: null }),
    ];
    await writeFile(
      path.join(dataDir, TIMELINE_FILE),
      `${kept.map((t) => JSON.stringify(t)).join("\n")}\n{"room":"Kitchen","turnId":`,
    );
    const started = await startDaemonInProcess(dataDir);
    const page = await openBrowser(started.url, encodePcm16Wav(new Float32Array(16_000), 16_000));
    try {
      const errors: string[] = [];
      page.page.on("pageerror", (e) => errors.push(e.message));
      const labels = () => page.page.locator("#timeline .lane-label").allTextContents();
      await expect.poll(labels).toEqual(["Alice", markup, "voice-2", "voice-10", "Not enrolled", "Not sure"]);
      const lanes = async () => (await barsOnPageOf(page)).map((b) => b.lane);
      expect(await lanes()).toEqual([
        "person:alice",
        "voice:voice-2",
        "voice:voice-10",
        "voice:voice-2",
        "person:mallory",
        "unknown",
        "unsure",
      ]);
      const bars = await barsOnPageOf(page);
      expect(bars[2].title).toMatch(/^voice-10: .+, 3\.0 s, score 0\.55 \(threshold 0\.82\)$/);
      expect(bars[6].title).toMatch(/^Not sure: .+, 3\.0 s, no score$/);
      // Markup in a name is text: nothing of it runs or is drawn.
      expect(await page.page.locator("#timeline img, #turns img").count()).toBe(0);
      expect(await page.page.title()).toBe("voiceid");
      // The live view's table names the voices too.
      await expect
        .poll(() => page.page.locator("#turns tbody tr td:nth-child(2)").allTextContents())
        .toContain("someone not enrolled (voice-10) (ended)");

      // Bob spoke two hours ago: in the day, not in the hour.
      await page.page.getByRole("combobox", { name: "Who talked in the last" }).selectOption("1440");
      await expect
        .poll(labels)
        .toEqual(["Bob", "Alice", markup, "voice-2", "voice-10", "Not enrolled", "Not sure"]);
      await page.page.getByRole("combobox", { name: "Who talked in the last" }).selectOption("10");
      // The stranger of 12 minutes ago is out of the 10 minutes; the short turn of 5 minutes ago is in.
      await expect.poll(lanes).toEqual(["unsure"]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await started.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
