import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import {
  AmbiguousSpeakerError,
  describeError,
  InvalidSampleError,
  InvalidSpeakerNameError,
  InvalidThresholdError,
  LookAlikeNameError,
  RegistryCorruptError,
  RegistryNotStartedError,
  SampleNotFoundError,
  SpeakerExistsError,
  SpeakerNotFoundError,
  TooManySamplesError,
} from "./errors.js";
import { lookAlikeKeys, looksAlike } from "./look-alike.js";
import { type AlternateCentroid, centroidOf, type MatchCandidate } from "./matcher.js";
import { assertNewSpeakerName, normalizeSpeakerName, uniqueSpeakerId } from "./names.js";
import {
  type LearnedVoiceprint,
  MODEL_ID_PATTERN,
  nameKey,
  type RegistryData,
  type Sample,
  type SimulatedVoiceprint,
  type Speaker,
} from "./schema.js";
import { CLIPS_DIR_NAME, type ClipWriter, RegistryStore } from "./store.js";

/** Generous upper bound; real encoders emit 192-512 dimensions. */
const MAX_VOICEPRINT_DIMENSIONS = 8192;
/** Samples one person may have: enough for every room and mood, bounded so the registry stays small. */
export const MAX_SAMPLES_PER_SPEAKER = 50;

export type SampleSource = "cli" | "http" | "microphone" | (string & {});

export interface NewSample {
  /** Voiceprint per model id; at least one. */
  voiceprints: Record<string, ArrayLike<number>>;
  speechSeconds: number;
  durationSeconds: number;
  source: SampleSource;
  /** WAV bytes to keep, so the sample can be re-embedded when the model changes. */
  clipWav?: Uint8Array;
  /** Per model: the clip as heard in simulated rooms. */
  simulated?: Record<string, SimulatedVoiceprint>;
}

/** A voiceprint learned from a confidently named turn. */
export interface NewLearned {
  modelId: string;
  voiceprint: ArrayLike<number>;
  speechSeconds: number;
  room: string;
}

/** What candidates() subtracts from the cosine to each kind of alternate centroid. */
export interface AlternatePenalties {
  simulated: number;
  learned: number;
}

/** Learned voiceprints kept per person and model: the newest replace the oldest. */
export const MAX_LEARNED_PER_MODEL = 20;

export type RegistryChangeKind = "created" | "renamed" | "removed" | "samples" | "threshold" | "learned";

export type RegistryChange =
  | {
      kind: RegistryChangeKind;
      /** The speaker after the change (for "removed": as it was). A copy; mutating it changes nothing. */
      speaker: Speaker;
      /** For "renamed": the old display name. */
      previousName?: string;
    }
  /**
   * Another process (e.g. `voiceid enroll` beside the daemon) changed the file, or household sharing
   * (`byHousehold`) merged records from other nodes: everything may differ.
   */
  | { kind: "reloaded"; byHousehold?: true };

export type RegistryChangeListener = (change: RegistryChange) => void | Promise<void>;

/** A sample that lacks a voiceprint for some model, with what is needed to re-embed it. */
export interface SampleMissingModel {
  speakerId: string;
  speakerName: string;
  sampleId: string;
  /** Absolute path of the kept clip, or null when the sample has none (it cannot be re-embedded). */
  clipPath: string | null;
  /** It has the model's voiceprint and lacks only its simulated rooms (or has an older simulation). */
  onlySimulated: boolean;
}

export interface SpeakerRegistryOptions {
  dataDir: string;
  logger: Logger;
}

/** Where an enrolment's samples go: an existing speaker, or one created in the same commit. */
export type SampleTarget = { speaker: string } | { createNamed: string };

/**
 * Enrolled speakers and their voiceprints: the operations, their validation, centroids and change events.
 * Storage (registry.json, clips, lock, watch, crash clean-up) is RegistryStore's.
 *
 * Every change is one commit: applied to a copy of the committed state, written atomically, and only then
 * the state, so a failed write leaves memory equal to disk. A registry.json that cannot be trusted stops
 * start() and is never written to.
 */
