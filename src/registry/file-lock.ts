import { open, readFile, stat, unlink } from "node:fs/promises";

/** A lock this old belongs to a process that died mid-write (a write takes milliseconds). */
const STALE_MS = 10_000;
const WAIT_MS = 5_000;
/** A lock file still without its owner's pid this long after it was made was left by a killed process. */
const UNWRITTEN_STALE_MS = 1_000;

/**
 * A lock file shared by the processes that write one registry (the daemon and the CLI): created
 * with O_EXCL, holding the owner's pid; a lock whose owner is gone, or older than any write could
 * take, is taken over.
 */
export class FileLock {
  private held = false;

  constructor(readonly path: string) {}

  async acquire(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      try {
        const handle = await open(this.path, "wx", 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          // No directory yet is fine: nothing else can be writing there.
          if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
          throw err;
        }
      }
      if (await this.isStale()) {
        await unlink(this.path).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${this.path} is held by another process`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await unlink(this.path).catch(() => {});
  }

  private async isStale(): Promise<boolean> {
    try {
      const [owner, info] = await Promise.all([readFile(this.path, "utf8"), stat(this.path)]);
      const age = Date.now() - info.mtimeMs;
      if (age > STALE_MS) return true;
      const pid = Number(owner);
      // No pid yet: its owner is between creating the file and writing to it (microseconds), or was killed
      // right there.
      if (owner.trim() === "" || !Number.isInteger(pid) || pid <= 0) return age > UNWRITTEN_STALE_MS;
      try {
        process.kill(pid, 0);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === "ESRCH";
      }
    } catch {
      // Gone between our attempt and this look: try again.
      return false;
    }
  }
}
