import { Hono } from "hono";
import { z } from "zod";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { jsonBodyLimit, readJson } from "../json.js";

const listeningBody = z.strictObject({ listening: z.boolean() });

/**
 * GET /api/listening: `{listening, changedAt}`. POST /api/listening `{"listening": false}` mutes: the
 * recorder stops and nothing is processed until it is switched on again; kept across restarts.
 */
export function listeningRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  const control = () => {
    if (!deps.listening) throw new ApiError(404, "not_found", "this daemon has no mute switch");
    return deps.listening;
  };
  app.get("/", (c) => c.json(control().get()));
  app.post("/", jsonBodyLimit, async (c) => {
    const listening = control();
    const body = await readJson(c, listeningBody);
    return c.json(await listening.set(body.listening));
  });
  return app;
}
