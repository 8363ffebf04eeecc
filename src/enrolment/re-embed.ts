import { readFile } from "node:fs/promises";
import type { VoiceprintExtractor } from "../embedding/voiceprint.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { Logger } from "../util/log.js";

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
 * enrolled people are recognised again without re-enrolling. Voiceprints of other models stay: switching
 * back is instant. Nothing to do (the usual start) costs one pass over the registry.
 */
export async function reEmbedMissing(
  registry: SpeakerRegistry,
  extractor: VoiceprintExtractor,
  logger: Logger,
): Promise<ReEmbedReport> {
  const modelId = extractor.modelId;
  const missing = registry.samplesMissingModel(modelId);
  const withClip = missing.filter((m) => m.clipPath !== null);
  const report: ReEmbedReport = { modelId, reEmbedded: 0, failed: [], mustReEnrol: [] };
  if (withClip.length > 0)
    logger.info(`re-embedding ${withClip.length} kept enrolment clips with ${modelId}`);
  for (const [i, sample] of withClip.entries()) {
    try {
      const voiceprint = await extractor.fromWav(await readFile(sample.clipPath!));
      await registry.setVoiceprint(sample.speakerId, sample.sampleId, modelId, voiceprint.embedding);
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
