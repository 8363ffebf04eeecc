import { Hono } from "hono";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";

/**
 * GET /api/commands: the recent voice commands of the Wyoming proxy, newest first (who, score, mode,
 * forwarded; transcripts only with wyoming.showTranscripts). 404 when the proxy is off.
 */
export function commandsRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    if (!deps.commands) throw new ApiError(404, "not_found", "the Wyoming proxy is off (wyoming.enabled)");
    return c.json(deps.commands());
  });
  return app;
}
