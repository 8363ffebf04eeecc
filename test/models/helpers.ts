import path from "node:path";
import { fetchModels } from "../../src/models/fetch.js";
import { modelFilePath, resolveModelsDir } from "../../src/models/paths.js";
import { silentLogger } from "../../src/util/log.js";

export const fixturesDir = path.join(path.dirname(new URL(import.meta.url).pathname), "fixtures");
export const fixture = (name: string): string => path.join(fixturesDir, name);
/** What most tests run; set-up also installs CAM++ (ECAPA-TDNN is optional and cannot be downloaded here). */
export const TEST_MODELS = ["silero-vad-v5", "resemblyzer-0.1.4"];

/**
 * The real models directory with `models` verified in place. Dev machines already have them; elsewhere
 * this fetches them exactly like `voiceid models fetch`.
 */
export async function realModelsDir(models: readonly string[] = TEST_MODELS): Promise<string> {
  const dir = resolveModelsDir();
  await fetchModels({ modelsDir: dir, logger: silentLogger, progress: false, models: [...models] });
  return dir;
}

export const realPretrainedPt = (dir: string): string =>
  modelFilePath(dir, "resemblyzer-0.1.4", "pretrained.pt");
