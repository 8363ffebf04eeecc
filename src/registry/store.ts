import { type FSWatcher, watch } from "node:fs";
import { readdir, rm, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Low } from "lowdb";
import type { Logger } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";
import {
  describeError,
  RegistryCorruptError,
  RegistryNotStartedError,
  RegistryWriteError,
} from "./errors.js";
import { FileLock } from "./file-lock.js";
import { emptyRegistryData, type RegistryData } from "./schema.js";
import { RegistryFile, tempPathFor, writeFileAtomic } from "./storage.js";

export const REGISTRY_FILE_NAME = "registry.json";
export const CLIPS_DIR_NAME = "clips";

export interface RegistryStoreOptions {
  dataDir: string;
  logger: Logger;
  /** Another process replaced registry.json and the store re-read it (called under the store's mutex). */
  onReload?: (data: RegistryData) => void;
}

/** Files a transaction writes beside registry.json; removed again if the registry write fails. */
export interface ClipWriter {
  /** Writes `bytes` atomically at `relative` (to the data dir). */
  write(relative: string, bytes: Uint8Array): Promise<void>;
}

/**
 * Where the registry lives: registry.json through lowdb (a validating, fsyncing adapter), kept clips, the
 * lock file that lets the daemon and the CLI take turns, the watch that follows the other's writes, and
 * the start-up clean-up of what a crash left behind. No speaker logic: see SpeakerRegistry.
 */
