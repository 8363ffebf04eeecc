import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Directory holding voiceid's package.json. Found by walking up from this file, so it works from
 * src/models/ under tsx and from dist/models/ after tsc alike.
 */
export function repoRoot(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the voiceid package root above ${start}`);
    dir = parent;
  }
}

/** Models directory: env VOICEID_MODELS_DIR, else <repo root>/models. */
export function resolveModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.VOICEID_MODELS_DIR;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return path.resolve(fromEnv);
  return path.join(repoRoot(), "models");
}

/** The committed manifest always lives in the repo, even when weights live elsewhere. */
export function defaultManifestPath(): string {
  return path.join(repoRoot(), "models", "manifest.json");
}

/** Where a model file lives: <modelsDir>/<modelId>/<fileName>. */
export function modelFilePath(modelsDir: string, modelId: string, fileName: string): string {
  return path.join(modelsDir, modelId, fileName);
}
