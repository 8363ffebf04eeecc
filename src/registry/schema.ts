import { z } from "zod";

/** On-disk format version; bump (and migrate) when the shape changes incompatibly. */
export const REGISTRY_VERSION = 1;

/** Speaker ids are slugs: safe in file paths, MQTT topics and Home Assistant unique ids. */
export const SPEAKER_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const SAMPLE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Model ids are map keys and appear in logs; keep them plain. */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$/;

const isoTimestamp = z.iso.datetime({ offset: true });

/** The centroid of a clip's voiceprints in `rooms` simulated rooms, by simulation `version`. */
export const simulatedVoiceprintSchema = z.object({
  version: z.number().int().positive(),
  rooms: z.number().int().positive(),
  voiceprint: z.array(z.number()).min(1),
});

/** A voiceprint the daemon learned from a turn it named with confidence (no audio is kept). */
export const learnedVoiceprintSchema = z.object({
  id: z.string().regex(SAMPLE_ID_PATTERN, "learned id must be 1-64 of A-Z a-z 0-9 _ -"),
  createdAt: isoTimestamp,
  modelId: z.string().regex(MODEL_ID_PATTERN, "invalid model id"),
  speechSeconds: z.number().nonnegative(),
  /** The room that heard it (the daemon's `room`). */
  room: z.string().max(256),
  voiceprint: z.array(z.number()).min(1),
});

export const sampleSchema = z.object({
  id: z.string().regex(SAMPLE_ID_PATTERN, "sample id must be 1-64 of A-Z a-z 0-9 _ -"),
  createdAt: isoTimestamp,
  speechSeconds: z.number().nonnegative(),
  durationSeconds: z.number().nonnegative(),
  /** Where the audio came from ("cli", "http", "microphone", ...); open-ended on purpose. */
  source: z.string().min(1).max(64),
  /**
   * Kept clip, relative to the data dir. Pinned to clips/<speakerId>/<sampleId>.wav so a hand-edited file
   * can never make remove() delete something outside the clips dir.
   */
  clip: z
    .string()
    .regex(/^clips\/[a-z0-9-]+\/[A-Za-z0-9_-]+\.wav$/, "clip must be clips/<speakerId>/<sampleId>.wav")
    .optional(),
  /** Voiceprint per embedding model id, so a model change does not silently compare incompatible vectors. */
  voiceprints: z.record(z.string().regex(MODEL_ID_PATTERN, "invalid model id"), z.array(z.number()).min(1)),
  /** Per model: the clip as heard in simulated rooms (src/enrolment/room-voiceprints.ts). */
  simulated: z
    .record(z.string().regex(MODEL_ID_PATTERN, "invalid model id"), simulatedVoiceprintSchema)
    .optional(),
});

/** The only encoder before thresholds were kept per model: a bare `threshold` was meant for it. */
const LEGACY_THRESHOLD_MODEL = "resemblyzer-0.1.4";

export const speakerSchema = z.preprocess(
  migrateLegacyThreshold,
  z.object({
    id: z.string().regex(SPEAKER_ID_PATTERN, "speaker id must be a lowercase slug"),
    name: z.string().min(1).max(64),
    createdAt: isoTimestamp,
    updatedAt: isoTimestamp,
    /** Per-speaker overrides of the default match threshold, per encoder model: cosine scales differ by model. */
    thresholds: z
      .record(z.string().regex(MODEL_ID_PATTERN, "invalid model id"), z.number().min(0).max(1))
      .optional(),
    samples: z.array(sampleSchema),
    /** Learned from confident turns, oldest first; bounded per model (see registry.addLearned). */
    learned: z.array(learnedVoiceprintSchema).optional(),
  }),
);

/** `threshold: n` (registries before per-model thresholds) becomes `thresholds: {resemblyzer-0.1.4: n}`. */
function migrateLegacyThreshold(value: unknown): unknown {
  if (value === null || typeof value !== "object" || !("threshold" in value)) return value;
  const { threshold, ...rest } = value as Record<string, unknown>;
  if ("thresholds" in rest || threshold === undefined) return value;
  return { ...rest, thresholds: { [LEGACY_THRESHOLD_MODEL]: threshold } };
}

