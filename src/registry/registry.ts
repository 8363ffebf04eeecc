import { randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Low } from "lowdb";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import {
  describeError,
  InvalidSampleError,
  InvalidThresholdError,
  RegistryCorruptError,
  RegistryNotStartedError,
  RegistryWriteError,
  SampleNotFoundError,
  SpeakerExistsError,
  SpeakerNotFoundError,
} from "./errors.js";
import { FileLock } from "./file-lock.js";
import { centroidOf, type MatchCandidate } from "./matcher.js";
import { AsyncMutex } from "./mutex.js";
import { normalizeSpeakerName, uniqueSpeakerId } from "./names.js";
import {
  emptyRegistryData,
  MODEL_ID_PATTERN,
  nameKey,
  type RegistryData,
  type Sample,
  type Speaker,
} from "./schema.js";
import { RegistryFile, tempPathFor, writeFileAtomic } from "./storage.js";

export const REGISTRY_FILE_NAME = "registry.json";
export const CLIPS_DIR_NAME = "clips";
/** Generous upper bound; real encoders emit 192-512 dimensions. */
const MAX_VOICEPRINT_DIMENSIONS = 8192;

export type SampleSource = "cli" | "http" | "microphone" | (string & {});

export interface NewSample {
  /** Voiceprint per model id; at least one. */
  voiceprints: Record<string, ArrayLike<number>>;
  speechSeconds: number;
  durationSeconds: number;
  source: SampleSource;
  /** WAV bytes to keep, so the sample can be re-embedded when the model changes. */
  clipWav?: Uint8Array;
}

export type RegistryChangeKind = "created" | "renamed" | "removed" | "samples" | "threshold";

export type RegistryChange =
  | {
      kind: RegistryChangeKind;
      /** The speaker after the change (for "removed": as it was). A copy; mutating it changes nothing. */
      speaker: Speaker;
      /** For "renamed": the old display name. */
      previousName?: string;
    }
  /** Another process (e.g. `voiceid enroll` beside the daemon) changed the file; everything may differ. */
  | { kind: "reloaded" };

export type RegistryChangeListener = (change: RegistryChange) => void | Promise<void>;

/** A sample that lacks a voiceprint for some model, with what is needed to re-embed it. */
export interface SampleMissingModel {
  speakerId: string;
  speakerName: string;
  sampleId: string;
  /** Absolute path of the kept clip, or null when the sample has none (it cannot be re-embedded). */
  clipPath: string | null;
}

export interface SpeakerRegistryOptions {
  dataDir: string;
  logger: Logger;
}

/**
 * Enrolled speakers and their voiceprints, persisted in <dataDir>/registry.json via lowdb, clips in
 * <dataDir>/clips/<speakerId>/<sampleId>.wav.
 *
 * Every mutation runs under one async mutex, is applied to a copy of the committed state, written
 * atomically, and only then becomes the in-memory state, so a failed write leaves memory equal to disk.
 * A registry.json that cannot be trusted stops start() and is never written to.
 */
