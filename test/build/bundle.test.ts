import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleError, bundle } from "../../scripts/bundle.js";
import { repoRoot } from "../helpers/paths.js";

/**
 * The build refuses, before writing anything, the two kinds of code that passed every test of src/ and
 * crashed the shipped bundle: import() of a CommonJS package, and a package that finds its files
 * through __dirname. The modules in test/fixtures/bundle/ do each, or neither.
 */
const fixtures = path.join(repoRoot, "test/fixtures/bundle");
let out: string;

const bundleFixture = (name: string, outdir = path.join(out, name)) =>
  bundle({ entryPoint: path.join(fixtures, `${name}.js`), outbase: fixtures, outdir });

async function refusal(name: string): Promise<BundleError> {
  const error = await bundleFixture(name).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

beforeAll(async () => {
  out = await mkdtemp(path.join(tmpdir(), "voiceid-bundle-"));
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe("the bundle's checks", () => {
  it("refuse import() of a CommonJS package, naming the importer and the cure, and write nothing", async () => {
    const error = await refusal("dynamic-commonjs");
    expect(error.problems).toEqual([
      expect.stringMatching(
        /^test\/fixtures\/bundle\/dynamic-commonjs\.js: import\("yaml"\) loads CommonJS \(node_modules\/yaml\/dist\/index\.js\); import it statically/,
      ),
    ]);
    expect(existsSync(path.join(out, "dynamic-commonjs"))).toBe(false);
  });

  it("refuse a package that looks up its files beside itself, naming the package", async () => {
    const error = await refusal("file-relative");
    expect(error.problems).toEqual([
      expect.stringMatching(
        /^node_modules\/node-record-lpcm16\/recorders\/index\.js: __dirname looks up files/,
      ),
      expect.stringMatching(
        /^node_modules\/node-record-lpcm16\/recorders\/index\.js: require\(\) of a computed path/,
      ),
    ]);
    expect(existsSync(path.join(out, "file-relative"))).toBe(false);
  });

  it("pass the way voiceid does it, and the bundle runs", async () => {
    const outdir = path.join(out, "sound");
    // A chunk of an earlier build: removed, since nothing of this build is named so.
    await mkdir(path.join(outdir, "chunks"), { recursive: true });
    await writeFile(path.join(outdir, "chunks", "old-AAAAAAAA.js"), "export {};\n");
    const written = await bundleFixture("sound", outdir);
    expect(written).toContain(path.join(outdir, "sound.js"));
    expect(existsSync(path.join(outdir, "chunks", "old-AAAAAAAA.js"))).toBe(false);
    const printed = execFileSync(process.execPath, [path.join(outdir, "sound.js")], { encoding: "utf8" });
    expect(JSON.parse(printed)).toEqual({ cmd: "arecord", yaml: { room: "kitchen" } });
  });
});
