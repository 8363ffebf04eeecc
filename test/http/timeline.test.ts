import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import { Timeline } from "../../src/timeline/timeline.js";
import type { TimelineTurn } from "../../src/timeline/turn.js";
import { silentLogger } from "../../src/util/log.js";
import { type RealPipeline, realPipeline, type TempRegistry, tempRegistry } from "../enrolment/helpers.js";
import { detection, errorOf, makeApp } from "./helpers.js";

/**
 * GET /api/timeline on a real server, its timeline fed through the same detection hub as /api/events,
 * with turns placed at known distances from now.
 */
const TOKEN = "a-token-of-sixteen-chars";
const MINUTE = 60_000;

let pipeline: RealPipeline;
beforeAll(async () => {
  pipeline = await realPipeline();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let dataDir: string;
let timeline: Timeline;
let server: RunningHttpServer;
let secured: RunningHttpServer;
let bare: RunningHttpServer;
beforeEach(async () => {
  temp = await tempRegistry();
  dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-timeline-http-"));
  timeline = new Timeline({ persist: true, keepHours: 24, maxTurns: 1000, dataDir, logger: silentLogger });
  await timeline.start();
  const open = makeApp(pipeline, temp, { timeline });
  open.hub.subscribe((e) => timeline.record(e));
  // A turn every few minutes over the last two hours: turn n started n * 5 minutes ago, and lasted 10 s.
  const now = Date.now();
  for (let n = 24; n >= 1; n--) {
    const startedAt = new Date(now - n * 5 * MINUTE).toISOString();
    const unknown = n % 3 === 0;
    open.hub.publish(
      detection({
        type: "stopped",
        turnId: 100 - n,
        startedAt,
        durationS: 10,
        ...(unknown
          ? { speaker: null, speakerId: null, reason: "unknown", score: 0.42, voice: `voice-${n % 2}` }
          : {}),
      }),
    );
  }
  open.hub.publish(
    detection({ type: "started", turnId: 100, startedAt: new Date(now - 2000).toISOString() }),
  );
  server = await startHttpServer(open.app, { host: "127.0.0.1", port: 0 });
  secured = await startHttpServer(makeApp(pipeline, temp, { timeline, config: { token: TOKEN } }).app, {
    host: "127.0.0.1",
    port: 0,
  });
  bare = await startHttpServer(makeApp(pipeline, temp).app, { host: "127.0.0.1", port: 0 });
});
afterEach(async () => {
  await Promise.all([server.close(), secured.close(), bare.close()]);
  await timeline.stop();
  await temp.dispose();
  await rm(dataDir, { recursive: true, force: true });
});

interface TimelineJson {
  now: string;
  since: string;
  keepHours: number;
  turns: TimelineTurn[];
}

const get = async (query: string, base = server.url, init?: RequestInit) => {
  const res = await fetch(`${base}/api/timeline${query}`, init);
  return { status: res.status, body: (await res.json()) as TimelineJson };
};
/** How many minutes ago each turn started, rounded: which turns an answer holds. */
const agesOf = (body: TimelineJson) =>
  body.turns.map((t) => Math.round((Date.parse(body.now) - Date.parse(t.startedAt)) / MINUTE));

describe("GET /api/timeline", () => {
  it("answers the last hour by default, oldest first, with the open turn", async () => {
    const { status, body } = await get("");
    expect(status).toBe(200);
    expect(body.keepHours).toBe(24);
    expect(Date.parse(body.now) - Date.parse(body.since)).toBe(60 * MINUTE);
    // The turn of an hour ago ended 10 s later: inside the hour; the one of 65 minutes ago is not.
    expect(agesOf(body)).toEqual([60, 55, 50, 45, 40, 35, 30, 25, 20, 15, 10, 5, 0]);
    const last = body.turns.at(-1);
    expect(last).toMatchObject({ turnId: 100, open: true, speaker: "Alice" });
    const unknown = body.turns.find((t) => t.reason === "unknown");
    expect(unknown).toMatchObject({ speakerId: null, score: 0.42, open: false });
    expect(unknown?.voice).toMatch(/^voice-[01]$/);
  });

  it("answers the range asked for in minutes or from a time", async () => {
    expect(agesOf((await get("?minutes=12")).body)).toEqual([10, 5, 0]);
    expect(agesOf((await get("?minutes=1440")).body)).toHaveLength(25);
    const since = new Date(Date.now() - 31 * MINUTE).toISOString();
    const { body } = await get(`?since=${encodeURIComponent(since)}`);
    expect(body.since).toBe(since);
    expect(agesOf(body)).toEqual([30, 25, 20, 15, 10, 5, 0]);
    // With an offset instead of Z: the same instant.
    const local = since.replace("Z", "+00:00");
    expect(agesOf((await get(`?since=${encodeURIComponent(local)}`)).body)).toEqual(agesOf(body));
  });

  it("refuses a range it cannot read with a clear 400, never a crash", async () => {
    const bad: Array<[string, RegExp]> = [
      ["?minutes=0", /minutes must be a whole number from 1 to 10080, got "0"/],
      ["?minutes=-5", /got "-5"/],
      ["?minutes=1.5", /got "1.5"/],
      ["?minutes=1e3", /got "1e3"/],
      ["?minutes=10081", /got "10081"/],
      ["?minutes=", /got ""/],
      [`?minutes=${"9".repeat(5000)}`, /got "9{40}"… \(5000 characters\)/],
      ["?since=yesterday", /since must be an ISO 8601 time .*, got "yesterday"/],
      ["?since=2025-13-45T00:00:00Z", /since must be an ISO 8601 time/],
      ["?since=1700000000000", /since must be an ISO 8601 time/],
      [`?since=${encodeURIComponent('"><script>')}`, /got "\\"><script>"/],
      ["?since=2025-01-01T00:00:00Z&minutes=5", /give since or minutes, not both/],
      ["?minutes=5&minutes=10", /give minutes once/],
      ["?limit=5", /unknown query parameter "limit"; use since=<ISO 8601> or minutes=<n>/],
      ["?%00=1", /unknown query parameter "\\u0000"/],
    ];
    for (const [query, message] of bad) {
      const res = await fetch(`${server.url}/api/timeline${query}`);
      const error = await errorOf(res);
      expect(error, query).toMatchObject({ status: 400, code: "bad_request" });
      expect(error.message, query).toMatch(message);
    }
    // Nothing refused changed what is kept.
    expect((await get("?minutes=1440")).body.turns).toHaveLength(25);
  });

  it("needs the bearer token when one is set, like the other routes", async () => {
    expect((await errorOf(await fetch(`${secured.url}/api/timeline`))).status).toBe(401);
    const wrong = await fetch(`${secured.url}/api/timeline`, { headers: { Authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const ok = await get("?minutes=30", secured.url, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.turns).toHaveLength(7);
  });

  it("is 404 on a daemon without a timeline", async () => {
    expect(await errorOf(await fetch(`${bare.url}/api/timeline`))).toMatchObject({
      status: 404,
      code: "not_found",
    });
  });
});
