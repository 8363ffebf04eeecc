import { inflateRawSync } from "node:zlib";
import { crc32 } from "./crc32.js";
import { ZipFormatError } from "./errors.js";

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate; anything else is rejected on read. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/**
 * Read-only ZIP archive held in memory: enough for wheels and torch's zip checkpoints
 * (central directory, stored + deflate, zip64 sizes/offsets). No encryption, no multi-disk.
 */
export class ZipArchive {
  private readonly byName = new Map<string, ZipEntry>();

  private constructor(
    private readonly buf: Buffer,
    private readonly label: string,
    readonly entries: readonly ZipEntry[],
  ) {
    for (const e of entries) this.byName.set(e.name, e);
  }

  /** Parse the central directory. `label` names the archive in error messages. */
  static open(data: Uint8Array, label = "zip archive"): ZipArchive {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const fail = (msg: string): never => {
      throw new ZipFormatError(`${label}: ${msg}`);
    };
    const eocd = findEocd(buf);
    if (eocd < 0) fail("not a zip file (no end-of-central-directory record)");
    let count = buf.readUInt16LE(eocd + 10);
    let cdSize = buf.readUInt32LE(eocd + 12);
    let cdOffset = buf.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || buf.readUInt32LE(loc) !== ZIP64_LOCATOR_SIG)
        fail("zip64 end-of-central-directory locator missing");
      const z64 = toSafeNumber(buf.readBigUInt64LE(loc + 8), label);
      if (z64 + 56 > buf.length || buf.readUInt32LE(z64) !== ZIP64_EOCD_SIG)
        fail("zip64 end-of-central-directory record missing");
      count = toSafeNumber(buf.readBigUInt64LE(z64 + 32), label);
      cdSize = toSafeNumber(buf.readBigUInt64LE(z64 + 40), label);
      cdOffset = toSafeNumber(buf.readBigUInt64LE(z64 + 48), label);
    }
    if (cdOffset + cdSize > buf.length)
      fail(
        `central directory (offset ${cdOffset}, ${cdSize} bytes) lies beyond the end of the file (${buf.length} bytes); truncated?`,
      );
    const entries: ZipEntry[] = [];
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > buf.length || buf.readUInt32LE(p) !== CENTRAL_SIG)
        fail(`central directory entry ${i} is corrupt`);
      const flags = buf.readUInt16LE(p + 8);
      const method = buf.readUInt16LE(p + 10);
      const crc = buf.readUInt32LE(p + 16);
      let compressedSize = buf.readUInt32LE(p + 20);
      let size = buf.readUInt32LE(p + 24);
      const nameLen = buf.readUInt16LE(p + 28);
      const extraLen = buf.readUInt16LE(p + 30);
      const commentLen = buf.readUInt16LE(p + 32);
      let localHeaderOffset = buf.readUInt32LE(p + 42);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > buf.length) fail(`central directory entry ${i} runs past the end of the file`);
      // Bit 11: UTF-8 names; without it the name is CP437, which for the ASCII names we need is the same.
      const name = buf.toString(flags & 0x800 ? "utf8" : "latin1", p + 46, p + 46 + nameLen);
      if (flags & 0x1) fail(`entry "${name}" is encrypted`);
      // Zip64 extended information: present fields appear in this fixed order, only when the 32-bit field is saturated.
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = buf.readUInt16LE(x);
        const len = buf.readUInt16LE(x + 2);
        if (id === 0x0001) {
          let q = x + 4;
          if (size === 0xffffffff) {
            size = toSafeNumber(buf.readBigUInt64LE(q), label);
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = toSafeNumber(buf.readBigUInt64LE(q), label);
            q += 8;
          }
          if (localHeaderOffset === 0xffffffff)
            localHeaderOffset = toSafeNumber(buf.readBigUInt64LE(q), label);
        }
        x += 4 + len;
      }
      entries.push({ name, method, compressedSize, size, crc32: crc, localHeaderOffset });
      p = end;
    }
    return new ZipArchive(buf, label, entries);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Names of all entries, in central-directory order. */
  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** Decompressed, CRC-checked contents of an entry. */
  read(nameOrEntry: string | ZipEntry): Buffer {
    const entry = typeof nameOrEntry === "string" ? this.byName.get(nameOrEntry) : nameOrEntry;
    if (entry === undefined)
      throw new ZipFormatError(`${this.label}: no entry named "${String(nameOrEntry)}"`);
    const buf = this.buf;
    const fail = (msg: string): never => {
      throw new ZipFormatError(`${this.label}: entry "${entry.name}": ${msg}`);
    };
    const h = entry.localHeaderOffset;
    if (h + 30 > buf.length || buf.readUInt32LE(h) !== LOCAL_SIG) fail("local header is missing or corrupt");
    // The local header's name/extra lengths may differ from the central directory's: use its own.
    const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28);
    const end = start + entry.compressedSize;
    if (end > buf.length)
      fail(`data runs past the end of the file (needs ${end} bytes, have ${buf.length}); truncated?`);
    const raw = buf.subarray(start, end);
    let out: Buffer;
    if (entry.method === 0) out = raw;
    else if (entry.method === 8) {
      try {
        out = inflateRawSync(raw);
      } catch (err) {
        return fail(`deflate data is corrupt (${(err as Error).message})`);
      }
    } else return fail(`unsupported compression method ${entry.method} (only stored and deflate)`);
    if (out.length !== entry.size) fail(`size is ${out.length} bytes, central directory says ${entry.size}`);
    const actual = crc32(out);
    if (actual !== entry.crc32)
      fail(`CRC-32 mismatch (stored ${hex8(entry.crc32)}, computed ${hex8(actual)})`);
    return out;
  }
}

function findEocd(buf: Buffer): number {
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
  const min = Math.max(0, buf.length - 22 - 0xffff);
  for (let i = buf.length - 22; i >= min; i--) {
    if (buf.readUInt32LE(i) === EOCD_SIG && i + 22 + buf.readUInt16LE(i + 20) === buf.length) return i;
  }
  return -1;
}

function toSafeNumber(v: bigint, label: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ZipFormatError(`${label}: 64-bit size or offset ${v} is too large`);
  return Number(v);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
