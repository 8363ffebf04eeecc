import { Hono } from "hono";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { takeAudioUpload } from "../upload.js";
import type { UploadIntake } from "../upload-intake.js";

/** /api/identify: who speaks in an uploaded WAV. */
export function identifyRoutes(deps: HttpDeps, uploads: UploadIntake): Hono {
  const app = new Hono();
  app.post("/", async (c) => {
    const result = await takeAudioUpload(c, uploads, "http", async (clips) => {
      if (clips.length !== 1) {
        throw new ApiError(
          400,
          "one_file_expected",
          `send exactly one WAV file to identify, got ${clips.length}`,
        );
      }
      return deps.enroller.identifyWav(clips[0].bytes, { maxClipSeconds: deps.config.maxUploadSeconds });
    });
    return c.json(result);
  });
  return app;
}
