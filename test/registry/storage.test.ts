import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RegistryCorruptError } from "../../src/registry/errors.js";
import { RegistryFile, tempPathFor, writeFileAtomic } from "../../src/registry/storage.js";
import { tempDir } from "./helpers.js";

describe("writeFileAtomic", () => {
  it("creates missing directories and replaces the file", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "a", "b", "data.txt");
    await writeFileAtomic(file, "one");
    await writeFileAtomic(file, "two");
    expect(await readFile(file, "utf8")).toBe("two");
    expect(await readdir(path.dirname(file))).toEqual(["data.txt"]);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it("removes its temp file and leaves the target alone when the rename fails", async () => {
    const dir = await tempDir();
    const target = path.join(dir, "target");
    await mkdir(target);
    await writeFile(path.join(target, "keep"), "x");
    // Renaming a file over a non-empty directory fails, also for root.
    await expect(writeFileAtomic(target, "data")).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(await readdir(dir)).toEqual(["target"]);
    expect(await readdir(target)).toEqual(["keep"]);
  });

  it("puts the temp file next to the target", () => {
    expect(tempPathFor("/data/registry.json")).toBe("/data/.registry.json.tmp");
  });
});

describe("RegistryFile", () => {
  it("reads null for a missing file and validates what it reads", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "registry.json");
    const adapter = new RegistryFile(file);
    expect(await adapter.read()).toBeNull();
    await adapter.write({ version: 1, speakers: [] });
    expect(await adapter.read()).toEqual({ version: 1, speakers: [] });
    await writeFile(file, JSON.stringify({ version: 1, speakers: [{ id: "x" }] }));
    await expect(adapter.read()).rejects.toThrow(RegistryCorruptError);
    await expect(adapter.read()).rejects.toThrow(/speakers\[0\]\.name/);
  });
});
