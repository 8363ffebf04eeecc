import { createHash } from "node:crypto";
import { z } from "zod";
import {
  HOUSEHOLD_STAMP_PATTERN,
  type HouseholdMeta,
  type HouseholdPersonMeta,
  type HouseholdSampleMeta,
  type LearnedVoiceprint,
  learnedVoiceprintSchema,
  MODEL_ID_PATTERN,
  nameKey,
  type RegistryData,
  SAMPLE_ID_PATTERN,
  type Sample,
  type SimulatedVoiceprint,
  SPEAKER_ID_PATTERN,
  type Speaker,
  simulatedVoiceprintSchema,
} from "../registry/schema.js";
import { type HybridClock, maxStamp, type Stamp, stampIso } from "./clock.js";

/**
 * One person as the household replicates it: a state-based CRDT (a join semilattice), so merging the same
 * records in any order, any number of times, gives the same person everywhere.
 *
 * The rules, in two sentences: every field (name, each model's threshold, each sample's voiceprint per
 * model) carries the hybrid-logical-clock stamp of its last edit and the highest stamp wins; a person
 * exists while their creation stamp (`inc`) is above their deletion stamp (`del`), and a deletion voids
 * every sample and field stamped before it, so a node that was offline cannot bring them back.
 *
 * Removed samples and deleted people stay as tombstones of stamps only (about 150 bytes, no name or
 * voiceprint) for as long as the household exists: no expiry, so a node may be away for any time.
 */

export interface Lww<T> {
  t: Stamp;
  v: T;
}

export interface SampleInfo {
  createdAt: string;
  speechSeconds: number;
  durationSeconds: number;
  source: string;
}

export interface SampleRecord {
  c: Stamp;
  r?: Stamp;
  info?: SampleInfo;
  vp?: Record<string, Lww<number[]>>;
  sim?: Record<string, Lww<SimulatedVoiceprint>>;
}

export interface PersonRecord {
  id: string;
  inc: Stamp;
  del?: Stamp;
  name?: Lww<string>;
  thr?: Record<string, Lww<number | null>>;
  samples?: Record<string, SampleRecord>;
  learned?: { cleared?: string; items: LearnedVoiceprint[] };
}

/** Samples (with tombstones) one record may carry: MAX_SAMPLES_PER_SPEAKER live plus removed ones. */
const MAX_SAMPLE_ENTRIES = 2000;
const MAX_DIMENSIONS = 8192;
export const MAX_LEARNED_PER_MODEL = 20;

const stamp = z.string().regex(HOUSEHOLD_STAMP_PATTERN);
const modelId = z.string().regex(MODEL_ID_PATTERN);
const vector = z.array(z.number().refine(Number.isFinite)).min(1).max(MAX_DIMENSIONS);
const lww = <T extends z.ZodType>(value: T) => z.strictObject({ t: stamp, v: value });

/** What a decrypted record must look like; anything else is rejected before it reaches the registry. */
export const personRecordSchema = z.strictObject({
  id: z.string().regex(SPEAKER_ID_PATTERN).max(128),
  inc: stamp,
  del: stamp.optional(),
  name: lww(z.string().trim().min(1).max(64)).optional(),
  thr: z.record(modelId, lww(z.number().min(0).max(1).nullable())).optional(),
  samples: z
    .record(
      z.string().regex(SAMPLE_ID_PATTERN),
      z.strictObject({
        c: stamp,
        r: stamp.optional(),
        info: z
          .strictObject({
            createdAt: z.iso.datetime({ offset: true }),
            speechSeconds: z.number().nonnegative(),
            durationSeconds: z.number().nonnegative(),
            source: z.string().min(1).max(64),
          })
          .optional(),
        vp: z.record(modelId, lww(vector)).optional(),
        sim: z.record(modelId, lww(simulatedVoiceprintSchema.extend({ voiceprint: vector }))).optional(),
      }),
    )
    .refine((s) => Object.keys(s).length <= MAX_SAMPLE_ENTRIES, "too many samples")
    .optional(),
  learned: z
    .strictObject({
      cleared: z.iso.datetime({ offset: true }).optional(),
      items: z.array(learnedVoiceprintSchema.extend({ voiceprint: vector })).max(MAX_LEARNED_PER_MODEL * 16),
    })
    .optional(),
});