export class SpeakerRegistry implements Component {
  private readonly store: RegistryStore;
  private readonly log: Logger;
  private startError: RegistryCorruptError | null = null;
  private readonly listeners = new Set<RegistryChangeListener>();
  private readonly centroidCache = new Map<string, Float32Array | null>();

  constructor(options: SpeakerRegistryOptions) {
    this.log = options.logger;
    this.store = new RegistryStore({
      dataDir: options.dataDir,
      logger: options.logger,
      onReload: () => {
        this.centroidCache.clear();
        this.emit({ kind: "reloaded" });
      },
    });
  }

  get dataDir(): string {
    return this.store.dataDir;
  }

  get file(): string {
    return this.store.file;
  }

  get clipsDir(): string {
    return this.store.clipsDir;
  }

  /** Why the registry cannot be used or changed right now (a corrupt registry.json), or null when it can. */
  get problem(): RegistryCorruptError | null {
    return this.startError ?? this.store.problem;
  }

  async start(): Promise<void> {
    if (this.store.isOpen) return;
    this.centroidCache.clear();
    try {
      await this.store.open();
    } catch (err) {
      if (err instanceof RegistryCorruptError) this.startError = err;
      throw err;
    }
    this.startError = null;
    const speakers = this.store.data.speakers;
    this.log.info("speaker registry loaded", {
      file: this.store.file,
      speakers: speakers.length,
      samples: speakers.reduce((n, s) => n + s.samples.length, 0),
    });
  }

  async stop(): Promise<void> {
    await this.store.close();
  }

  /** Follows changes other processes (the CLI beside the daemon) make to the registry. */
  watch(): void {
    this.store.watch();
  }

  // ---- reads (synchronous, from committed state) ----

  /** All speakers, in creation order (copies). */
  list(): Speaker[] {
    return structuredClone(this.data().speakers);
  }

  /**
   * By id, else by display name (case-insensitive). A copy, or undefined. Throws AmbiguousSpeakerError when
   * the id of one speaker is the name of another (registries written before names and ids were kept apart).
   */
  get(idOrName: string): Speaker | undefined {
    const found = findOrUndefined(this.data(), idOrName);
    return found ? structuredClone(found) : undefined;
  }

  /**
   * Mean of the speaker's voiceprints for `modelId`, L2-normalised; null when it has none for that model.
   * Cached until the next change.
   */
  centroid(speaker: Speaker | string, modelId: string, kind: CentroidKind = "enrolled"): Float32Array | null {
    const id = typeof speaker === "string" ? speaker : speaker.id;
    const key = `${id}\u0000${modelId}\u0000${kind}`;
    let cached = this.centroidCache.get(key);
    if (cached === undefined) {
      const found = this.data().speakers.find((s) => s.id === id);
      if (!found) throw new SpeakerNotFoundError(id);
      cached = centroidOf(voiceprintsOf(found, modelId, kind));
      this.centroidCache.set(key, cached);
    }
    return cached === null ? null : cached.slice();
  }

  /**
   * Match candidates for `modelId`: every speaker with at least one enrolled voiceprint of that model,
   * with their simulated-room and learned centroids as alternates when `penalties` are given.
   */
  candidates(modelId: string, penalties?: AlternatePenalties): MatchCandidate[] {
    const out: MatchCandidate[] = [];
    for (const speaker of this.data().speakers) {
      const centroid = this.centroid(speaker.id, modelId);
      if (centroid === null) continue;
      const alternates: AlternateCentroid[] = [];
      if (penalties) {
        for (const kind of ["simulated", "learned"] as const) {
          const alternate = this.centroid(speaker.id, modelId, kind);
          if (alternate) alternates.push({ kind, centroid: alternate, penalty: penalties[kind] });
        }
      }
      out.push({
        id: speaker.id,
        name: speaker.name,
        centroid,
        ...(alternates.length > 0 ? { alternates } : {}),
        ...(speaker.thresholds?.[modelId] !== undefined ? { threshold: speaker.thresholds[modelId] } : {}),
      });
    }
    return out;
  }

  /** The kept clip of a sample (absolute path), or null when it was not kept. */
  clipOf(idOrName: string, sampleId: string): string | null {
    const speaker = findIn(this.data(), idOrName);
    const sample = speaker.samples.find((s) => s.id === sampleId);
    if (!sample) throw new SampleNotFoundError(speaker.id, sampleId);
    return this.clipPath(sample);
  }

