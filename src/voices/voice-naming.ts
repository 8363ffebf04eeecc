import { centroidOf, consistency, cosine } from "../registry/matcher.js";
import type { NewSample, SampleTarget, SpeakerRegistry } from "../registry/registry.js";
import { MAX_SAMPLES_PER_SPEAKER } from "../registry/registry.js";
import type { Speaker } from "../registry/schema.js";
import type { KeptTurn, KeptVoice } from "./voice-groups.js";
import type { UnknownVoiceStore } from "./voice-store.js";

/** A voice becomes at most this many samples: its turns closest to its centroid. */
export const SAMPLES_PER_NAMED_VOICE = 10;

export class VoiceNotFoundError extends Error {
  constructor(readonly voiceId: string) {
    super(`no kept voice "${voiceId}"`);
    this.name = "VoiceNotFoundError";
  }
}

/** The voice has too little speech to stand for a person (enrolment's minimum). */
export class VoiceTooShortError extends Error {
  constructor(
    readonly voiceId: string,
    readonly speechSeconds: number,
    readonly minSpeechSeconds: number,
  ) {
    super(
      `${voiceId} holds ${speechSeconds.toFixed(1)} s of speech; naming needs at least ${minSpeechSeconds} s (let it be heard a little longer)`,
    );
    this.name = "VoiceTooShortError";
  }
}

export interface NamedVoice {
  speaker: Speaker;
  created: boolean;
  samples: number;
  /** Said when the voice does not sound like the person's other samples (enrolment's warning). */
  warnings: string[];
}

export interface NamingOptions {
  modelId: string;
  minSpeechSeconds: number;
  consistencyWarning: number;
}

/**
 * Names a kept voice: its turns closest to its centroid (with their clips, when kept) become the
 * person's samples in one registry commit, then the voice is forgotten. The room's own voiceprints are
 * the best enrolment there is: no simulated rooms are added to them.
 */
export async function nameVoice(
  store: UnknownVoiceStore,
  registry: SpeakerRegistry,
  voiceId: string,
  target: SampleTarget,
  options: NamingOptions,
): Promise<NamedVoice> {
  const voice = store.get(voiceId);
  if (!voice) throw new VoiceNotFoundError(voiceId);
  const speech = voice.turns.reduce((s, t) => s + t.speechSeconds, 0);
  if (speech < options.minSpeechSeconds)
    throw new VoiceTooShortError(voiceId, speech, options.minSpeechSeconds);
  const existing = registry.get("speaker" in target ? target.speaker : target.createNamed);
  const room = MAX_SAMPLES_PER_SPEAKER - (existing?.samples.length ?? 0);
  const turns = clearestTurns(voice, Math.max(1, Math.min(SAMPLES_PER_NAMED_VOICE, room)));
  const samples: NewSample[] = [];
  for (const turn of turns) {
    const clip = await store.clip(turn);
    samples.push({
      voiceprints: { [options.modelId]: turn.voiceprint },
      speechSeconds: turn.speechSeconds,
      durationSeconds: turn.durationSeconds,
      source: "voice",
      ...(clip ? { clipWav: clip } : {}),
    });
  }
  const earlier = (existing?.samples ?? []).flatMap((s) =>
    s.voiceprints[options.modelId] ? [s.voiceprints[options.modelId]] : [],
  );
  const result = await registry.addSamples(existing ? { speaker: existing.id } : target, samples);
  const warnings: string[] = [];
  const centroid = centroidOf(turns.map((t) => t.voiceprint));
  if (centroid && earlier.length > 0) {
    const report = consistency(centroid, earlier, options.consistencyWarning);
    if (report.suspicious) {
      warnings.push(
        `${voiceId} does not sound much like ${result.speaker.name}'s other samples (similarity ${report.mean!.toFixed(2)}, below ${options.consistencyWarning}): is it the right person?`,
      );
    }
  }
  await store.forget(voiceId, true);
  return { speaker: result.speaker, created: result.created, samples: samples.length, warnings };
}

function clearestTurns(voice: KeptVoice, count: number): KeptTurn[] {
  const centroid = centroidOf(voice.turns.map((t) => t.voiceprint));
  if (!centroid) return [];
  return [...voice.turns]
    .sort((a, b) => cosine(b.voiceprint, centroid) - cosine(a.voiceprint, centroid))
    .slice(0, count);
}