// ---------------------------------------------------------------------------------------------------------
// Merge

export function exists(record: PersonRecord): boolean {
  return record.del === undefined || record.inc > record.del;
}

function newer<T>(a: Lww<T> | undefined, b: Lww<T> | undefined): Lww<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.t > a.t ? b : a;
}

function mergeMaps<T>(
  a: Record<string, T> | undefined,
  b: Record<string, T> | undefined,
  pick: (x: T | undefined, y: T | undefined) => T | undefined,
): Record<string, T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const out: Record<string, T> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const value = pick(a[key], b[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function mergeSample(a: SampleRecord | undefined, b: SampleRecord | undefined): SampleRecord | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  // Both sides name the same creation; the lesser stamp keeps the merge order-free even if they differ.
  const out: SampleRecord = { c: [a.c, b.c].sort()[0] };
  const r = maxStamp(a.r, b.r);
  if (r !== undefined) out.r = r;
  // Written once at creation, so both sides agree; were they ever to differ, the lesser text wins everywhere.
  const info =
    a.info && b.info ? (canonical(a.info) <= canonical(b.info) ? a.info : b.info) : (a.info ?? b.info);
  if (info) out.info = info;
  const vp = mergeMaps(a.vp, b.vp, newer);
  if (vp) out.vp = vp;
  const sim = mergeMaps(a.sim, b.sim, newer);
  if (sim) out.sim = sim;
  return out;
}

/** Learned voiceprints are a grow-only set kept to the newest of each model: any merge order agrees. */
function learnedOrder(a: LearnedVoiceprint, b: LearnedVoiceprint): number {
  return a.createdAt < b.createdAt
    ? -1
    : a.createdAt > b.createdAt
      ? 1
      : a.id < b.id
        ? -1
        : a.id > b.id
          ? 1
          : 0;
}

function newestLearned(items: LearnedVoiceprint[]): LearnedVoiceprint[] {
  const byId = new Map<string, LearnedVoiceprint>();
  for (const item of items) {
    const seen = byId.get(item.id);
    if (!seen || learnedOrder(seen, item) < 0) byId.set(item.id, item);
  }
  const sorted = [...byId.values()].sort(learnedOrder);
  const perModel = new Map<string, number>();
  const kept: LearnedVoiceprint[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const n = perModel.get(sorted[i].modelId) ?? 0;
    if (n >= MAX_LEARNED_PER_MODEL) continue;
    perModel.set(sorted[i].modelId, n + 1);
    kept.push(sorted[i]);
  }
  return kept.reverse();
}

/** The join of two records of one person (either may be missing). Commutative, associative, idempotent. */
export function mergeRecords(a: PersonRecord | undefined, b: PersonRecord): PersonRecord {
  if (a === undefined) return normalize(b);
  const out: PersonRecord = { id: a.id, inc: maxStamp(a.inc, b.inc) as Stamp };
  const del = maxStamp(a.del, b.del);
  if (del !== undefined) out.del = del;
  const name = newer(a.name, b.name);
  if (name) out.name = name;
  const thr = mergeMaps(a.thr, b.thr, newer);
  if (thr) out.thr = thr;
  const samples = mergeMaps(a.samples, b.samples, mergeSample);
  if (samples) out.samples = samples;
  if (a.learned || b.learned) {
    const cleared = [a.learned?.cleared, b.learned?.cleared]
      .filter((c) => c !== undefined)
      .sort()
      .pop();
    out.learned = {
      ...(cleared !== undefined ? { cleared } : {}),
      items: [...(a.learned?.items ?? []), ...(b.learned?.items ?? [])],
    };
  }
  return normalize(out);
}

/**
 * What a deletion voids: fields and samples stamped before it, learned voiceprints made before it or before
 * a "forget learned"; removed samples keep only their stamps. Thresholds only grow, so this commutes with
 * the merge.
 */
export function normalize(record: PersonRecord): PersonRecord {
  const del = record.del;
  const alive = <T extends { t: Stamp }>(x: T | undefined) =>
    x && (del === undefined || x.t > del) ? x : undefined;
  const out: PersonRecord = { id: record.id, inc: record.inc };
  if (del !== undefined) out.del = del;
  const name = alive(record.name);
  if (name) out.name = name;
  const thr = keepValues(record.thr, alive);
  if (thr) out.thr = thr;
  if (record.samples) {
    const samples: Record<string, SampleRecord> = {};
    for (const [id, s] of Object.entries(record.samples)) {
      if (del !== undefined && s.c <= del) continue;
      if (s.r !== undefined) {
        samples[id] = { c: s.c, r: s.r };
        continue;
      }
      const sample: SampleRecord = { c: s.c };
      if (s.info) sample.info = s.info;
      if (s.vp) sample.vp = s.vp;
      if (s.sim) sample.sim = s.sim;
      samples[id] = sample;
    }
    if (Object.keys(samples).length > 0) out.samples = samples;
  }
  if (record.learned) {
    const delIso = del === undefined ? undefined : stampIso(del);
    const floor = [record.learned.cleared, delIso]
      .filter((x) => x !== undefined)
      .sort()
      .pop();
    const items = newestLearned(
      record.learned.items.filter((l) => floor === undefined || l.createdAt > floor),
    );
    out.learned = {
      ...(record.learned.cleared !== undefined ? { cleared: record.learned.cleared } : {}),
      items,
    };
  }
  return out;
}

function keepValues<T>(
  map: Record<string, T> | undefined,
  keep: (value: T) => T | undefined,
): Record<string, T> | undefined {
  if (!map) return undefined;
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(map)) if (keep(value) !== undefined) out[key] = value;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A stable text of a record (sorted keys): equal records give equal text. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    // Voiceprints: the native serialiser, much faster than a walk over every number.
    return isNumbers(value) ? JSON.stringify(value) : `[${value.map(canonical).join(",")}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object)
    .filter((k) => object[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(object[k])}`).join(",")}}`;
}

function isNumbers(values: unknown[]): values is number[] {
  for (const v of values) if (typeof v !== "number") return false;
  return true;
}

/** A short hash of a value; a voiceprint is hashed as its float64 bytes. */
export function hashOf(value: unknown): string {
  const hash = createHash("sha256");
  if (Array.isArray(value) && isNumbers(value)) hash.update(new Uint8Array(Float64Array.from(value).buffer));
  else hash.update(canonical(value));
  return hash.digest("hex").slice(0, 16);
}

// ---------------------------------------------------------------------------------------------------------
// Between records and the registry

/** The person as a registry speaker, or null when they do not exist. Local clip paths are kept. */
export function materialize(record: PersonRecord, previous?: Speaker): Speaker | null {
  if (!exists(record)) return null;
  let updated = record.inc;
  const bump = (t: Stamp | undefined) => {
    if (t !== undefined && t > updated) updated = t;
  };
  bump(record.name?.t);
  const thresholds: Record<string, number> = {};
  for (const [model, entry] of Object.entries(record.thr ?? {})) {
    bump(entry.t);
    if (entry.v !== null) thresholds[model] = entry.v;
  }
  const samples: Sample[] = [];
  const entries = Object.entries(record.samples ?? {}).sort(([ia, a], [ib, b]) =>
    a.c < b.c ? -1 : a.c > b.c ? 1 : ia < ib ? -1 : 1,
  );
  for (const [id, s] of entries) {
    bump(s.r ?? s.c);
    if (s.r !== undefined || !s.info) continue;
    const sample: Sample = {
      id,
      createdAt: s.info.createdAt,
      speechSeconds: s.info.speechSeconds,
      durationSeconds: s.info.durationSeconds,
      source: s.info.source,
      voiceprints: {},
    };
    const clip = previous?.samples.find((p) => p.id === id)?.clip;
    if (clip) sample.clip = clip;
    for (const [model, entry] of Object.entries(s.vp ?? {})) {
      bump(entry.t);
      sample.voiceprints[model] = entry.v;
    }
    for (const [model, entry] of Object.entries(s.sim ?? {})) {
      bump(entry.t);
      sample.simulated ??= {};
      sample.simulated[model] = entry.v;
    }
    samples.push(sample);
  }
  const speaker: Speaker = {
    id: record.id,
    name: record.name?.v ?? record.id,
    createdAt: stampIso(record.inc),
    updatedAt: stampIso(updated),
    samples,
  };
  if (Object.keys(thresholds).length > 0) speaker.thresholds = thresholds;
  const learned = record.learned?.items ?? [];
  if (learned.length > 0) speaker.learned = learned;
  return speaker;
}

const learnedHash = (items: readonly LearnedVoiceprint[] | undefined) =>
  hashOf((items ?? []).map((l) => l.id).sort());

/** The stamps (and hashes of the values) the registry keeps for a record. */
export function metaOf(record: PersonRecord): HouseholdPersonMeta {
  const meta: HouseholdPersonMeta = { inc: record.inc };
  if (record.del !== undefined) meta.del = record.del;
  if (!exists(record)) {
    // Edits made after the deletion by a node that missed it: invisible, but part of the record.
    if (record.name || record.thr || record.samples || record.learned?.items.length)
      meta.ghost = record as never;
    return meta;
  }
  if (record.name) meta.name = { t: record.name.t, h: hashOf(record.name.v) };
  if (record.thr) {
    meta.thr = Object.fromEntries(
      Object.entries(record.thr).map(([m, e]) => [m, { t: e.t, h: hashOf(e.v) }]),
    );
  }
  if (record.samples) {
    meta.samples = {};
    for (const [id, s] of Object.entries(record.samples)) {
      const sm: HouseholdSampleMeta = { c: s.c };
      if (s.r !== undefined) sm.r = s.r;
      if (s.vp)
        sm.vp = Object.fromEntries(Object.entries(s.vp).map(([m, e]) => [m, { t: e.t, h: hashOf(e.v) }]));
      if (s.sim)
        sm.sim = Object.fromEntries(Object.entries(s.sim).map(([m, e]) => [m, { t: e.t, h: hashOf(e.v) }]));
      meta.samples[id] = sm;
    }
  }
  if (record.learned) {
    meta.learned = {
      h: learnedHash(record.learned.items),
      ...(record.learned.cleared !== undefined ? { cleared: record.learned.cleared } : {}),
    };
  }
  return meta;
}

/** The record of `id` from the registry's speaker and stamps; undefined when the household never had them. */
export function recordOf(data: RegistryData, id: string): PersonRecord | undefined {
  const meta = data.household?.people[id];
  if (!meta) return undefined;
  if (meta.ghost !== undefined) return meta.ghost as unknown as PersonRecord;
  const record: PersonRecord = { id, inc: meta.inc };
  if (meta.del !== undefined) record.del = meta.del;
  const speaker = data.speakers.find((s) => s.id === id);
  if (!speaker || !exists(record)) return record;
  if (meta.name) record.name = { t: meta.name.t, v: speaker.name };
  if (meta.thr) {
    record.thr = Object.fromEntries(
      Object.entries(meta.thr).map(([m, e]) => [m, { t: e.t, v: speaker.thresholds?.[m] ?? null }]),
    );
  }
  if (meta.samples) {
    record.samples = {};
    for (const [sid, sm] of Object.entries(meta.samples)) {
      if (sm.r !== undefined) {
        record.samples[sid] = { c: sm.c, r: sm.r };
        continue;
      }
      const sample = speaker.samples.find((s) => s.id === sid);
      if (!sample) continue;
      const entry: SampleRecord = {
        c: sm.c,
        info: {
          createdAt: sample.createdAt,
          speechSeconds: sample.speechSeconds,
          durationSeconds: sample.durationSeconds,
          source: sample.source,
        },
      };
      for (const [m, e] of Object.entries(sm.vp ?? {})) {
        const v = sample.voiceprints[m];
        if (!v) continue;
        entry.vp ??= {};
        entry.vp[m] = { t: e.t, v };
      }
      for (const [m, e] of Object.entries(sm.sim ?? {})) {
        const v = sample.simulated?.[m];
        if (!v) continue;
        entry.sim ??= {};
        entry.sim[m] = { t: e.t, v };
      }
      record.samples[sid] = entry;
    }
  }
  if (meta.learned || speaker.learned?.length) {
    record.learned = {
      ...(meta.learned?.cleared !== undefined ? { cleared: meta.learned.cleared } : {}),
      items: speaker.learned ?? [],
    };
  }
  return record;
}

/**
 * Stamps what changed in the registry since it was last synced (edits through the API, the CLI, the page,
 * or names made unique after a merge): new people, names, thresholds, samples and their voiceprints,
 * removals. Returns the ids whose record changed.
 */
export function stampLocalEdits(data: RegistryData, clock: HybridClock): string[] {
  data.household ??= { node: clock.node, people: {} };
  const meta = data.household;
  const changed: string[] = [];
  for (const speaker of data.speakers) {
    const before = meta.people[speaker.id];
    const record = before === undefined ? undefined : recordOf(data, speaker.id);
    // Synced speakers carry their creation stamp's time: another createdAt means deleted and made anew
    // here before the deletion was stamped, and that deletion must still void the old one everywhere.
    const remade = record !== undefined && exists(record) && speaker.createdAt !== stampIso(record.inc);
    const fresh = record === undefined || !exists(record) || remade;
    let pm: HouseholdPersonMeta;
    if (fresh) {
      const del = remade ? clock.now() : before?.del;
      // Never seen by the household: created when the registry says. Made anew: after its deletion.
      pm = { inc: before === undefined ? clock.at(Date.parse(speaker.createdAt)) : clock.now() };
      if (del !== undefined) pm.del = del;
    } else {
      pm = structuredClone(before as HouseholdPersonMeta);
    }
    let dirty = fresh;
    const stampIfChanged = (entry: { t: Stamp; h: string } | undefined, value: unknown) => {
      const h = hashOf(value);
      if (entry?.h === h) return entry;
      dirty = true;
      return { t: clock.now(), h };
    };
    pm.name = stampIfChanged(pm.name, speaker.name);
    for (const model of new Set([...Object.keys(speaker.thresholds ?? {}), ...Object.keys(pm.thr ?? {})])) {
      pm.thr ??= {};
      pm.thr[model] = stampIfChanged(pm.thr[model], speaker.thresholds?.[model] ?? null);
    }
    pm.samples ??= {};
    for (const sample of speaker.samples) {
      const sm: HouseholdSampleMeta = pm.samples[sample.id] ?? { c: clock.now() };
      if (pm.samples[sample.id] === undefined || sm.r !== undefined) {
        dirty = true;
        delete sm.r;
      }
      for (const [model, v] of Object.entries(sample.voiceprints)) {
        sm.vp ??= {};
        sm.vp[model] = stampIfChanged(sm.vp[model], v);
      }
      for (const [model, v] of Object.entries(sample.simulated ?? {})) {
        sm.sim ??= {};
        sm.sim[model] = stampIfChanged(sm.sim[model], v);
      }
      pm.samples[sample.id] = sm;
    }
    for (const [sid, sm] of Object.entries(pm.samples)) {
      if (sm.r !== undefined || speaker.samples.some((s) => s.id === sid)) continue;
      pm.samples[sid] = { c: sm.c, r: clock.now() };
      dirty = true;
    }
    if (Object.keys(pm.samples).length === 0) delete pm.samples;
    const h = learnedHash(speaker.learned);
    if (pm.learned?.h !== h) {
      dirty = true;
      const forgot = (speaker.learned ?? []).length === 0 && pm.learned !== undefined;
      const cleared = forgot
        ? new Date(Math.max(Date.now(), Date.parse(pm.learned?.cleared ?? "0") + 1)).toISOString()
        : pm.learned?.cleared;
      pm.learned = { h, ...(cleared !== undefined ? { cleared } : {}) };
    }
    if (!dirty) continue;
    meta.people[speaker.id] = pm;
    changed.push(speaker.id);
  }
  for (const id of Object.keys(meta.people)) {
    if (data.speakers.some((s) => s.id === id)) continue;
    const record = recordOf(data, id) as PersonRecord;
    if (!exists(record)) continue;
    meta.people[id] = metaOf(normalize({ ...record, del: clock.now() }));
    changed.push(id);
  }
  // The speakers as every other node will show them (derived created/updated times, sample order).
  for (const id of changed) {
    const record = recordOf(data, id) as PersonRecord;
    meta.people[id] = metaOf(normalize(record));
    replaceSpeaker(
      data,
      id,
      materialize(
        normalize(record),
        data.speakers.find((s) => s.id === id),
      ),
    );
  }
  meta.clock = clock.last;
  return changed;
}

/** Result of merging one received record. */
export interface MergeOutcome {
  /** The registry changed. */
  changed: boolean;
  /** What this node holds differs from what was received: the broker should get ours. */
  publishBack: boolean;
  /** Clip files (relative to the data dir) of samples or people that are gone now. */
  removedClips: string[];
}

/** Merges a received record into the registry (speaker and stamps). Names are made unique afterwards. */
export function mergeReceived(data: RegistryData, received: PersonRecord, clock: HybridClock): MergeOutcome {
  data.household ??= { node: clock.node, people: {} };
  const meta = data.household;
  observeAll(clock, received);
  const local = recordOf(data, received.id);
  const merged = mergeRecords(local, received);
  const mergedText = canonical(merged);
  const publishBack = mergedText !== canonical(normalize(received));
  if (local !== undefined && mergedText === canonical(normalize(local))) {
    return { changed: false, publishBack, removedClips: [] };
  }
  const previous = data.speakers.find((s) => s.id === received.id);
  const speaker = materialize(merged, previous);
  const removedClips = (previous?.samples ?? [])
    .filter((s) => s.clip !== undefined && !speaker?.samples.some((kept) => kept.id === s.id))
    .map((s) => s.clip as string);
  meta.people[received.id] = metaOf(merged);
  replaceSpeaker(data, received.id, speaker);
  if (speaker) makeNameUnique(data, speaker.id);
  meta.clock = clock.last;
  return { changed: true, publishBack, removedClips };
}

function observeAll(clock: HybridClock, record: PersonRecord): void {
  let top = maxStamp(record.inc, record.del) as Stamp;
  const see = (t: Stamp | undefined) => {
    if (t !== undefined && t > top) top = t;
  };
  see(record.name?.t);
  for (const e of Object.values(record.thr ?? {})) see(e.t);
  for (const s of Object.values(record.samples ?? {})) {
    see(s.r ?? s.c);
    for (const e of Object.values(s.vp ?? {})) see(e.t);
    for (const e of Object.values(s.sim ?? {})) see(e.t);
  }
  clock.observe(top);
}

function replaceSpeaker(data: RegistryData, id: string, speaker: Speaker | null): void {
  const index = data.speakers.findIndex((s) => s.id === id);
  if (speaker === null) {
    if (index >= 0) data.speakers.splice(index, 1);
  } else if (index >= 0) data.speakers[index] = speaker;
  else data.speakers.push(speaker);
}

/**
 * Two people given the same name on two nodes at once: the one with the greater id is shown as
 * "Name (id)" on every node (the next stamping of local edits shares that rename like any other).
 */
function makeNameUnique(data: RegistryData, id: string): void {
  const speaker = data.speakers.find((s) => s.id === id) as Speaker;
  const clash = data.speakers.find((s) => s.id !== id && nameKey(s.name) === nameKey(speaker.name));
  if (!clash) return;
  const loser = clash.id > id ? clash : speaker;
  loser.name = `${loser.name.slice(0, 60 - loser.id.length)} (${loser.id})`;
}

/** Every person the household knows of, tombstones included. */
export function knownIds(data: RegistryData): string[] {
  return Object.keys(data.household?.people ?? {});
}

export type { HouseholdMeta };
