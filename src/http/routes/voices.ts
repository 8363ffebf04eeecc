import { Hono } from "hono";
import { z } from "zod";
import { normalizeSpeakerName } from "../../registry/names.js";
import type { KeptVoice } from "../../voices/voice-groups.js";
import { VOICE_ID_PATTERN, voiceCentroid, voiceConsistency } from "../../voices/voice-groups.js";
import { nameVoice, VoiceNotFoundError, VoiceTooShortError } from "../../voices/voice-naming.js";
import type { HttpDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { jsonBodyLimit, readJson } from "../json.js";
import { speakerView } from "../views.js";

const assignSchema = z.union([
  z.strictObject({ speakerId: z.string().min(1).max(256) }),
  z.strictObject({ name: z.string().min(1).max(256) }),
]);
const ignoreSchema = z.strictObject({ label: z.string().max(256).optional() });

/** /api/voices: the voices nobody enrolled, to name, ignore or forget. */
export function voicesRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  const control = deps.voices;
  if (!control) {
    app.all("*", () => {
      throw new ApiError(404, "voices_off", "unknown voices are not kept (unknownVoices.enabled: false)");
    });
    return app;
  }
  const { store } = control;
  const existing = (id: string): KeptVoice => {
    // Checked before anything is looked up: a hostile id is refused, never echoed into a path.
    if (!VOICE_ID_PATTERN.test(id))
      throw new ApiError(400, "invalid_voice", 'a voice id looks like "voice-3"');
    const voice = store.get(id);
    if (!voice) throw new ApiError(404, "voice_not_found", `no kept voice "${id}"`);
    return voice;
  };
  const view = (voice: KeptVoice) => {
    const centroid = voiceCentroid(voice);
    const match = centroid ? deps.enroller.identifier.identify(centroid) : null;
    return {
      id: voice.id,
      ignored: voice.ignored,
      label: voice.label,
      turns: voice.turns.length,
      speechSeconds: Math.round(voice.turns.reduce((s, t) => s + t.speechSeconds, 0) * 10) / 10,
      firstHeard: voice.turns[0]?.at ?? null,
      lastHeard: voice.turns.at(-1)?.at ?? null,
      rooms: [...new Set(voice.turns.map((t) => t.room))],
      consistency: round(voiceConsistency(voice)),
      clips: voice.turns.filter((t) => t.clip !== null).length,
      nearest:
        match?.nearest && match.score !== null
          ? { speakerId: match.nearest.id, speaker: match.nearest.name, score: round(match.score) }
          : null,
    };
  };
  const clipsOf = (voice: KeptVoice) => voice.turns.filter((t) => t.clip !== null);

  app.get("/", (c) => {
    const ignored = c.req.query("ignored");
    if (ignored !== undefined && ignored !== "0" && ignored !== "1")
      throw new ApiError(400, "invalid_query", "ignored must be 0 or 1");
    const voices = store.list({ ignored: ignored === "1" }).map(view);
    voices.sort((a, b) => (b.lastHeard ?? "").localeCompare(a.lastHeard ?? ""));
    return c.json({ voices, keepClips: control.keepClips });
  });

  app.get("/:id", (c) => c.json({ voice: view(existing(c.req.param("id"))) }));

  app.get("/:id/clips/:n/audio", async (c) => {
    const voice = existing(c.req.param("id"));
    const n = c.req.param("n");
    const clips = clipsOf(voice);
    if (!/^[0-9]{1,2}$/.test(n) || Number(n) >= clips.length)
      throw new ApiError(404, "no_clip", `${voice.id} has ${clips.length} clip(s), numbered from 0`);
    const bytes = await store.clip(clips[Number(n)]);
    if (!bytes) throw new ApiError(404, "no_clip", "the clip is gone");
    return c.body(new Uint8Array(bytes), 200, { "Content-Type": "audio/wav", "Cache-Control": "no-store" });
  });

  app.post("/:id/assign", jsonBodyLimit, async (c) => {
    const voice = existing(c.req.param("id"));
    const body = await readJson(c, assignSchema);
    let target: { speaker: string } | { createNamed: string };
    if ("speakerId" in body) {
      const speaker = deps.registry.get(body.speakerId);
      if (!speaker) throw new ApiError(404, "speaker_not_found", "no such person");
      target = { speaker: speaker.id };
    } else {
      const known = deps.registry.get(body.name);
      target = known ? { speaker: known.id } : { createNamed: body.name };
    }
    try {
      const named = await nameVoice(store, deps.registry, voice.id, target, control.naming);
      return c.json(
        {
          speaker: speakerView(named.speaker, deps.modelId),
          created: named.created,
          samples: named.samples,
          warnings: named.warnings,
        },
        named.created ? 201 : 200,
      );
    } catch (err) {
      if (err instanceof VoiceTooShortError) throw new ApiError(422, "voice_too_short", err.message);
      if (err instanceof VoiceNotFoundError) throw new ApiError(404, "voice_not_found", err.message);
      throw err;
    }
  });

  app.post("/:id/ignore", jsonBodyLimit, async (c) => {
    const voice = existing(c.req.param("id"));
    const body = await readJson(c, ignoreSchema);
    const label =
      body.label === undefined || body.label.trim() === "" ? null : normalizeSpeakerName(body.label);
    return c.json({ voice: view((await store.ignore(voice.id, label))!) });
  });

  app.post("/:id/unignore", async (c) => {
    const voice = existing(c.req.param("id"));
    return c.json({ voice: view((await store.unignore(voice.id))!) });
  });

  app.delete("/:id", async (c) => {
    await store.forget(existing(c.req.param("id")).id);
    return c.body(null, 204);
  });

  return app;
}

function round(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1000) / 1000;
}
