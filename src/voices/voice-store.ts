import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { encodePcm16Wav } from "../enrolment/wav-encode.js";
import type { UnknownTurn, UnknownVoices } from "../identify/speaker-tracker.js";
import { cosine, type MatchCandidate } from "../registry/matcher.js";
import { writeFileAtomic } from "../registry/storage.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";
import {
  readVoicesFile,
  setAside,
  VOICE_CLIPS_DIR_NAME,
  VOICES_FILE_NAME,
  type VoicesFileData,
  writeVoicesFile,
} from "./voice-file.js";
import {
  groupTurn,
  type KeptTurn,
  type KeptVoice,
  nearestVoice,
  type VoiceGroupingPolicy,
  voiceCentroid,
} from "./voice-groups.js";

/** Clips kept per voice, and their length: enough to recognise someone, little of their speech. */
export const CLIPS_PER_VOICE = 3;
export const CLIP_SECONDS = 10;
/** An ignored voice keeps this many turns as its likeness (it never expires: the household chose it). */
const IGNORED_TURNS = 20;
/** Changes reach the disk at most this often; a kill -9 loses at most these last seconds. */
const SAVE_DELAY_MS = 2000;
const SAMPLE_RATE = 16_000;

export interface UnknownVoiceStoreOptions {
  dataDir: string;
  /** The running encoder: voiceprints of another are not comparable. */
  modelId: string;
  /** The running encoder's threshold, for ignored voices as candidates. */
  threshold: number;
  policy: VoiceGroupingPolicy;
  maxTurns: number;
  maxDays: number;
  keepClips: boolean;
  logger: Logger;
  now?: () => Date;
}

/** An unknown turn as a room hands it over: where it was heard, and its audio when clips are kept. */
export interface HeardTurn extends UnknownTurn {
  room: string;
  /** The turn's last seconds (16 kHz mono), when the room keeps clips. */
  audio?: Float32Array | null;
}

/**
 * The voices nobody enrolled: turns grouped into voices as they end (voice-groups.ts), bounded by count
 * and age, saved atomically beside the registry. Ignored voices (the TV) are matched like people so
 * their turns are recognised and silenced. Lives in memory; the disk follows within SAVE_DELAY_MS.
 */
export class UnknownVoiceStore implements Component {
  private voices: KeptVoice[] = [];
  private nextVoice = 1;
  private readonly writes = new AsyncMutex();
  private saveTimer: NodeJS.Timeout | null = null;
  private ignoredCache: MatchCandidate[] | null = null;
  /** Clips no turn holds any more: deleted once a file without them is written (a crash keeps both). */
  private doomedClips: string[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly forgetListeners = new Set<(id: string) => void>();

  constructor(private readonly options: UnknownVoiceStoreOptions) {}

  get file(): string {
    return path.join(this.options.dataDir, VOICES_FILE_NAME);
  }

  get clipsDir(): string {
    return path.join(this.options.dataDir, VOICE_CLIPS_DIR_NAME);
  }

  async start(): Promise<void> {
    const log = this.options.logger;
    let data: VoicesFileData | null = null;
    try {
      data = await readVoicesFile(this.file);
    } catch (err) {
      // Not the registry: a damaged store of strangers is set aside, and listening goes on.
      const aside = await setAside(this.file).catch(() => null);
      log.warn("the kept unknown voices could not be read; starting afresh", {
        error: err instanceof Error ? err.message : String(err),
        keptAs: aside,
      });
    }
    if (data && data.modelId !== this.options.modelId) {
      log.info("the kept unknown voices are of another encoder; starting afresh", { was: data.modelId });
      data = null;
    }
    this.voices = data?.voices ?? [];
    this.nextVoice = data?.nextVoice ?? 1;
    this.ignoredCache = null;
    await this.removeOrphanClips();
    this.prune();
  }

  async stop(): Promise<void> {
    await this.flush();
  }

  /** Writes pending changes now. */
  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      await this.save();
    }
    await this.writes.idle();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when a voice is forgotten by request (not when it is named, or pruned as it ages). */
  onForgotten(listener: (id: string) => void): () => void {
    this.forgetListeners.add(listener);
    return () => this.forgetListeners.delete(listener);
  }

  /** The store as the tracker of one room sees it. */
  forRoom(room: string, audioOf?: (turn: UnknownTurn) => Float32Array | null): UnknownVoices {
    return {
      recognise: (voiceprint) => this.recognise(voiceprint),
      keep: (turn) => this.keep({ ...turn, room, audio: audioOf?.(turn) ?? null }),
    };
  }

  recognise(voiceprint: Float32Array): string | null {
    return nearestVoice(this.voices, voiceprint, this.options.policy)?.id ?? null;
  }

  /** Keeps an ended turn nobody enrolled; returns the voice it joined or began. */
  keep(heard: HeardTurn): string {
    const now = this.now();
    const key = `${now.getTime().toString(36)}-${randomBytes(4).toString("hex")}`;
    const turn: KeptTurn = {
      key,
      at: now.toISOString(),
      room: heard.room,
      speechSeconds: round(heard.speechSeconds),
      durationSeconds: round((heard.end - heard.start) / SAMPLE_RATE),
      voiceprint: heard.voiceprint,
      clip: null,
    };
    const voice = groupTurn(this.voices, turn, this.options.policy, () => `voice-${this.nextVoice++}`);
    if (this.options.keepClips && heard.audio && heard.audio.length > 0)
      this.keepClip(voice, turn, heard.audio);
    this.prune();
    this.changed();
    return voice.id;
  }

  list(options: { ignored?: boolean } = {}): readonly KeptVoice[] {
    const ignored = options.ignored ?? false;
    return this.voices.filter((v) => v.ignored === ignored);
  }

