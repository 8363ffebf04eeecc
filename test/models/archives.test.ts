import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { archiveMember, readTar, readZip } from "../../src/models/archives.js";
import { ArchiveFormatError } from "../../src/models/errors.js";
import { fixture } from "./helpers.js";

// The fixtures were written by Python's zipfile and tarfile (make_archive_fixtures.py).
const sample = readFileSync(fixture("sample.zip"));
const data4k = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
const longName = `package/${"a-rather-long-directory-name/".repeat(4)}model-file-with-a-long-name.onnx`;

describe("readZip", () => {
  it("reads stored, deflated and empty members, only those asked for", () => {
    const zip = readZip(sample, "sample.zip");
    expect([...zip.keys()]).toEqual(["hello.txt", "dir/data.bin", "empty.txt"]);
    expect(zip.get("hello.txt")?.toString()).toBe("hello, zip\n");
    expect(zip.get("dir/data.bin")?.equals(data4k)).toBe(true);
    expect(zip.get("empty.txt")?.length).toBe(0);
    expect([...readZip(sample, "sample.zip", (n) => n === "hello.txt").keys()]).toEqual(["hello.txt"]);
  });

  it("reads torch's zip checkpoints (64-byte aligned members via local extra fields)", () => {
    const zip = readZip(readFileSync(fixture("tiny-zip.pt")), "tiny-zip.pt");
    expect([...zip.keys()]).toContain("tiny-zip/data.pkl");
    expect(zip.get("tiny-zip/byteorder")?.toString()).toBe("little");
  });

  it("rejects a file that is not a zip, or a truncated one, naming it", () => {
    expect(() => readZip(Buffer.from("definitely not a zip file, just some text"), "notes.txt")).toThrow(
      /^notes.txt: not a readable zip archive/,
    );
    const truncated = Buffer.concat([sample.subarray(0, 40), sample.subarray(sample.length - 22)]);
    // Damage that fflate does not notice leaves no files, and the file asked for is reported missing.
    expect(() => archiveMember(readZip(truncated, "cut.zip"), "hello.txt", "cut.zip")).toThrow(
      ArchiveFormatError,
    );
  });
});

describe("readTar", () => {
  it("reads pax long and non-ASCII names (Python tarfile PAX format), gzipped", async () => {
    const files = await readTar(readFileSync(fixture("sample-pax.tar.gz")), "pax.tgz");
    expect([...files.keys()]).toEqual(["package/package.json", longName, "package/café.txt"]);
    expect(files.get(longName)?.equals(data4k)).toBe(true);
    expect(files.get("package/package.json")?.toString()).toBe('{"name":"x"}\n');
  });

  it("reads GNU long names", async () => {
    const files = await readTar(readFileSync(fixture("sample-gnu.tar.gz")), "gnu.tgz");
    expect([...files.keys()]).toEqual([longName, "short.txt"]);
    expect(files.get(longName)?.equals(data4k)).toBe(true);
  });

  it("reads ustar names split into prefix + name, uncompressed", async () => {
    const files = await readTar(gunzipSync(readFileSync(fixture("sample-ustar.tar.gz"))), "ustar.tar");
    expect([...files.keys()]).toEqual([longName]);
    expect(files.get(longName)?.equals(data4k)).toBe(true);
  });

  it("rejects corrupt headers, truncation and bad gzip", async () => {
    const tar = gunzipSync(readFileSync(fixture("sample-gnu.tar.gz")));
    const corrupt = Buffer.from(tar);
    corrupt[10] ^= 0x55;
    await expect(readTar(corrupt, "c.tar")).rejects.toThrow(/^c.tar: /);
    await expect(readTar(tar.subarray(0, 2048), "t.tar")).rejects.toThrow(ArchiveFormatError);
    await expect(readTar(Buffer.from("not gzip at all, nor a tar archive"), "n.tgz")).rejects.toThrow(
      ArchiveFormatError,
    );
  });
});

describe("archiveMember", () => {
  it("lists likely candidates when a member is missing", async () => {
    const files = await readTar(readFileSync(fixture("sample-gnu.tar.gz")), "x.tgz");
    expect(archiveMember(files, `./${longName}`, "x.tgz").equals(data4k)).toBe(true);
    // Same extension first...
    expect(() => archiveMember(files, "package/nope.onnx", "x.tgz")).toThrow(
      /^x.tgz: no file "package\/nope.onnx" \(.onnx files: package\/a-rather-long-directory-name\/.*model-file-with-a-long-name.onnx\)$/,
    );
    // ...else everything.
    expect(() => archiveMember(files, "nope", "x.tgz")).toThrow(
      /^x.tgz: no file "nope" \(has: .*\.onnx, short.txt\)$/,
    );
  });
});