export class SpeakerRegistry implements Component {
  readonly file: string;
  readonly clipsDir: string;
  private readonly log: Logger;
  private readonly db: Low<RegistryData>;
  private readonly mutex = new AsyncMutex();
  private state: "stopped" | "started" | "corrupt" = "stopped";
  private corruptError: RegistryCorruptError | null = null;
  private readonly listeners = new Set<RegistryChangeListener>();
  private readonly centroidCache = new Map<string, Float32Array | null>();
  /** What registry.json looked like when last read or written by us (ino:size:mtime, or "missing"). */
  private stamp = "missing";
  private readonly lock: FileLock;
  private watcher: FSWatcher | null = null;
  private watchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: SpeakerRegistryOptions) {
    this.file = path.join(options.dataDir, REGISTRY_FILE_NAME);
    this.clipsDir = path.join(options.dataDir, CLIPS_DIR_NAME);
    this.log = options.logger.child("registry");
    this.db = new Low<RegistryData>(new RegistryFile(this.file), emptyRegistryData());
    this.lock = new FileLock(`${this.file}.lock`);
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  async start(): Promise<void> {
    if (this.state === "started") return;
    await this.mutex.run(async () => {
      this.db.data = emptyRegistryData();
      this.centroidCache.clear();
      try {
        await this.db.read();
      } catch (err) {
        if (err instanceof RegistryCorruptError) {
          this.state = "corrupt";
          this.corruptError = err;
        }
        throw err;
      }
      this.stamp = await fileStamp(this.file);
      this.state = "started";
      this.corruptError = null;
      // A leftover temp file is a write that crashed before its rename; it never became the registry.
      await unlink(tempPathFor(this.file)).then(
        () => this.log.warn("removed leftover temp file of an interrupted write", { file: this.file }),
        () => {},
      );
      const samples = this.db.data.speakers.reduce((n, s) => n + s.samples.length, 0);
      this.log.info("speaker registry loaded", {
        file: this.file,
        speakers: this.db.data.speakers.length,
        samples,
      });
    });
  }

  async stop(): Promise<void> {
    this.unwatch();
    if (this.state !== "started") return;
    // Let queued writes finish; they were accepted before stop.
    await this.mutex.run(async () => {
      this.state = "stopped";
    });
  }

  /**
   * Follows changes other processes make to registry.json (the CLI enrolling while the daemon runs):
   * reloads and tells the listeners. Writes check for such changes anyway; this makes reads current.
   */
  watch(): void {
    if (this.watcher || this.state !== "started") return;
    try {
      this.watcher = watch(this.options.dataDir, (_event, name) => {
        if (name !== REGISTRY_FILE_NAME) return;
        if (this.watchTimer) clearTimeout(this.watchTimer);
        // Renames come in bursts; look once things settled.
        this.watchTimer = setTimeout(() => {
          this.watchTimer = null;
          void this.mutex
            .run(() => this.reloadIfChanged())
            .catch((err: unknown) =>
              this.log.warn("could not reload the registry", { error: describeError(err) }),
            );
        }, 100);
      });
      this.watcher.on("error", () => this.unwatch());
    } catch (err) {
      // No data dir yet (nothing enrolled): writes still pick up other processes' changes.
      this.log.debug("not watching the registry", { error: describeError(err) });
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = null;
  }

  // ---- reads (synchronous, from committed state) ----

  /** All speakers, in creation order (copies). */
  list(): Speaker[] {
    return structuredClone(this.data().speakers);
  }

  /** By id, else by display name (case-insensitive); ids take precedence. A copy, or undefined. */
  get(idOrName: string): Speaker | undefined {
    const found = this.find(idOrName);
    return found ? structuredClone(found) : undefined;
  }

  /**
   * Mean of the speaker's voiceprints for `modelId`, L2-normalised; null when it has none for that model.
   * Cached until the next change.
   */
  centroid(speaker: Speaker | string, modelId: string): Float32Array | null {
    const id = typeof speaker === "string" ? speaker : speaker.id;
    const key = `${id}\u0000${modelId}`;
    let cached = this.centroidCache.get(key);
    if (cached === undefined) {
      const found = this.data().speakers.find((s) => s.id === id);
      if (!found) throw new SpeakerNotFoundError(id);
      cached = centroidOf(
        found.samples.flatMap((s) => (s.voiceprints[modelId] ? [s.voiceprints[modelId]] : [])),
      );
      this.centroidCache.set(key, cached);
    }
    return cached === null ? null : cached.slice();
  }

  /** Match candidates for `modelId`: every speaker with at least one voiceprint of that model. */
  candidates(modelId: string): MatchCandidate[] {
    const out: MatchCandidate[] = [];
    for (const speaker of this.data().speakers) {
      const centroid = this.centroid(speaker.id, modelId);
      if (centroid === null) continue;
      out.push({
        id: speaker.id,
        name: speaker.name,
        centroid,
        ...(speaker.threshold !== undefined ? { threshold: speaker.threshold } : {}),
      });
    }
    return out;
  }

  /** Samples without a voiceprint for `modelId` (e.g. after a model change), to re-embed from their clips. */
  samplesMissingModel(modelId: string): SampleMissingModel[] {
    const out: SampleMissingModel[] = [];
    for (const speaker of this.data().speakers) {
      for (const sample of speaker.samples) {
        if (sample.voiceprints[modelId]) continue;
        out.push({
          speakerId: speaker.id,
          speakerName: speaker.name,
          sampleId: sample.id,
          clipPath: sample.clip ? path.join(this.dataDir, sample.clip) : null,
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

  async create(name: string, options: { threshold?: number } = {}): Promise<Speaker> {
    const displayName = normalizeSpeakerName(name);
    if (options.threshold !== undefined) checkThreshold(options.threshold);
    return this.commit((data) => {
      assertNameFree(data, displayName, null);
      const now = new Date().toISOString();
      const speaker: Speaker = {
        id: uniqueSpeakerId(displayName, new Set(data.speakers.map((s) => s.id))),
        name: displayName,
        createdAt: now,
        updatedAt: now,
        ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
        samples: [],
      };
      data.speakers.push(speaker);
      return { result: speaker, change: { kind: "created", speaker } };
    });
  }

  /** Changes the display name; the id stays the same. */
  async rename(idOrName: string, newName: string): Promise<Speaker> {
    const displayName = normalizeSpeakerName(newName);
    return this.commit((data) => {
      const speaker = findIn(data, idOrName);
      if (speaker.name === displayName) return { result: speaker, change: null };
      assertNameFree(data, displayName, speaker.id);
      const previousName = speaker.name;
      speaker.name = displayName;
      speaker.updatedAt = new Date().toISOString();
      return { result: speaker, change: { kind: "renamed", speaker, previousName } };
    });
  }

  /** Sets (number in 0..1) or clears (null) the per-speaker threshold override. */
  async setThreshold(idOrName: string, threshold: number | null): Promise<Speaker> {
    if (threshold !== null) checkThreshold(threshold);
    return this.commit((data) => {
      const speaker = findIn(data, idOrName);
      if (threshold === null) delete speaker.threshold;
      else speaker.threshold = threshold;
      speaker.updatedAt = new Date().toISOString();
      return { result: speaker, change: { kind: "threshold", speaker } };
    });
  }

  /** Removes the speaker and (after the registry is written) its clips. */
  async remove(idOrName: string): Promise<Speaker> {
    const removed = await this.commit((data) => {
      const speaker = findIn(data, idOrName);
      data.speakers = data.speakers.filter((s) => s.id !== speaker.id);
      return { result: speaker, change: { kind: "removed", speaker } };
    });
    // After the commit: a clip without a registry entry is harmless, the reverse would not be.
    await rm(path.join(this.clipsDir, removed.id), { recursive: true, force: true }).catch((err: unknown) =>
      this.log.warn("could not delete clips of removed speaker", {
        id: removed.id,
        error: describeError(err),
      }),
    );
    return removed;
  }

  async addSample(idOrName: string, input: NewSample): Promise<Sample> {
    const voiceprints = checkNewSample(input);
    return this.commit(
      async (data) => {
        const speaker = findIn(data, idOrName);
        checkDimensions(data, voiceprints);
        const taken = new Set(speaker.samples.map((s) => s.id));
        let sampleId = newSampleId();
        while (taken.has(sampleId)) sampleId = newSampleId();
        const sample: Sample = {
          id: sampleId,
          createdAt: new Date().toISOString(),
          speechSeconds: input.speechSeconds,
          durationSeconds: input.durationSeconds,
          source: input.source,
          voiceprints,
        };
        if (input.clipWav) {
          const relative = `${CLIPS_DIR_NAME}/${speaker.id}/${sampleId}.wav`;
          const absolute = path.join(this.dataDir, relative);
          try {
            await writeFileAtomic(absolute, input.clipWav);
          } catch (err) {
            throw new RegistryWriteError(absolute, err);
          }
          sample.clip = relative;
        }
        speaker.samples.push(sample);
        speaker.updatedAt = sample.createdAt;
        return { result: sample, change: { kind: "samples", speaker } };
      },
      // The registry write failed: the clip must not outlive the sample that never existed.
      async (sample) => {
        if (sample.clip) await unlink(path.join(this.dataDir, sample.clip)).catch(() => {});
      },
    );
  }

  async removeSample(idOrName: string, sampleId: string): Promise<Sample> {
    const removed = await this.commit((data) => {
      const speaker = findIn(data, idOrName);
      const sample = speaker.samples.find((s) => s.id === sampleId);
      if (!sample) throw new SampleNotFoundError(speaker.id, sampleId);
      speaker.samples = speaker.samples.filter((s) => s.id !== sampleId);
      speaker.updatedAt = new Date().toISOString();
      return { result: sample, change: { kind: "samples", speaker } };
    });
    if (removed.clip) {
      const clip = path.join(this.dataDir, removed.clip);
      await unlink(clip).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          this.log.warn("could not delete clip of removed sample", { clip, error: describeError(err) });
        }
      });
    }
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
    return this.commit((data) => {
      const speaker = findIn(data, idOrName);
      const sample = speaker.samples.find((s) => s.id === sampleId);
      if (!sample) throw new SampleNotFoundError(speaker.id, sampleId);
      checkDimensions(data, voiceprints, sample);
      sample.voiceprints[modelId] = voiceprints[modelId];
      speaker.updatedAt = new Date().toISOString();
      return { result: sample, change: { kind: "samples", speaker } };
    });
  }

  // ---- internals ----

  private data(): RegistryData {
    if (this.state !== "started") throw this.corruptError ?? new RegistryNotStartedError();
    return this.db.data;
  }

  private find(idOrName: string): Speaker | undefined {
    return findOrUndefined(this.data(), idOrName);
  }

  /**
   * Applies `mutate` to a copy of the committed state under the mutex, writes it, and only then adopts it.
   * On a write failure memory keeps the committed state (which is what is on disk, since the rename never
   * happened) and `undo` removes side files such as clips.
   */
  private commit<T>(
    mutate: (
      data: RegistryData,
    ) => { result: T; change: RegistryChange | null } | Promise<{ result: T; change: RegistryChange | null }>,
    undo?: (result: T) => Promise<void>,
  ): Promise<T> {
    return this.mutex.run(async () => {
      this.data();
      // Another process may write too (the CLI beside the daemon): take turns, and start from its result.
      try {
        await this.lock.acquire();
      } catch (err) {
        throw new RegistryWriteError(this.file, err);
      }
      try {
        await this.reloadIfChanged();
        const next = structuredClone(this.data());
        const { result, change } = await mutate(next);
        if (change !== null) {
          try {
            await this.db.adapter.write(next);
          } catch (err) {
            await undo?.(result);
            const error = new RegistryWriteError(this.file, err);
            this.log.error("registry write failed; change discarded", { error: error.message });
            throw error;
          }
          this.stamp = await fileStamp(this.file);
          this.db.data = next;
          this.centroidCache.clear();
          this.emit(change);
        }
        return structuredClone(result);
      } finally {
        await this.lock.release();
      }
    });
  }

  /** Re-reads registry.json when someone else replaced it since we last looked. Call under the mutex. */
  private async reloadIfChanged(): Promise<void> {
    if (this.state !== "started") return;
    const now = await fileStamp(this.file);
    if (now === this.stamp) return;
    const data = (await this.db.adapter.read()) ?? emptyRegistryData();
    this.db.data = data;
    this.stamp = now;
    this.centroidCache.clear();
    this.log.info("registry changed on disk; reloaded", { speakers: data.speakers.length });
    this.emit({ kind: "reloaded" });
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

async function fileStamp(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function findOrUndefined(data: RegistryData, idOrName: string): Speaker | undefined {
  const byId = data.speakers.find((s) => s.id === idOrName);
  if (byId) return byId;
  const key = nameKey(idOrName.trim());
  return data.speakers.find((s) => nameKey(s.name) === key);
}

function findIn(data: RegistryData, idOrName: string): Speaker {
  const speaker = findOrUndefined(data, idOrName);
  if (!speaker) throw new SpeakerNotFoundError(idOrName);
  return speaker;
}

function assertNameFree(data: RegistryData, name: string, exceptId: string | null): void {
  const key = nameKey(name);
  const clash = data.speakers.find((s) => s.id !== exceptId && nameKey(s.name) === key);
  if (clash) throw new SpeakerExistsError(name, clash.id);
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
  if (input.clipWav !== undefined) {
    const wav = input.clipWav;
    const ascii = (from: number) => String.fromCharCode(...wav.subarray(from, from + 4));
    if (!(wav instanceof Uint8Array) || wav.length < 12 || ascii(0) !== "RIFF" || ascii(8) !== "WAVE") {
      throw new InvalidSampleError("clipWav must be the bytes of a WAV file (RIFF/WAVE header)");
    }
  }
  return checkVoiceprints(input.voiceprints);
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
