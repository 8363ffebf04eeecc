import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ZipFormatError } from "../../src/models/errors.js";
import { ZipArchive } from "../../src/models/zip.js";
import { fixture } from "./helpers.js";

// sample.zip was written by Python's zipfile (make_archive_fixtures.py).
const sample = readFileSync(fixture("sample.zip"));
const deflated = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));

describe("ZipArchive", () => {
  it("lists entries and reads stored, deflated and empty members", () => {
    const zip = ZipArchive.open(sample, "sample.zip");
    expect(zip.names()).toEqual(["hello.txt", "dir/data.bin", "empty.txt"]);
    expect(zip.get("dir/data.bin")?.method).toBe(8);
    expect(zip.read("hello.txt").toString()).toBe("hello, zip\n");
    expect(zip.read("dir/data.bin").equals(deflated)).toBe(true);
    expect(zip.read("empty.txt").length).toBe(0);
  });

  it("reads torch's zip checkpoints (64-byte aligned members via local extra fields)", () => {
    const zip = ZipArchive.open(readFileSync(fixture("tiny-zip.pt")), "tiny-zip.pt");
    expect(zip.names()).toContain("tiny-zip/data.pkl");
    expect(zip.read("tiny-zip/byteorder").toString()).toBe("little");
  });

  it("rejects a file that is not a zip", () => {
    expect(() =>
      ZipArchive.open(Buffer.from("definitely not a zip file, just some text"), "notes.txt"),
    ).toThrow(/notes.txt: not a zip file/);
  });

  it("rejects a truncated zip", () => {
    // Keep the end record but drop the start: the central directory now points outside the data.
    const truncated = Buffer.concat([sample.subarray(0, 40), sample.subarray(sample.length - 22)]);
    expect(() => ZipArchive.open(truncated, "cut.zip")).toThrow(ZipFormatError);
    expect(() => ZipArchive.open(truncated, "cut.zip")).toThrow(
      /cut.zip: central directory .* beyond the end of the file/,
    );
  });

  it("detects corrupted member data by CRC or inflate failure", () => {
    const zip = ZipArchive.open(sample);
    const entry = zip.get("hello.txt")!;
    const bad = Buffer.from(sample);
    bad[entry.localHeaderOffset + 30 + "hello.txt".length + 2] ^= 0xff; // inside the stored data
    expect(() => ZipArchive.open(bad, "bad.zip").read("hello.txt")).toThrow(
      /bad.zip: entry "hello.txt": CRC-32 mismatch/,
    );
    const d = zip.get("dir/data.bin")!;
    const bad2 = Buffer.from(sample);
    bad2.fill(
      0xff,
      d.localHeaderOffset + 30 + "dir/data.bin".length,
      d.localHeaderOffset + 30 + "dir/data.bin".length + 8,
    );
    expect(() => ZipArchive.open(bad2, "bad2.zip").read("dir/data.bin")).toThrow(
      /bad2.zip: entry "dir\/data.bin": (deflate data is corrupt|CRC-32|size)/,
    );
  });

  it("names the missing entry", () => {
    expect(() => ZipArchive.open(sample, "sample.zip").read("nope.txt")).toThrow(
      /sample.zip: no entry named "nope.txt"/,
    );
  });
});
