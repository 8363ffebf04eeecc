import { readFile } from "node:fs/promises";
import { readWavAs16kMono } from "../audio/wav.js";
import type { VoiceprintExtractor } from "../embedding/voiceprint.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { ROOM_SIMULATION, simulatedRoomVoiceprint } from "./room-voiceprints.js";

export interface ReEmbedReport {
  modelId: string;
  /** Samples that got a voiceprint of the model from their kept clip. */
  reEmbedded: number;
  /** Kept clips that could not be embedded (unreadable, no speech), with why. */
  failed: { speakerId: string; sampleId: string; reason: string }[];
  /** People with no voiceprint of the model and no clip to make one from: they must enrol again. */
  mustReEnrol: { speakerId: string; speakerName: string }[];
}

/**
 * After a change of encoder, gives every sample with a kept clip a voiceprint of the running model, so
 * enrolled people are recognised again without re-enrolling; and its simulated rooms, when it lacks them
 * (registries from before them, or an older simulation). Voiceprints of other models stay: switching
 * back is instant. Nothing to do (the usual start) costs one pass over the registry.
 */
export async function reEmbedMissing(
  registry: SpeakerRegistry,
  extractor: VoiceprintExtractor,
  logger: Logger,
  simulateRooms = true,
  signal?: AbortSignal,
): Promise<ReEmbedReport> {
  const modelId = extractor.modelId;
  const missing = registry.samplesMissingModel(modelId, simulateRooms ? ROOM_SIMULATION.version : undefined);
  const withClip = missing.filter((m) => m.clipPath !== null);
  const report: ReEmbedReport = { modelId, reEmbedded: 0, failed: [], mustReEnrol: [] };
  if (withClip.length > 0)
    logger.info(
      `re-embedding ${withClip.length} kept enrolment clips with ${modelId}` +
        (simulateRooms ? `, each also in ${ROOM_SIMULATION.rooms} simulated rooms` : ""),
    );
  for (const [i, sample] of withClip.entries()) {
    if (signal?.aborted) break;
    try {
      const { speech, voiceprint } = await extractor.speechAndVoiceprint(
        readWavAs16kMono(await readFile(sample.clipPath!)),
      );
      if (!sample.onlySimulated)
        await registry.setVoiceprint(sample.speakerId, sample.sampleId, modelId, voiceprint.embedding);
      if (simulateRooms) {
        const simulated = await simulatedRoomVoiceprint(extractor, speech);
        await registry.setSimulated(sample.speakerId, sample.sampleId, modelId, simulated);
      }
      report.reEmbedded++;
      logger.info(
        `re-embedded ${i + 1}/${withClip.length} (${sample.speakerName}, sample ${sample.sampleId})`,
      );
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      report.failed.push({ speakerId: sample.speakerId, sampleId: sample.sampleId, reason });
      logger.warn(`could not re-embed ${sample.speakerName}'s sample ${sample.sampleId}: ${reason}`);
    }
  }
  const identifiable = new Set(registry.candidates(modelId).map((c) => c.id));
  for (const speaker of registry.list())
    if (!identifiable.has(speaker.id) && speaker.samples.length > 0)
      report.mustReEnrol.push({ speakerId: speaker.id, speakerName: speaker.name });
  if (report.mustReEnrol.length > 0)
    logger.warn(
      `${report.mustReEnrol.map((s) => s.speakerName).join(", ")} must enrol again: no voiceprint for ${modelId} and no kept clip to make one from`,
    );
  return report;
}

/**
 * Gives kept clips their simulated rooms in the background, once the daemon listens: after an upgrade a
 * Pi may need minutes for a large household, and people enrolled are recognised meanwhile by their
 * enrolled voiceprints. Stopping waits for the clip in hand, not for the rest.
 */
export class SimulatedRoomsCatchUp implements Component {
  private abort: AbortController | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly registry: SpeakerRegistry,
    private readonly extractor: VoiceprintExtractor,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.abort) return;
    const abort = new AbortController();
    this.abort = abort;
    this.running = reEmbedMissing(this.registry, this.extractor, this.logger, true, abort.signal).catch(
      (err: unknown) =>
        this.logger.warn("could not simulate rooms for the kept clips", {
          error: err instanceof Error ? err.message : String(err),
        }),
    );
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.abort = null;
    await this.running;
  }
}
