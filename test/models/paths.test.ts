import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultManifestPath, modelFilePath, repoRoot, resolveModelsDir } from "../../src/models/paths.js";

describe("model paths", () => {
  it("finds the repo root holding voiceid's package.json", () => {
    const root = repoRoot();
    const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { name: string };
    expect(pkg.name).toBe("voiceid");
    expect(existsSync(defaultManifestPath())).toBe(true);
  });

  it("uses VOICEID_MODELS_DIR when set, else <root>/models", () => {
    expect(resolveModelsDir({ VOICEID_MODELS_DIR: "/srv/voiceid-models" })).toBe("/srv/voiceid-models");
    expect(resolveModelsDir({ VOICEID_MODELS_DIR: "relative/dir" })).toBe(path.resolve("relative/dir"));
    expect(resolveModelsDir({})).toBe(path.join(repoRoot(), "models"));
    expect(resolveModelsDir({ VOICEID_MODELS_DIR: "  " })).toBe(path.join(repoRoot(), "models"));
  });

  it("places files at <modelsDir>/<modelId>/<fileName>", () => {
    expect(modelFilePath("/m", "silero-vad-v5", "silero_vad.onnx")).toBe(
      path.join("/m", "silero-vad-v5", "silero_vad.onnx"),
    );
  });
});