  get(id: string): KeptVoice | undefined {
    return this.voices.find((v) => v.id === id);
  }

  /** Ignored voices as the tracker matches them: at the encoder's threshold, like a person. */
  ignoredCandidates(): MatchCandidate[] {
    this.ignoredCache ??= this.voices.flatMap((v) => {
      const centroid = v.ignored ? voiceCentroid(v) : null;
      return centroid
        ? [{ id: v.id, name: v.id, centroid, threshold: this.options.threshold, ignored: true }]
        : [];
    });
    return this.ignoredCache;
  }

  async ignore(id: string, label: string | null): Promise<KeptVoice | undefined> {
    return this.setIgnored(id, true, label);
  }

  async unignore(id: string): Promise<KeptVoice | undefined> {
    return this.setIgnored(id, false, null);
  }

  /** Removes the voice, its voiceprints and its clips; `named`: it became a person (not a forgetting). */
  async forget(id: string, named = false): Promise<KeptVoice | undefined> {
    const voice = this.get(id);
    if (!voice) return undefined;
    this.voices.splice(this.voices.indexOf(voice), 1);
    this.discardClips(voice.turns);
    this.changed();
    await this.flush();
    if (!named) for (const listener of this.forgetListeners) listener(id);
    return voice;
  }

  /** A clip's WAV bytes, or null. */
  async clip(turn: KeptTurn): Promise<Buffer | null> {
    if (!turn.clip) return null;
    await this.writes.idle();
    return readFile(path.join(this.clipsDir, turn.clip)).catch(() => null);
  }

  private async setIgnored(
    id: string,
    ignored: boolean,
    label: string | null,
  ): Promise<KeptVoice | undefined> {
    const voice = this.get(id);
    if (!voice) return undefined;
    voice.ignored = ignored;
    voice.label = label;
    this.changed();
    await this.flush();
    return voice;
  }

  private keepClip(voice: KeptVoice, turn: KeptTurn, audio: Float32Array): void {
    const centroid = voiceCentroid(voice)!;
    const clarity = (t: KeptTurn) => cosine(t.voiceprint, centroid);
    const clipped = voice.turns.filter((t) => t.clip !== null).sort((a, b) => clarity(a) - clarity(b));
    let dropped: KeptTurn | null = null;
    if (clipped.length >= CLIPS_PER_VOICE) {
      // The clearest turns keep their clips: this one replaces the least clear, if it is clearer.
      if (clarity(turn) <= clarity(clipped[0])) return;
      dropped = clipped[0];
    }
    const name = `${turn.key}.wav`;
    const wav = encodePcm16Wav(
      audio.subarray(Math.max(0, audio.length - CLIP_SECONDS * SAMPLE_RATE)),
      SAMPLE_RATE,
    );
    turn.clip = name;
    if (dropped) {
      this.discardClips([dropped]);
      dropped.clip = null;
    }
    // Written before the file that names it (the writes are one queue).
    void this.writes
      .run(async () => {
        await mkdir(this.clipsDir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(path.join(this.clipsDir, name), wav);
      })
      .catch((err: unknown) => this.warnWrite(err));
  }

  /** Drops turns past the age and count bounds (and voices left empty); ignored voices keep their likeness. */
  private prune(): void {
    const horizon = this.now().getTime() - this.options.maxDays * 86_400_000;
    const gone: KeptTurn[] = [];
    for (const voice of this.voices) {
      if (voice.ignored) {
        gone.push(...voice.turns.splice(0, Math.max(0, voice.turns.length - IGNORED_TURNS)));
        continue;
      }
      const keep = voice.turns.filter((t) => Date.parse(t.at) >= horizon);
      gone.push(...voice.turns.filter((t) => !keep.includes(t)));
      voice.turns = keep;
    }
    const counted = this.voices
      .filter((v) => !v.ignored)
      .flatMap((v) => v.turns.map((t) => ({ v, t })))
      .sort((a, b) => a.t.at.localeCompare(b.t.at));
    for (const { v, t } of counted.slice(0, Math.max(0, counted.length - this.options.maxTurns))) {
      v.turns.splice(v.turns.indexOf(t), 1);
      gone.push(t);
    }
    const before = this.voices.length;
    this.voices = this.voices.filter((v) => v.turns.length > 0);
    if (gone.length > 0 || this.voices.length !== before) {
      this.discardClips(gone);
      this.changed();
    }
  }

  private discardClips(turns: readonly KeptTurn[]): void {
    for (const t of turns) if (t.clip) this.doomedClips.push(t.clip);
  }

  /** Clips no kept turn names: written just before a crash, or left by another encoder's voices. */
  private async removeOrphanClips(): Promise<void> {
    const named = new Set(this.voices.flatMap((v) => v.turns.flatMap((t) => (t.clip ? [t.clip] : []))));
    const files = await readdir(this.clipsDir).catch(() => [] as string[]);
    for (const f of files) if (!named.has(f)) await unlink(path.join(this.clipsDir, f)).catch(() => {});
  }

  private changed(): void {
    this.ignoredCache = null;
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = null;
      void this.save();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
    for (const listener of this.listeners) listener();
  }

  private save(): Promise<void> {
    const data: VoicesFileData = {
      modelId: this.options.modelId,
      nextVoice: this.nextVoice,
      voices: this.voices,
    };
    return this.writes
      .run(async () => {
        const doomed = this.doomedClips;
        this.doomedClips = [];
        await writeVoicesFile(this.file, data);
        for (const clip of doomed) await unlink(path.join(this.clipsDir, clip)).catch(() => {});
      })
      .catch((err: unknown) => this.warnWrite(err));
  }

  private warnWrite(err: unknown): void {
    this.options.logger.warn("could not save the kept unknown voices", {
      error: err instanceof Error ? err.message : String(err),
    });
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