  /**
   * Samples without a voiceprint for `modelId` (e.g. after a model change), or without its simulated
   * rooms of `simulationVersion`, to re-embed from their clips.
   */
  samplesMissingModel(modelId: string, simulationVersion?: number): SampleMissingModel[] {
    const out: SampleMissingModel[] = [];
    for (const speaker of this.data().speakers) {
      for (const sample of speaker.samples) {
        const hasVoiceprint = sample.voiceprints[modelId] !== undefined;
        const hasSimulated =
          simulationVersion === undefined || sample.simulated?.[modelId]?.version === simulationVersion;
        if (hasVoiceprint && hasSimulated) continue;
        out.push({
          speakerId: speaker.id,
          speakerName: speaker.name,
          sampleId: sample.id,
          clipPath: this.clipPath(sample),
          onlySimulated: hasVoiceprint,
        });
      }
    }
    return out;
  }

  /** Subscribes to committed changes; returns the unsubscribe function. */
  onChange(listener: RegistryChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- writes (serialised, atomic) ----

  /** `thresholds`: per-model overrides (model id -> 0..1). */
  async create(name: string, options: { thresholds?: Record<string, number> } = {}): Promise<Speaker> {
    const displayName = normalizeSpeakerName(name);
    for (const t of Object.values(options.thresholds ?? {})) checkThreshold(t);
    return this.commit(async (data) => {
      const speaker = createIn(data, displayName, options.thresholds);
      return { result: speaker, change: { kind: "created", speaker } };
    });
  }

  /** Changes the display name; the id stays the same. */
  async rename(idOrName: string, newName: string): Promise<Speaker> {
    const displayName = normalizeSpeakerName(newName);
    return this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      if (speaker.name === displayName) return { result: speaker, change: null };
      assertNameFree(data, displayName, speaker.id);
      const previousName = speaker.name;
      speaker.name = displayName;
      speaker.updatedAt = new Date().toISOString();
      return { result: speaker, change: { kind: "renamed", speaker, previousName } };
    });
  }

  /** Sets (number in 0..1) or clears (null) the speaker's threshold override for one encoder model. */
  async setThreshold(idOrName: string, modelId: string, threshold: number | null): Promise<Speaker> {
    if (threshold !== null) checkThreshold(threshold);
    if (!MODEL_ID_PATTERN.test(modelId)) throw new InvalidSampleError(`invalid model id "${modelId}"`);
    return this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      const thresholds = { ...speaker.thresholds };
      if (threshold === null) delete thresholds[modelId];
      else thresholds[modelId] = threshold;
      if (Object.keys(thresholds).length === 0) delete speaker.thresholds;
      else speaker.thresholds = thresholds;
      speaker.updatedAt = new Date().toISOString();
      return { result: speaker, change: { kind: "threshold", speaker } };
    });
  }

  /** Removes the speaker and (after the registry is written) its clips. */
  async remove(idOrName: string): Promise<Speaker> {
    const removed = await this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      data.speakers = data.speakers.filter((s) => s.id !== speaker.id);
      return { result: speaker, change: { kind: "removed", speaker } };
    });
    // After the commit: a clip without a registry entry is harmless (and cleaned at the next start).
    await this.store.removeFiles(`${CLIPS_DIR_NAME}/${removed.id}`, "clips of removed speaker");
    return removed;
  }

  async addSample(idOrName: string, input: NewSample): Promise<Sample> {
    const { samples } = await this.addSamples({ speaker: idOrName }, [input]);
    return samples[0];
  }

  /**
   * Adds samples (and their clips) in one commit: all of them, or none. With `createNamed` the speaker is
   * created in the same commit (or joined, when a speaker of that name exists by then).
   */
  async addSamples(
    target: SampleTarget,
    inputs: readonly NewSample[],
  ): Promise<{ speaker: Speaker; created: boolean; samples: Sample[] }> {
    if (inputs.length === 0) throw new InvalidSampleError("no samples given");
    const checked = inputs.map((input) => ({
      input,
      voiceprints: checkNewSample(input),
      simulated: input.simulated ? checkSimulated(input.simulated) : undefined,
    }));
    const displayName = "createNamed" in target ? normalizeSpeakerName(target.createNamed) : null;
    return this.commit(async (data, clips) => {
      let speaker = findOrUndefined(data, "speaker" in target ? target.speaker : (displayName as string));
      let created = false;
      if (!speaker) {
        if (displayName === null) throw new SpeakerNotFoundError((target as { speaker: string }).speaker);
        speaker = createIn(data, displayName, undefined);
        created = true;
      }
      if (speaker.samples.length + checked.length > MAX_SAMPLES_PER_SPEAKER) {
        throw new TooManySamplesError(speaker.name, speaker.samples.length, MAX_SAMPLES_PER_SPEAKER);
      }
      const taken = new Set(speaker.samples.map((s) => s.id));
      const samples: Sample[] = [];
      const now = new Date().toISOString();
      for (const { input, voiceprints, simulated } of checked) {
        checkDimensions(data, voiceprints);
        if (simulated) checkDimensions(data, simulatedVectors(simulated));
        let sampleId = newSampleId();
        while (taken.has(sampleId)) sampleId = newSampleId();
        taken.add(sampleId);
        const sample: Sample = {
          id: sampleId,
          createdAt: now,
          speechSeconds: input.speechSeconds,
          durationSeconds: input.durationSeconds,
          source: input.source,
          voiceprints,
          ...(simulated ? { simulated } : {}),
        };
        if (input.clipWav) {
          sample.clip = `${CLIPS_DIR_NAME}/${speaker.id}/${sampleId}.wav`;
          await clips.write(sample.clip, input.clipWav);
        }
        speaker.samples.push(sample);
        samples.push(sample);
      }
      speaker.updatedAt = now;
      const change: RegistryChange = { kind: created ? "created" : "samples", speaker };
      return { result: { speaker, created, samples }, change };
    });
  }

  async removeSample(idOrName: string, sampleId: string): Promise<Sample> {
    const removed = await this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      const sample = speaker.samples.find((s) => s.id === sampleId);
      if (!sample) throw new SampleNotFoundError(speaker.id, sampleId);
      speaker.samples = speaker.samples.filter((s) => s.id !== sampleId);
      speaker.updatedAt = new Date().toISOString();
      return { result: sample, change: { kind: "samples", speaker } };
    });
    if (removed.clip) await this.store.removeFiles(removed.clip, "clip of removed sample");
    return removed;
  }

  /** Stores (or replaces) one model's voiceprint of an existing sample, e.g. after re-embedding its clip. */
  async setVoiceprint(
    idOrName: string,
    sampleId: string,
    modelId: string,
    vector: ArrayLike<number>,
  ): Promise<Sample> {
    const voiceprints = checkVoiceprints({ [modelId]: vector });
    return this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      const sample = speaker.samples.find((s) => s.id === sampleId);
      if (!sample) throw new SampleNotFoundError(speaker.id, sampleId);
      checkDimensions(data, voiceprints, sample);
      sample.voiceprints[modelId] = voiceprints[modelId];
      speaker.updatedAt = new Date().toISOString();
      return { result: sample, change: { kind: "samples", speaker } };
    });
  }

  /** Stores (or replaces) one model's simulated-room voiceprint of an existing sample. */
  async setSimulated(
    idOrName: string,
    sampleId: string,
    modelId: string,
    simulated: SimulatedVoiceprint,
  ): Promise<Sample> {
    const checked = checkSimulated({ [modelId]: simulated });
    return this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      const sample = speaker.samples.find((s) => s.id === sampleId);
      if (!sample) throw new SampleNotFoundError(speaker.id, sampleId);
      checkDimensions(data, simulatedVectors(checked));
      sample.simulated = { ...sample.simulated, ...checked };
      speaker.updatedAt = new Date().toISOString();
      return { result: sample, change: { kind: "samples", speaker } };
    });
  }

  /**
   * Adds a learned voiceprint; beyond MAX_LEARNED_PER_MODEL of its model the oldest goes. Learned
   * voiceprints are kept apart from samples: they can be listed and forgotten on their own.
   */
  async addLearned(idOrName: string, input: NewLearned): Promise<LearnedVoiceprint> {
    const vector = checkVoiceprints({ [input.modelId]: input.voiceprint })[input.modelId];
    if (!Number.isFinite(input.speechSeconds) || input.speechSeconds < 0) {
      throw new InvalidSampleError(`speechSeconds must be a non-negative number, got ${input.speechSeconds}`);
    }
    return this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      checkDimensions(data, { [input.modelId]: vector });
      const learned: LearnedVoiceprint = {
        id: newSampleId(),
        createdAt: new Date().toISOString(),
        modelId: input.modelId,
        speechSeconds: input.speechSeconds,
        room: input.room.slice(0, 256),
        voiceprint: vector,
      };
      const kept = [...(speaker.learned ?? []), learned];
      const ofModel = kept.filter((l) => l.modelId === input.modelId);
      const drop = new Set(ofModel.slice(0, Math.max(0, ofModel.length - MAX_LEARNED_PER_MODEL)));
      speaker.learned = kept.filter((l) => !drop.has(l));
      // Not `updatedAt`: learning is the daemon's, not an edit of the person.
      return { result: learned, change: { kind: "learned", speaker } };
    });
  }

  /** Forgets everything learned about the speaker (every model); returns how many voiceprints went. */
  async forgetLearned(idOrName: string): Promise<{ speaker: Speaker; forgotten: number }> {
    return this.commit(async (data) => {
      const speaker = findIn(data, idOrName);
      const forgotten = speaker.learned?.length ?? 0;
      if (forgotten === 0) return { result: { speaker, forgotten }, change: null };
      delete speaker.learned;
      speaker.updatedAt = new Date().toISOString();
      return { result: { speaker, forgotten }, change: { kind: "learned", speaker } };
    });
  }

  /**
   * Keeps a clip received from another node for a sample that has none here (household.shareClips), so it
   * can be re-embedded with this node's encoder. False when the sample is unknown or has a clip already.
   */
  async attachClip(speakerId: string, sampleId: string, wav: Uint8Array): Promise<boolean> {
    checkClipWav(wav);
    return this.commit(async (data, clips) => {
      const sample = data.speakers.find((s) => s.id === speakerId)?.samples.find((s) => s.id === sampleId);
      if (!sample || sample.clip !== undefined) return { result: false, change: null };
      const speaker = data.speakers.find((s) => s.id === speakerId) as Speaker;
      sample.clip = `${CLIPS_DIR_NAME}/${speakerId}/${sampleId}.wav`;
      await clips.write(sample.clip, wav);
      return { result: true, change: { kind: "samples", speaker } };
    });
  }

  /**
   * Household sharing (src/household): applies `mutate` to the whole registry, speakers and their household
   * stamps, under the same lock and atomic write as every edit, so a kill -9 mid-sync loses nothing.
   * Listeners hear "reloaded" when it changed something; the clips it names are deleted after the commit.
   */
  async replicate<T>(
    mutate: (draft: RegistryData) => { result: T; changed: boolean; removedClips?: string[] },
  ): Promise<T> {
    this.data();
    let removedClips: string[] = [];
    let changed = false;
    const result = await this.store.transact(async (draft) => {
      const outcome = mutate(draft);
      changed = outcome.changed;
      removedClips = outcome.removedClips ?? [];
      return { result: outcome.result, changed };
    });
    if (changed) {
      this.centroidCache.clear();
      this.emit({ kind: "reloaded", byHousehold: true });
    }
    for (const clip of removedClips)
      await this.store.removeFiles(clip, "clip of a person or sample removed elsewhere");
    return result;
  }

  // ---- internals ----

  private clipPath(sample: Sample): string | null {
    return sample.clip ? path.join(this.dataDir, sample.clip) : null;
  }

  private data(): RegistryData {
    if (!this.store.isOpen) throw this.startError ?? new RegistryNotStartedError();
    return this.store.data;
  }

  /** One commit through the store; on success the caches are dropped and listeners told. */
  private async commit<T>(
    mutate: (data: RegistryData, clips: ClipWriter) => Promise<{ result: T; change: RegistryChange | null }>,
  ): Promise<T> {
    this.data(); // a registry that did not start says why
    let change: RegistryChange | null = null;
    const result = await this.store.transact(async (data, clips) => {
      const outcome = await mutate(data, clips);
      change = outcome.change;
      return { result: outcome.result, changed: change !== null };
    });
    if (change !== null) {
      this.centroidCache.clear();
      this.emit(change);
    }
    return structuredClone(result);
  }

  private emit(change: RegistryChange): void {
    for (const listener of this.listeners) {
      const copy = structuredClone(change);
      try {
        const pending = listener(copy);
        if (pending instanceof Promise) {
          pending.catch((err: unknown) => this.reportListenerError(change, err));
        }
      } catch (err) {
        this.reportListenerError(change, err);
      }
    }
  }

  private reportListenerError(change: RegistryChange, err: unknown): void {
    this.log.warn("registry change listener failed", {
      kind: change.kind,
      ...("speaker" in change ? { speaker: change.speaker.id } : {}),
      error: describeError(err),
    });
  }
}

