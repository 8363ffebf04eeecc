import { Hono } from "hono";
import { z } from "zod";
import { quoteInput } from "../../util/quote.js";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";

const DEFAULT_MINUTES = 60;
/** A week: more than the timeline can keep (timeline.keepHours is at most 168). */
const MAX_MINUTES = 7 * 24 * 60;
const QUERY_KEYS = new Set(["since", "minutes"]);
const isoTime = z.iso.datetime({ offset: true });

/**
 * GET /api/timeline?minutes=<n> or ?since=<ISO 8601>: the recent turns that ended (or are still going) in
 * that range, oldest first: `{now, since, keepHours, turns}`. Without a range, the last hour.
 */
export function timelineRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const timeline = deps.timeline;
    if (!timeline) throw new ApiError(404, "not_found", "this daemon keeps no timeline");
    const now = Date.now();
    const since = rangeStart(new URL(c.req.url).searchParams, now);
    return c.json(
      {
        now: new Date(now).toISOString(),
        since: new Date(since).toISOString(),
        keepHours: timeline.keepHours,
        turns: timeline.turns(since),
      },
      200,
      { "Cache-Control": "no-store" },
    );
  });
  return app;
}

/** The start of the asked range, ms; a query that does not say one clearly is refused with the reason. */
function rangeStart(query: URLSearchParams, now: number): number {
  for (const key of new Set(query.keys())) {
    if (!QUERY_KEYS.has(key))
      throw badQuery(`unknown query parameter ${quoteInput(key)}; use since=<ISO 8601> or minutes=<n>`);
    if (query.getAll(key).length > 1) throw badQuery(`give ${key} once`);
  }
  const since = query.get("since");
  const minutes = query.get("minutes");
  if (since !== null && minutes !== null) throw badQuery("give since or minutes, not both");
  if (since !== null) {
    const at = isoTime.safeParse(since).success ? Date.parse(since) : Number.NaN;
    if (!Number.isFinite(at))
      throw badQuery(`since must be an ISO 8601 time such as 2025-01-31T18:00:00Z, got ${quoteInput(since)}`);
    return at;
  }
  if (minutes === null) return now - DEFAULT_MINUTES * 60_000;
  const n = /^\d{1,6}$/.test(minutes) ? Number(minutes) : Number.NaN;
  if (!(n >= 1 && n <= MAX_MINUTES))
    throw badQuery(`minutes must be a whole number from 1 to ${MAX_MINUTES}, got ${quoteInput(minutes)}`);
  return now - n * 60_000;
}

const badQuery = (message: string) => new ApiError(400, "bad_request", message);
