import { stat } from "node:fs/promises";
import { sha256File } from "./hash.js";
import { findModel, isDerivedFile, loadManifest, type Manifest } from "./manifest.js";
import { modelFilePath } from "./paths.js";
import { expectedDigest } from "./provenance.js";

/** "stale": a converted file no longer vouched for (other input or converter version): fetch converts it again. */
export type ModelFileState = "present" | "missing" | "corrupt" | "stale";

export interface ModelFileStatus {
  modelId: string;
  fileName: string;
  path: string;
  /** Produced on the device by conversion rather than downloaded. */
  derived: boolean;
  /** Its model is optional: voiceid runs without it. */
  optional: boolean;
  status: ModelFileState;
  /** Unset for a converted file the manifest cannot pin and that has no valid provenance record. */
  expectedSha256?: string;
  expectedSize?: number;
  /** Set when the file exists. */
  actualSha256?: string;
  size?: number;
}

export interface CheckModelsOptions {
  modelsDir: string;
  manifest?: Manifest;
  /** Only these model ids (default: all). */
  models?: readonly string[];
}

/** Hash every manifest file in `modelsDir` and report present / missing / corrupt. Never modifies anything. */
export async function checkModels(options: CheckModelsOptions): Promise<ModelFileStatus[]> {
  const manifest = options.manifest ?? loadManifest();
  const models =
    options.models === undefined ? manifest.models : options.models.map((id) => findModel(manifest, id));
  const out: ModelFileStatus[] = [];
  for (const model of models) {
    for (const file of model.files) {
      const p = modelFilePath(options.modelsDir, model.id, file.name);
      const expected = await expectedDigest(model, file, p);
      const base = {
        modelId: model.id,
        fileName: file.name,
        path: p,
        derived: isDerivedFile(file),
        optional: model.optional === true,
        expectedSha256: expected?.sha256,
        expectedSize: expected?.size,
      };
      const st = await stat(p).catch(() => undefined);
      if (st === undefined || !st.isFile()) {
        out.push({ ...base, status: "missing" });
        continue;
      }
      if (expected === undefined) {
        out.push({ ...base, status: "stale" });
        continue;
      }
      const digest = await sha256File(p);
      out.push({
        ...base,
        status: digest.sha256 === expected.sha256 ? "present" : "corrupt",
        actualSha256: digest.sha256,
        size: digest.size,
      });
    }
  }
  return out;
}

/** True when every file is present and verified; an optional model may be missing altogether. */
export function allPresent(statuses: readonly ModelFileStatus[]): boolean {
  return statuses.every((s) => s.status === "present" || (s.optional && s.status === "missing"));
}
