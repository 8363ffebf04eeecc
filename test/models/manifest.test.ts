import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ManifestError } from "../../src/models/errors.js";
import { findModel, isDerivedFile, loadManifest, parseManifest } from "../../src/models/manifest.js";

const sha = "a".repeat(64);
const validModel = () => ({
  id: "m-1",
  kind: "encoder",
  name: "M",
  version: "1",
  licence: "MIT",
  homepage: "https://example.org",
  threshold: { default: 0.5, source: "a test" },
  files: [
    { name: "w.pt", size: 10, sha256: sha, sources: [{ type: "https", url: "https://example.org/w.pt" }] },
    { name: "w.onnx", size: 5, sha256: sha, derivedFrom: "w.pt", converter: "resemblyzer-onnx" },
  ],
});

describe("model manifest", () => {
  it("loads the committed manifest with silero and the derived Resemblyzer encoder", () => {
    const manifest = loadManifest();
    const silero = findModel(manifest, "silero-vad-v5");
    expect(silero.kind).toBe("vad");
    expect(silero.files[0].name).toBe("silero_vad.onnx");
    const res = findModel(manifest, "resemblyzer-0.1.4");
    const encoder = res.files.find((f) => f.name === "encoder.onnx");
    expect(encoder !== undefined && isDerivedFile(encoder)).toBe(true);
    if (encoder !== undefined && isDerivedFile(encoder)) {
      expect(encoder.derivedFrom).toBe("pretrained.pt");
      expect(encoder.converter).toBe("resemblyzer-onnx");
    }
  });

  it("accepts a valid manifest and discriminates source types", () => {
    const m = parseManifest({ models: [validModel()] });
    const file = m.models[0].files[0];
    expect(isDerivedFile(file)).toBe(false);
    if (!isDerivedFile(file)) expect(file.sources[0].type).toBe("https");
  });

  it.each([
    [
      "a bad sha256",
      (m: ReturnType<typeof validModel>) => ((m.files[0] as { sha256: string }).sha256 = "xyz"),
      /sha256/,
    ],
    [
      "an unknown source type",
      (m: ReturnType<typeof validModel>) =>
        ((m.files[0] as { sources: unknown[] }).sources = [{ type: "ftp", url: "x" }]),
      /sources/,
    ],
    [
      "derivedFrom naming no file",
      (m: ReturnType<typeof validModel>) => ((m.files[1] as { derivedFrom: string }).derivedFrom = "nope.pt"),
      /derivedFrom "nope.pt"/,
    ],
    [
      "an unknown converter",
      (m: ReturnType<typeof validModel>) => ((m.files[1] as { converter: string }).converter = "magic"),
      /files/,
    ],
    [
      "a path in a file name",
      (m: ReturnType<typeof validModel>) => ((m.files[0] as { name: string }).name = "../evil"),
      /plain file name/,
    ],
    [
      "an encoder without a threshold",
      (m: ReturnType<typeof validModel>) => delete (m as { threshold?: unknown }).threshold,
      /models.0.threshold: an encoder needs a default threshold and its source/,
    ],
    [
      "a duplicate file",
      (m: ReturnType<typeof validModel>) => m.files.push({ ...m.files[0] }),
      /duplicate file "w.pt"/,
    ],
  ])("rejects %s with a ManifestError saying where", (_label, mutate, pattern) => {
    const m = validModel();
    mutate(m);
    expect(() => parseManifest({ models: [m] })).toThrow(ManifestError);
    expect(() => parseManifest({ models: [m] })).toThrow(pattern);
  });

  it("pins ECAPA-TDNN's files and records each encoder's threshold with its source", () => {
    const manifest = loadManifest();
    const ecapa = findModel(manifest, "ecapa-voxceleb");
    expect(ecapa.optional).toBe(true);
    expect(ecapa.threshold?.default).toBe(0.25);
    expect(findModel(manifest, "resemblyzer-0.1.4").threshold?.default).toBe(0.82);
    const [ckpt, yaml, onnx] = ecapa.files;
    expect(ckpt).toMatchObject({
      name: "embedding_model.ckpt",
      size: 83316686,
      sha256: "0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2",
    });
    expect(yaml).toMatchObject({ name: "hyperparams.yaml", size: 1919 });
    if (isDerivedFile(ckpt)) throw new Error("the checkpoint is downloaded");
    expect(ckpt.sources).toEqual([
      {
        type: "https",
        url: "https://huggingface.co/speechbrain/spkrec-ecapa-voxceleb/resolve/0f99f2d0ebe89ac095bcc5903c4dd8f72b367286/embedding_model.ckpt",
      },
    ]);
    // The real weights cannot be converted here: the output is vouched for by its conversion record.
    expect(onnx).toEqual({
      name: "encoder.onnx",
      derivedFrom: "embedding_model.ckpt",
      converter: "ecapa-onnx",
    });
  });

  it("reports unreadable and non-JSON manifest files clearly", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-manifest-"));
    try {
      expect(() => loadManifest(path.join(dir, "missing.json"))).toThrow(/cannot read model manifest/);
      const bad = path.join(dir, "bad.json");
      writeFileSync(bad, "{ not json");
      expect(() => loadManifest(bad)).toThrow(/not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the known ids when a model is not in the manifest", () => {
    expect(() => findModel(loadManifest(), "nope")).toThrow(
      /"nope" is not in the manifest \(known: silero-vad-v5, resemblyzer-0.1.4, ecapa-voxceleb, campplus-zh-en\)/,
    );
  });
});