/** A hybrid-logical-clock time: 13 digits of ms, a 4-digit counter, the node id. Sorts as text. */
export const HOUSEHOLD_STAMP_PATTERN = /^\d{13}-\d{4}-[0-9a-f]{12}$/;
export const HOUSEHOLD_NODE_PATTERN = /^[0-9a-f]{12}$/;
const householdStamp = z.string().regex(HOUSEHOLD_STAMP_PATTERN, "invalid household stamp");
/** When a value was last set, and a hash of it as synced, so a local edit shows as a changed hash. */
const stampedHashSchema = z.object({ t: householdStamp, h: z.string().max(64) });
const modelRecord = <T extends z.ZodType>(value: T) =>
  z.record(z.string().regex(MODEL_ID_PATTERN, "invalid model id"), value);

export const householdSampleMetaSchema = z.object({
  c: householdStamp,
  r: householdStamp.optional(),
  vp: modelRecord(stampedHashSchema).optional(),
  sim: modelRecord(stampedHashSchema).optional(),
});

export const householdPersonMetaSchema = z.object({
  inc: householdStamp,
  del: householdStamp.optional(),
  name: stampedHashSchema.optional(),
  thr: modelRecord(stampedHashSchema).optional(),
  samples: z.record(z.string().regex(SAMPLE_ID_PATTERN), householdSampleMetaSchema).optional(),
  learned: z.object({ h: z.string().max(64), cleared: isoTimestamp.optional() }).optional(),
  /** A person that does not exist here (deleted): the replicated record itself (src/household/records.ts). */
  ghost: z.json().optional(),
});

/** What household sharing keeps beside the speakers (src/household): this node, its clock, the stamps. */
export const householdMetaSchema = z.object({
  node: z.string().regex(HOUSEHOLD_NODE_PATTERN),
  clock: householdStamp.optional(),
  people: z.record(z.string().regex(SPEAKER_ID_PATTERN), householdPersonMetaSchema),
});

export const registryDataSchema = z
  .object({
    version: z.literal(REGISTRY_VERSION),
    speakers: z.array(speakerSchema),
    household: householdMetaSchema.optional(),
  })
  .superRefine((data, ctx) => {
    const ids = new Set<string>();
    const names = new Set<string>();
    data.speakers.forEach((speaker, i) => {
      if (ids.has(speaker.id)) {
        ctx.addIssue({
          code: "custom",
          path: ["speakers", i, "id"],
          message: `duplicate id "${speaker.id}"`,
        });
      }
      ids.add(speaker.id);
      const key = nameKey(speaker.name);
      if (names.has(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["speakers", i, "name"],
          message: `duplicate name "${speaker.name}"`,
        });
      }
      names.add(key);
      const sampleIds = new Set<string>();
      speaker.samples.forEach((sample, j) => {
        if (sampleIds.has(sample.id)) {
          ctx.addIssue({
            code: "custom",
            path: ["speakers", i, "samples", j, "id"],
            message: `duplicate sample id "${sample.id}"`,
          });
        }
        sampleIds.add(sample.id);
        if (sample.clip !== undefined && sample.clip !== `clips/${speaker.id}/${sample.id}.wav`) {
          ctx.addIssue({
            code: "custom",
            path: ["speakers", i, "samples", j, "clip"],
            message: `clip must be clips/${speaker.id}/${sample.id}.wav`,
          });
        }
      });
    });
  });

export type Sample = z.infer<typeof sampleSchema>;
export type SimulatedVoiceprint = z.infer<typeof simulatedVoiceprintSchema>;
export type LearnedVoiceprint = z.infer<typeof learnedVoiceprintSchema>;
export type Speaker = z.infer<typeof speakerSchema>;
export type RegistryData = z.infer<typeof registryDataSchema>;
export type HouseholdMeta = z.infer<typeof householdMetaSchema>;
export type HouseholdPersonMeta = z.infer<typeof householdPersonMetaSchema>;
export type HouseholdSampleMeta = z.infer<typeof householdSampleMetaSchema>;

/** Names compare case-insensitively and independent of Unicode composition. */
export function nameKey(name: string): string {
  return name.normalize("NFC").toLowerCase();
}

export function emptyRegistryData(): RegistryData {
  return { version: REGISTRY_VERSION, speakers: [] };
}

/** "speakers[0].samples[2].voiceprints: expected record, received array" — first few issues only. */
export function describeSchemaIssues(error: z.ZodError, max = 5): string {
  const lines = error.issues.slice(0, max).map((issue) => {
    const path = issue.path.reduce<string>((acc, key) => {
      if (typeof key === "number") return `${acc}[${key}]`;
      return acc === "" ? String(key) : `${acc}.${String(key)}`;
    }, "");
    return `${path === "" ? "(root)" : path}: ${issue.message}`;
  });
  const more = error.issues.length > max ? `; and ${error.issues.length - max} more` : "";
  return lines.join("; ") + more;
}
