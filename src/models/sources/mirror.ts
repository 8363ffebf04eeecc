import { copyFile, stat } from "node:fs/promises";
import path from "node:path";
import { SourceUnavailableError } from "../errors.js";
import type { FileSource } from "./types.js";

/** A local directory with model files: <mirror>/<modelId>/<file>, else <mirror>/<file>. */
export function mirrorSource(mirrorDir: string): FileSource {
  const dir = path.resolve(mirrorDir);
  return {
    description: `mirror ${dir}`,
    async fetchTo(dest, ctx) {
      const candidates = [path.join(dir, ctx.modelId, ctx.fileName), path.join(dir, ctx.fileName)];
      for (const candidate of candidates) {
        const st = await stat(candidate).catch(() => undefined);
        if (st?.isFile()) {
          ctx.logger.info(`copying ${ctx.fileName} from ${candidate}`);
          await copyFile(candidate, dest);
          return;
        }
      }
      throw new SourceUnavailableError(`not found (looked for ${candidates.join(" and ")})`);
    },
  };
}
