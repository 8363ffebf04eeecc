import { readFile } from "node:fs/promises";
import { Hono } from "hono";
import { z } from "zod";
import { SAMPLE_RATE } from "../../embedding/voiceprint.js";
import { encodePcm16Wav } from "../../enrolment/wav-encode.js";
import { SpeakerNotFoundError } from "../../registry/errors.js";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { jsonBodyLimit, readJson } from "../json.js";
import { takeAudioUpload } from "../upload.js";
import type { UploadIntake } from "../upload-intake.js";
import { enrolmentView, speakerView, thresholdScoresView } from "../views.js";

export const MIN_RECORD_SECONDS = 1;
export const MAX_RECORD_SECONDS = 30;

const threshold = z.number().min(0).max(1);
const createSchema = z.strictObject({ name: z.string(), threshold: threshold.optional() });
const patchSchema = z
  .strictObject({ name: z.string().optional(), threshold: threshold.nullable().optional() })
  .refine((p) => p.name !== undefined || p.threshold !== undefined, {
    message: "give name and/or threshold",
  });
const recordSchema = z.strictObject({ seconds: z.number().min(MIN_RECORD_SECONDS).max(MAX_RECORD_SECONDS) });

/** /api/speakers: CRUD, sample upload, live recording, forgetting learned voiceprints. */
export function speakersRoutes(deps: HttpDeps, uploads: UploadIntake): Hono {
  const { registry, enroller, modelId } = deps;
  const app = new Hono();
  const existing = (id: string) => {
    const speaker = registry.get(id);
    if (!speaker) throw new SpeakerNotFoundError(id);
    return speaker;
  };
  // One live recording at a time: there is one microphone.
  let recording = false;

  app.get("/", (c) => c.json({ speakers: registry.list().map((s) => speakerView(s, modelId)) }));

  app.post("/", jsonBodyLimit, async (c) => {
    const body = await readJson(c, createSchema);
    const speaker = await registry.create(
      body.name,
      body.threshold === undefined ? {} : { thresholds: { [modelId]: body.threshold } },
    );
    return c.json({ speaker: speakerView(speaker, modelId) }, 201);
  });

  app.get("/:id", (c) => c.json({ speaker: speakerView(existing(c.req.param("id")), modelId) }));

  app.patch("/:id", jsonBodyLimit, async (c) => {
    const body = await readJson(c, patchSchema);
    let speaker = existing(c.req.param("id"));
    // Rename first: it is the change that can be refused (name taken), and then nothing has changed.
    if (body.name !== undefined) speaker = await registry.rename(speaker.id, body.name);
    if (body.threshold !== undefined)
      speaker = await registry.setThreshold(speaker.id, modelId, body.threshold);
    return c.json({ speaker: speakerView(speaker, modelId) });
  });

  app.delete("/:id", async (c) => {
    await registry.remove(existing(c.req.param("id")).id);
    return c.body(null, 204);
  });

  app.post("/:id/samples", async (c) => {
    const speaker = existing(c.req.param("id"));
    const result = await takeAudioUpload(c, uploads, "http", (clips) =>
      enroller.enrol(speaker.id, clips, { maxClipSeconds: deps.config.maxUploadSeconds }),
    );
    return c.json(enrolmentView(result, modelId), 201);
  });

  app.get("/:id/scores", (c) => {
    const speaker = existing(c.req.param("id"));
    return c.json(thresholdScoresView(speaker, registry.list(), modelId, deps.defaultThreshold));
  });

  /** A kept enrolment clip, so a person can hear what was enrolled. */
  app.get("/:id/samples/:sampleId/audio", async (c) => {
    const speaker = existing(c.req.param("id"));
    const clip = registry.clipOf(speaker.id, c.req.param("sampleId"));
    if (clip === null)
      throw new ApiError(404, "no_clip", "this sample's audio was not kept (enrolment.keepClips)");
    const bytes = await readFile(clip);
    return c.body(bytes, 200, { "Content-Type": "audio/wav", "Cache-Control": "no-store" });
  });

  /** Forgets what the daemon learned about the person (every model); the enrolled samples stay. */
  app.delete("/:id/learned", async (c) => {
    const { speaker, forgotten } = await registry.forgetLearned(existing(c.req.param("id")).id);
    return c.json({ speaker: speakerView(speaker, modelId), forgotten });
  });

  app.delete("/:id/samples/:sampleId", async (c) => {
    await registry.removeSample(existing(c.req.param("id")).id, c.req.param("sampleId"));
    return c.body(null, 204);
  });

  app.post("/:id/record", jsonBodyLimit, async (c) => {
    const live = deps.liveAudio;
    if (!live) {
      throw new ApiError(503, "live_audio_unavailable", "the daemon has no live audio input to record from");
    }
    const { seconds } = await readJson(c, recordSchema);
    const speaker = existing(c.req.param("id"));
    if (recording)
      throw new ApiError(409, "recording_in_progress", "another recording is in progress; try again");
    recording = true;
    let samples: Float32Array;
    try {
      samples = await live.record(seconds, c.req.raw.signal);
    } catch (err) {
      if (c.req.raw.signal.aborted) throw new ApiError(400, "request_aborted", "the client went away");
      if ((err as { code?: unknown }).code === "not_listening") {
        throw new ApiError(409, "not_listening", (err as Error).message);
      }
      deps.logger.warn("live recording failed", { error: err instanceof Error ? err.message : String(err) });
      const reason = err instanceof Error ? err.message : String(err);
      throw new ApiError(503, "live_audio_failed", `recording from the live input failed: ${reason}`);
    } finally {
      recording = false;
    }
    const bytes = encodePcm16Wav(samples, SAMPLE_RATE);
    const result = await enroller.enrol(speaker.id, [{ bytes, source: "microphone", name: "microphone" }]);
    return c.json(enrolmentView(result, modelId), 201);
  });

  return app;
}