/** Which of a speaker's voiceprints a centroid averages. */
export type CentroidKind = "enrolled" | "simulated" | "learned";

function voiceprintsOf(speaker: Speaker, modelId: string, kind: CentroidKind): number[][] {
  switch (kind) {
    case "enrolled":
      return speaker.samples.flatMap((s) => (s.voiceprints[modelId] ? [s.voiceprints[modelId]] : []));
    case "simulated":
      return speaker.samples.flatMap((s) =>
        s.simulated?.[modelId] ? [s.simulated[modelId].voiceprint] : [],
      );
    case "learned":
      return (speaker.learned ?? []).flatMap((l) => (l.modelId === modelId ? [l.voiceprint] : []));
  }
}

function checkSimulated(simulated: Record<string, SimulatedVoiceprint>): Record<string, SimulatedVoiceprint> {
  const out: Record<string, SimulatedVoiceprint> = {};
  const vectors = checkVoiceprints(
    Object.fromEntries(Object.entries(simulated).map(([modelId, s]) => [modelId, s.voiceprint])),
  );
  for (const [modelId, s] of Object.entries(simulated)) {
    if (!Number.isInteger(s.version) || s.version < 1 || !Number.isInteger(s.rooms) || s.rooms < 1) {
      throw new InvalidSampleError(`simulated voiceprint for "${modelId}" needs a version and a room count`);
    }
    out[modelId] = { version: s.version, rooms: s.rooms, voiceprint: vectors[modelId] };
  }
  return out;
}

