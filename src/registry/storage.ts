import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import type { Adapter } from "lowdb";
import { PARSE_ONCE } from "../util/parse-once.js";
import { describeError, RegistryCorruptError } from "./errors.js";
import { describeSchemaIssues, REGISTRY_VERSION, type RegistryData, registryDataSchema } from "./schema.js";

// Voiceprints and clips are biometric data: owner-only by default.
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** Temp file used while replacing `file`; a leftover one is a write that never reached its rename. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
}

/**
 * Replaces `file` atomically: write a temp file in the same directory, fsync it, rename it over the target,
 * then fsync the directory so the rename itself survives a power cut. A crash at any point leaves either
 * the old complete file or the new complete file, never a partial one. On failure the temp file is removed
 * and the target is untouched.
 *
 * (lowdb's own writer, steno, does temp + rename but never fsyncs, so a power cut after the rename can
 * leave a zero-length file on ext4; that is why the registry brings its own adapter.)
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const temp = tempPathFor(file);
  try {
    const handle = await open(temp, "w", FILE_MODE);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
}

/** Best effort: some filesystems refuse fsync on directories; the rename has happened either way. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the rename is not guaranteed here, but the data is consistent.
  }
}

/**
 * lowdb adapter for registry.json: validates on read (zod) and writes atomically with fsync.
 * read() returns null for a missing file (empty registry) and throws RegistryCorruptError for anything it
 * cannot trust; it never writes.
 */
export class RegistryFile implements Adapter<RegistryData> {
  constructor(readonly file: string) {}

  async read(): Promise<RegistryData | null> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new RegistryCorruptError(this.file, `it could not be read (${describeError(err)})`, {
        cause: err,
      });
    }
    return parseRegistry(this.file, text);
  }

  async write(data: RegistryData): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`);
  }
}

export function parseRegistry(file: string, text: string): RegistryData {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const problem = text.trim() === "" ? "it is empty" : `it is not valid JSON (${describeError(err)})`;
    throw new RegistryCorruptError(file, problem, { cause: err });
  }
  // A clearer message than a literal mismatch for files written by a newer (or older) voiceid.
  if (typeof json === "object" && json !== null && "version" in json && json.version !== REGISTRY_VERSION) {
    throw new RegistryCorruptError(
      file,
      `it has format version ${JSON.stringify(json.version)}, this voiceid understands version ${REGISTRY_VERSION}`,
    );
  }
  const parsed = registryDataSchema.safeParse(json, PARSE_ONCE);
  if (!parsed.success) {
    throw new RegistryCorruptError(
      file,
      `it does not have the expected shape (${describeSchemaIssues(parsed.error)})`,
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}
