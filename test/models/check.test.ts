import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allPresent, checkModels } from "../../src/models/check.js";
import { runModelsCheck, runModelsFetch } from "../../src/models/commands.js";
import { formatFetchReport, formatModelCheck } from "../../src/models/format.js";
import { loadManifest, type Manifest } from "../../src/models/manifest.js";
import { modelFilePath } from "../../src/models/paths.js";
import { silentLogger } from "../../src/util/log.js";
import { realModelsDir, TEST_MODELS } from "./helpers.js";

const collect = () => {
  let text = "";
  return { write: (s: string) => (text += s), text: () => text };
};

let real: string;
let work: string;
beforeAll(async () => {
  real = await realModelsDir([...TEST_MODELS, "campplus-zh-en"]);
  work = mkdtempSync(path.join(os.tmpdir(), "voiceid-check-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The manifest without its internet sources (Hugging Face), so tests never wait on the network. */
function offline(manifest: Manifest): Manifest {
  return {
    ...manifest,
    models: manifest.models.map((m) => ({
      ...m,
      files: m.files.map((f) => ("sources" in f && m.optional ? { ...f, sources: [] } : f)),
    })),
  };
}

describe("checkModels + formatter", () => {
  it("reports present, missing and corrupt files without changing anything", async () => {
    const dir = path.join(work, "mixed");
    mkdirSync(path.join(dir, "silero-vad-v5"), { recursive: true });
    mkdirSync(path.join(dir, "resemblyzer-0.1.4"), { recursive: true });
    symlinkSync(
      modelFilePath(real, "silero-vad-v5", "silero_vad.onnx"),
      modelFilePath(dir, "silero-vad-v5", "silero_vad.onnx"),
    );
    writeFileSync(modelFilePath(dir, "resemblyzer-0.1.4", "pretrained.pt"), "not a checkpoint");
    const statuses = await checkModels({ modelsDir: dir, manifest: loadManifest() });
    expect(statuses.map((s) => [s.fileName, s.status, s.derived])).toEqual([
      ["silero_vad.onnx", "present", false],
      ["silero_vad_sequence.onnx", "missing", true],
      ["pretrained.pt", "corrupt", false],
      ["encoder.onnx", "missing", true],
      ["embedding_model.ckpt", "missing", false],
      ["hyperparams.yaml", "missing", false],
      ["encoder.onnx", "missing", true],
      ["campplus_cn_en_common.pt", "missing", false],
      ["encoder.onnx", "missing", true],
    ]);
    expect(statuses.map((s) => s.optional)).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(statuses[0].size).toBe(2327524);
    expect(statuses[2].actualSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(allPresent(statuses)).toBe(false);

    const lines = formatModelCheck(statuses);
    expect(lines[0]).toMatch(/^ok +silero-vad-v5\/silero_vad.onnx \(2.2 MiB, sha256 2623a2953f6f…\)$/);
    expect(lines[1]).toMatch(
      /^MISSING +silero-vad-v5\/silero_vad_sequence.onnx \(converted on the device\) -> /,
    );
    expect(lines[2]).toMatch(
      /^CORRUPT +resemblyzer-0.1.4\/pretrained.pt: sha256 [0-9a-f]{64}, expected 39373b86598f[0-9a-f]+ \(16 bytes, expected 17090379\)/,
    );
    expect(lines[3]).toMatch(/^MISSING +resemblyzer-0.1.4\/encoder.onnx \(converted on the device\) -> /);
    expect(lines[4]).toMatch(/^absent +ecapa-voxceleb\/embedding_model.ckpt \(optional\) -> /);
    expect(lines[9]).toBe(
      "5 of 6 model files need `voiceid models fetch`; not installed (optional): ecapa-voxceleb",
    );

    const out = collect();
    expect(await runModelsCheck({ modelsDir: dir, out })).toBe(1);
    expect(out.text().split("\n")).toHaveLength(11);
  });

  it("runModelsFetch then runModelsCheck succeed against a mirror", async () => {
    const dir = path.join(work, "fetched");
    const out = collect();
    const err = collect();
    expect(
      await runModelsFetch({
        modelsDir: dir,
        mirrorDir: real,
        manifest: offline(loadManifest()),
        logger: silentLogger,
        progress: false,
        out,
        err,
      }),
    ).toBe(0);
    expect(err.text()).toBe("");
    expect(out.text()).toMatch(/^silero-vad-v5\/silero_vad.onnx +downloaded from mirror /m);
    // ECAPA-TDNN is optional: not in the mirror, so it is reported with how to provide it, and set-up succeeds.
    expect(out.text()).toMatch(
      /^ecapa-voxceleb +UNAVAILABLE: could not obtain ecapa-voxceleb\/embedding_model.ckpt/m,
    );
    expect(out.text()).toContain("voiceid models fetch --mirror <dir>");
    const check = collect();
    expect(await runModelsCheck({ modelsDir: dir, out: check })).toBe(0);
    expect(check.text()).toContain(
      "all 6 model files present and verified; not installed (optional): ecapa-voxceleb",
    );
  });

  it("runModelsFetch reports failures on stderr with exit code 1", async () => {
    const err = collect();
    const code = await runModelsFetch({
      modelsDir: path.join(work, "none"),
      mirrorDir: null,
      models: ["no-such-model"],
      logger: silentLogger,
      progress: false,
      out: collect(),
      err,
    });
    expect(code).toBe(1);
    expect(err.text()).toMatch(/^voiceid models fetch: model "no-such-model" is not in the manifest/);
  });

  it("formats fetch results", () => {
    expect(
      formatFetchReport([
        { modelId: "m", fileName: "a.onnx", path: "/x", action: "present", size: 1 },
        {
          modelId: "m",
          fileName: "b.onnx",
          path: "/y",
          action: "converted",
          origin: "convert a.pt (resemblyzer-onnx)",
          replacedCorrupt: true,
          size: 1,
        },
      ]),
    ).toEqual([
      `${"m/a.onnx".padEnd(40)} ok (already present)`,
      `${"m/b.onnx".padEnd(40)} converted from convert a.pt (resemblyzer-onnx) (replaced a corrupt copy)`,
    ]);
  });
});