function simulatedVectors(simulated: Record<string, SimulatedVoiceprint>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(simulated).map(([modelId, s]) => [modelId, s.voiceprint]));
}

function createIn(
  data: RegistryData,
  displayName: string,
  thresholds: Record<string, number> | undefined,
): Speaker {
  assertNameFree(data, displayName, null);
  const now = new Date().toISOString();
  // An id never equals another speaker's name, so id-or-name lookups cannot pick the wrong person.
  const taken = new Set(data.speakers.flatMap((s) => [s.id, nameKey(s.name)]));
  const speaker: Speaker = {
    id: uniqueSpeakerId(displayName, taken),
    name: displayName,
    createdAt: now,
    updatedAt: now,
    ...(thresholds !== undefined && Object.keys(thresholds).length > 0
      ? { thresholds: { ...thresholds } }
      : {}),
    samples: [],
  };
  data.speakers.push(speaker);
  return speaker;
}

function findOrUndefined(data: RegistryData, idOrName: string): Speaker | undefined {
  const byId = data.speakers.find((s) => s.id === idOrName);
  const key = nameKey(idOrName.trim());
  const byName = data.speakers.find((s) => nameKey(s.name) === key);
  if (byId && byName && byId !== byName) throw new AmbiguousSpeakerError(idOrName, byId.id, byName.id);
  return byId ?? byName;
}

