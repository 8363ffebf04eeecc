import path from "node:path";
import { gunzipSync } from "node:zlib";
import { TarFormatError } from "./errors.js";

export interface TarEntry {
  name: string;
  /** "file", "directory" or "other" (links, devices... which we never need). */
  type: "file" | "directory" | "other";
  size: number;
  /** Contents (a view into the archive buffer) for files; empty for everything else. */
  data: Buffer;
}

const BLOCK = 512;

/**
 * Entries of an uncompressed tar archive: ustar (with the prefix field), pax extended headers
 * (path, size) and GNU long names, which covers npm's tarballs and Python's tarfile.
 */
export function readTar(data: Uint8Array, label = "tar archive"): TarEntry[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fail = (msg: string): never => {
    throw new TarFormatError(`${label}: ${msg}`);
  };
  const entries: TarEntry[] = [];
  let p = 0;
  let paxNext: Record<string, string> = {};
  let paxGlobal: Record<string, string> = {};
  let longName: string | undefined;
  let sawEnd = false;
  while (p + BLOCK <= buf.length) {
    const header = buf.subarray(p, p + BLOCK);
    if (header.every((b) => b === 0)) {
      sawEnd = true;
      break;
    }
    verifyChecksum(header, p, fail);
    const typeflag = String.fromCharCode(header[156]);
    let size = parseNumber(header, 124, 12, p, fail);
    const pax = { ...paxGlobal, ...paxNext };
    if (pax.size !== undefined) size = Number(pax.size);
    const dataStart = p + BLOCK;
    const dataEnd = dataStart + size;
    if (!Number.isSafeInteger(size) || size < 0) fail(`bad size in header at offset ${p}`);
    if (dataEnd > buf.length)
      fail(`entry at offset ${p} needs ${size} bytes but the archive ends at ${buf.length}; truncated?`);
    const body = buf.subarray(dataStart, dataEnd);
    p = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === "x" || typeflag === "g") {
      const records = parsePax(body, dataStart, fail);
      if (typeflag === "x") paxNext = records;
      else paxGlobal = { ...paxGlobal, ...records };
      continue;
    }
    if (typeflag === "L") {
      longName = cString(body);
      continue;
    }
    let name: string;
    if (pax.path !== undefined) name = pax.path;
    else if (longName !== undefined) name = longName;
    else {
      const base = cString(header.subarray(0, 100));
      const isUstar = header.subarray(257, 262).toString("latin1") === "ustar";
      const prefix = isUstar ? cString(header.subarray(345, 500)) : "";
      name = prefix !== "" ? `${prefix}/${base}` : base;
    }
    paxNext = {};
    longName = undefined;
    const type =
      typeflag === "0" || typeflag === "\0" || typeflag === "7"
        ? "file"
        : typeflag === "5"
          ? "directory"
          : "other";
    entries.push({
      name,
      type,
      size: type === "file" ? size : 0,
      data: type === "file" ? body : Buffer.alloc(0),
    });
  }
  if (!sawEnd && p !== buf.length)
    fail(`trailing ${buf.length - p} bytes do not form a tar header; truncated?`);
  return entries;
}

/** Entries of a gzip-compressed tar (.tgz), e.g. what `npm pack` writes. */
export function readTarGz(data: Uint8Array, label = "tar.gz archive"): TarEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(data);
  } catch (err) {
    throw new TarFormatError(`${label}: gzip data is corrupt (${(err as Error).message})`);
  }
  return readTar(tar, label);
}

/** Contents of the regular file `member`, with a clear error listing nearby names when absent. */
export function tarMember(entries: readonly TarEntry[], member: string, label = "tar archive"): Buffer {
  const wanted = member.replace(/^\.\//, "");
  const found = entries.find((e) => e.type === "file" && e.name.replace(/^\.\//, "") === wanted);
  if (found === undefined) {
    // Files with the same extension are the likely intended ones; show those first.
    const files = entries.filter((e) => e.type === "file").map((e) => e.name);
    const ext = path.posix.extname(wanted);
    const similar = ext !== "" ? files.filter((f) => f.endsWith(ext)) : [];
    const shown = similar.length > 0 ? similar : files;
    const list = shown.slice(0, 10).join(", ") + (shown.length > 10 ? `, ... (${shown.length} in all)` : "");
    throw new TarFormatError(
      `${label}: no file "${member}" (${similar.length > 0 ? `${ext} files` : "has"}: ${list})`,
    );
  }
  return found.data;
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return Buffer.from(b.buffer, b.byteOffset, nul < 0 ? b.length : nul).toString("utf8");
}

function parseNumber(
  header: Buffer,
  off: number,
  len: number,
  at: number,
  fail: (m: string) => never,
): number {
  const field = header.subarray(off, off + len);
  if (field[0] & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let v = BigInt(field[0] & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(field[i]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`number too large in header at offset ${at}`);
    return Number(v);
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) fail(`bad octal number "${text}" in header at offset ${at}`);
  return Number.parseInt(text, 8);
}

function verifyChecksum(header: Buffer, at: number, fail: (m: string) => never): void {
  const stored = parseNumber(header, 148, 8, at, fail);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  if (sum !== stored)
    fail(
      `header checksum mismatch at offset ${at} (stored ${stored}, computed ${sum}); not a tar file or corrupt`,
    );
}

function parsePax(body: Buffer, at: number, fail: (m: string) => never): Record<string, string> {
  const out: Record<string, string> = {};
  let p = 0;
  while (p < body.length) {
    if (body[p] === 0) break;
    const space = body.indexOf(0x20, p);
    if (space < 0) fail(`bad pax header at offset ${at + p}`);
    const len = Number.parseInt(body.toString("latin1", p, space), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || p + len > body.length)
      fail(`bad pax record length at offset ${at + p}`);
    const record = body.toString("utf8", space + 1, p + len - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    p += len;
  }
  return out;
}
