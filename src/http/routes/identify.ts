import { Hono } from "hono";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { readAudioClips } from "../upload.js";

/** /api/identify: who speaks in an uploaded WAV. */
export function identifyRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  app.post("/", async (c) => {
    const clips = await readAudioClips(c, "http");
    if (clips.length !== 1) {
      throw new ApiError(
        400,
        "one_file_expected",
        `send exactly one WAV file to identify, got ${clips.length}`,
      );
    }
    const result = await deps.enroller.identifyWav(clips[0].bytes, {
      maxClipSeconds: deps.config.maxUploadSeconds,
    });
    return c.json(result);
  });
  return app;
}