function findIn(data: RegistryData, idOrName: string): Speaker {
  const speaker = findOrUndefined(data, idOrName);
  if (!speaker) throw new SpeakerNotFoundError(idOrName);
  return speaker;
}

/**
 * A name given now must be allowed (assertNewSpeakerName) and be nobody else's, nor look like it. Names
 * that look alike but are in the registry already (from before the rule) stay: nothing a user has is refused.
 */
function assertNameFree(data: RegistryData, name: string, exceptId: string | null): void {
  assertNewSpeakerName(name);
  const key = nameKey(name);
  const others = data.speakers.filter((s) => s.id !== exceptId);
  const clash = others.find((s) => nameKey(s.name) === key);
  if (clash) throw new SpeakerExistsError(name, clash.id);
  const looks = lookAlikeKeys(name);
  const lookAlike = others.find((s) => looksAlike(lookAlikeKeys(s.name), looks));
  if (lookAlike) throw new LookAlikeNameError(name, lookAlike.name, lookAlike.id);
  const idClash = others.find((s) => s.id === key);
  if (idClash) {
    throw new InvalidSpeakerNameError(name, `it is the id of speaker "${idClash.name}"; choose another name`);
  }
}

function checkThreshold(threshold: unknown): void {
  if (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    throw new InvalidThresholdError(threshold);
  }
}