export class RegistryStore {
  readonly file: string;
  readonly clipsDir: string;
  private readonly db: Low<RegistryData>;
  private readonly lock: FileLock;
  private readonly mutex = new AsyncMutex();
  private readonly log: Logger;
  private opened = false;
  /** What registry.json looked like when last read or written by us (ino:size:mtime, or "missing"). */
  private stamp = "missing";
  /** registry.json changed on disk into something unreadable while running; the last good data is in use. */
  private diskProblem: RegistryCorruptError | null = null;
  private watcher: FSWatcher | null = null;
  private watchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: RegistryStoreOptions) {
    this.file = path.join(options.dataDir, REGISTRY_FILE_NAME);
    this.clipsDir = path.join(options.dataDir, CLIPS_DIR_NAME);
    this.db = new Low<RegistryData>(new RegistryFile(this.file), emptyRegistryData());
    this.lock = new FileLock(`${this.file}.lock`);
    this.log = options.logger;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /** The committed data. Read-only by convention: change it through transact(). */
  get data(): RegistryData {
    if (!this.opened) throw new RegistryNotStartedError();
    return this.db.data;
  }

  /** Why registry.json on disk cannot be used right now (changed by hand while running), or null. */
  get problem(): RegistryCorruptError | null {
    return this.diskProblem;
  }

  /**
   * Reads registry.json (RegistryCorruptError for a file it cannot trust; it is then never written) and
   * removes what an interrupted write left: temp files and clips that no sample refers to.
   */
  async open(): Promise<void> {
    await this.mutex.run(async () => {
      this.db.data = emptyRegistryData();
      await this.db.read();
      this.stamp = await fileStamp(this.file);
      this.diskProblem = null;
      this.opened = true;
      // The clean-up waits for the lock, never for long: a start must not fail over leftovers.
      await this.withLock(() => this.removeLeftovers()).catch((err: unknown) =>
        this.log.warn("could not clean up leftovers of interrupted writes now", {
          error: describeError(err),
        }),
      );
    });
  }

  async close(): Promise<void> {
    this.unwatch();
    // Let queued writes finish; they were accepted before close.
    await this.mutex.run(async () => {
      this.opened = false;
    });
  }

  /**
   * Applies `mutate` to a copy of the committed data under the mutex and the file lock (after picking up
   * another process's writes), writes it and only then adopts it. `mutate` returns false for "nothing
   * changed". On a failed write memory keeps the committed data and the clips it wrote are removed.
   */
  transact<T>(
    mutate: (draft: RegistryData, clips: ClipWriter) => Promise<{ result: T; changed: boolean }>,
  ): Promise<T> {
    return this.mutex.run(async () => {
      if (!this.opened) throw new RegistryNotStartedError();
      return this.withLock(async () => {
        await this.reloadIfChanged();
        if (this.diskProblem) throw this.diskProblem;
        const committed = this.db.data;
        const draft = structuredClone(committed);
        const written: string[] = [];
        const clips: ClipWriter = {
          write: async (relative, bytes) => {
            const absolute = path.join(this.dataDir, relative);
            try {
              await writeFileAtomic(absolute, bytes);
            } catch (err) {
              throw new RegistryWriteError(absolute, err);
            }
            written.push(absolute);
          },
        };
        try {
          const { result, changed } = await mutate(draft, clips);
          if (changed) {
            this.db.data = draft;
            try {
              await this.db.write();
            } catch (err) {
              this.db.data = committed;
              const error = new RegistryWriteError(this.file, err);
              this.log.error("registry write failed; change discarded", { error: error.message });
              throw error;
            }
            this.stamp = await fileStamp(this.file);
          }
          return result;
        } catch (err) {
          // The clip must not outlive the sample that never existed.
          await Promise.all(written.map((f) => unlink(f).catch(() => {})));
          throw err;
        }
      });
    });
  }

  /** Deletes files of the data dir after a commit that dropped them (best effort, logged). */
  async removeFiles(relative: string, what: string): Promise<void> {
    const target = path.join(this.dataDir, relative);
    await rm(target, { recursive: true, force: true }).catch((err: unknown) =>
      this.log.warn(`could not delete ${what}`, { path: target, error: describeError(err) }),
    );
  }

  /**
   * Follows changes other processes make to registry.json (the CLI enrolling while the daemon runs).
   * Writes pick such changes up anyway; this makes reads current.
   */
  watch(): void {
    if (this.watcher || !this.opened) return;
    try {
      this.watcher = watch(this.dataDir, (_event, name) => {
        if (name !== REGISTRY_FILE_NAME) return;
        if (this.watchTimer) clearTimeout(this.watchTimer);
        // Renames come in bursts; look once things settled.
        this.watchTimer = setTimeout(() => {
          this.watchTimer = null;
          void this.mutex.run(() => this.reloadIfChanged()).catch(() => {});
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

  private async withLock<T>(work: () => Promise<T>): Promise<T> {
    try {
      await this.lock.acquire();
    } catch (err) {
      throw new RegistryWriteError(this.file, err);
    }
    try {
      return await work();
    } finally {
      await this.lock.release();
    }
  }

  /** Re-reads registry.json when someone else replaced it since we last looked. Call under the mutex. */
  private async reloadIfChanged(): Promise<void> {
    if (!this.opened) return;
    const now = await fileStamp(this.file);
    if (now === this.stamp) return;
    let data: RegistryData;
    try {
      data = (await this.db.adapter.read()) ?? emptyRegistryData();
    } catch (err) {
      if (!(err instanceof RegistryCorruptError)) throw err;
      if (this.diskProblem?.message !== err.message) {
        this.log.error("registry.json changed on disk and cannot be used; keeping the last good copy", {
          error: err.message,
        });
      }
      this.diskProblem = err;
      return;
    }
    this.db.data = data;
    this.stamp = now;
    if (this.diskProblem) this.log.info("registry.json is usable again");
    this.diskProblem = null;
    this.log.info("registry changed on disk; reloaded", { speakers: data.speakers.length });
    this.options.onReload?.(data);
  }

  /** Temp files of interrupted writes and clips no sample refers to. Call under the lock. */
  private async removeLeftovers(): Promise<void> {
    const removed: string[] = [];
    const drop = async (file: string) => {
      await unlink(file).then(
        () => removed.push(path.relative(this.dataDir, file)),
        () => {},
      );
    };
    await drop(tempPathFor(this.file));
    const kept = new Set(
      this.db.data.speakers.flatMap((s) => s.samples.flatMap((sample) => (sample.clip ? [sample.clip] : []))),
    );
    for (const dir of await entries(this.clipsDir)) {
      const speakerDir = path.join(this.clipsDir, dir);
      if (
        !(await stat(speakerDir).then(
          (s) => s.isDirectory(),
          () => false,
        ))
      )
        continue;
      for (const name of await entries(speakerDir)) {
        if (!kept.has(`${CLIPS_DIR_NAME}/${dir}/${name}`)) await drop(path.join(speakerDir, name));
      }
      // Only succeeds when empty: a removed speaker's folder.
      await rmdir(speakerDir).catch(() => {});
    }
    if (removed.length > 0) {
      this.log.warn("removed files an interrupted write left behind", {
        count: removed.length,
        files: removed,
      });
    }
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
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
