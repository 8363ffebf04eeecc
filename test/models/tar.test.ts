import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { TarFormatError } from "../../src/models/errors.js";
import { readTar, readTarGz, tarMember } from "../../src/models/tar.js";
import { fixture } from "./helpers.js";

const longName = `package/${"a-rather-long-directory-name/".repeat(4)}model-file-with-a-long-name.onnx`;
const data4k = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));

describe("tar reader", () => {
  it("reads pax long and non-ASCII names (Python tarfile PAX format)", () => {
    const entries = readTarGz(readFileSync(fixture("sample-pax.tar.gz")));
    expect(entries.map((e) => e.name)).toEqual(["package/package.json", longName, "package/café.txt"]);
    expect(tarMember(entries, longName).equals(data4k)).toBe(true);
    expect(tarMember(entries, "package/package.json").toString()).toBe('{"name":"x"}\n');
  });

  it("reads GNU long names", () => {
    const entries = readTarGz(readFileSync(fixture("sample-gnu.tar.gz")));
    expect(entries.map((e) => e.name)).toEqual([longName, "short.txt"]);
    expect(tarMember(entries, longName).equals(data4k)).toBe(true);
  });

  it("reads ustar names split into prefix + name", () => {
    const entries = readTar(gunzipSync(readFileSync(fixture("sample-ustar.tar.gz"))));
    expect(entries).toHaveLength(1);
    expect(entries[0].name).toBe(longName);
    expect(entries[0].data.equals(data4k)).toBe(true);
  });

  it("lists likely candidates when a member is missing", () => {
    const entries = readTarGz(readFileSync(fixture("sample-gnu.tar.gz")), "x.tgz");
    // Same extension first...
    expect(() => tarMember(entries, "package/nope.onnx", "x.tgz")).toThrow(
      /^x.tgz: no file "package\/nope.onnx" \(.onnx files: package\/a-rather-long-directory-name\/.*model-file-with-a-long-name.onnx\)$/,
    );
    // ...else everything.
    expect(() => tarMember(entries, "nope", "x.tgz")).toThrow(
      /^x.tgz: no file "nope" \(has: .*\.onnx, short.txt\)$/,
    );
  });

  it("rejects corrupt headers, truncation and bad gzip", () => {
    const tar = gunzipSync(readFileSync(fixture("sample-gnu.tar.gz")));
    const corrupt = Buffer.from(tar);
    corrupt[10] ^= 0x55;
    expect(() => readTar(corrupt, "c.tar")).toThrow(/c.tar: header checksum mismatch at offset 0/);
    expect(() => readTar(tar.subarray(0, 2048), "t.tar")).toThrow(
      /t.tar: entry at offset \d+ needs 4096 bytes .* truncated/,
    );
    expect(() => readTarGz(Buffer.from("not gzip at all"), "n.tgz")).toThrow(TarFormatError);
    expect(() => readTarGz(Buffer.from("not gzip at all"), "n.tgz")).toThrow(/n.tgz: gzip data is corrupt/);
  });
});