function newSampleId(): string {
  return randomBytes(5).toString("hex");
}

function checkNewSample(input: NewSample): Record<string, number[]> {
  for (const key of ["speechSeconds", "durationSeconds"] as const) {
    const value = input[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new InvalidSampleError(`${key} must be a non-negative number, got ${String(value)}`);
    }
  }
  if (typeof input.source !== "string" || input.source.length === 0 || input.source.length > 64) {
    throw new InvalidSampleError("source must be a non-empty string of at most 64 characters");
  }
  if (input.clipWav !== undefined) checkClipWav(input.clipWav);
  return checkVoiceprints(input.voiceprints);
}

function checkClipWav(wav: Uint8Array): void {
  const ascii = (from: number) => String.fromCharCode(...wav.subarray(from, from + 4));
  // The bytes were decoded already (or written by voiceid): what the decoder reads, RF64 too, is kept as sent.
  const riff = ascii(0) === "RIFF" || ascii(0) === "RF64";
  if (!(wav instanceof Uint8Array) || wav.length < 12 || !riff || ascii(8) !== "WAVE") {
    throw new InvalidSampleError("clipWav must be the bytes of a WAV file (RIFF or RF64/WAVE header)");
  }
}

/** Copies voiceprints into plain number arrays, rejecting empty, non-finite or oversized vectors. */
function checkVoiceprints(voiceprints: Record<string, ArrayLike<number>>): Record<string, number[]> {
  if (typeof voiceprints !== "object" || voiceprints === null) {
    throw new InvalidSampleError("voiceprints must be an object of model id -> vector");
  }
  const entries = Object.entries(voiceprints);
  if (entries.length === 0) throw new InvalidSampleError("at least one voiceprint is required");
  const out: Record<string, number[]> = {};
  for (const [modelId, vector] of entries) {
    if (!MODEL_ID_PATTERN.test(modelId)) throw new InvalidSampleError(`invalid model id "${modelId}"`);
    if (
      typeof vector?.length !== "number" ||
      vector.length === 0 ||
      vector.length > MAX_VOICEPRINT_DIMENSIONS
    ) {
      throw new InvalidSampleError(
        `voiceprint for "${modelId}" must have 1-${MAX_VOICEPRINT_DIMENSIONS} dimensions`,
      );
    }
    const values = Array.from(vector);
    if (!values.every((v) => typeof v === "number" && Number.isFinite(v))) {
      throw new InvalidSampleError(`voiceprint for "${modelId}" contains a non-finite value`);
    }
    out[modelId] = values;
  }
  return out;
}

/** All voiceprints of one model must share a dimension, or centroids and cosines are meaningless. */
function checkDimensions(data: RegistryData, voiceprints: Record<string, number[]>, except?: Sample): void {
  for (const [modelId, vector] of Object.entries(voiceprints)) {
    const existing = data.speakers
      .flatMap((speaker) => speaker.samples)
      .find((sample) => sample !== except && sample.voiceprints[modelId] !== undefined)?.voiceprints[modelId];
    if (existing && existing.length !== vector.length) {
      throw new InvalidSampleError(
        `voiceprint for "${modelId}" has ${vector.length} dimensions, enrolled ones have ${existing.length}`,
      );
    }
  }
}
