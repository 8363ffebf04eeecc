import type { Logger } from "../util/log.js";
import { allPresent, checkModels } from "./check.js";
import { type FetchModelsOptions, fetchModels } from "./fetch.js";
import { formatFetchReport, formatModelCheck } from "./format.js";
import type { Manifest } from "./manifest.js";

interface Output {
  write(text: string): unknown;
}

/** `voiceid models fetch`: prints a line per file; returns the process exit code. */
export async function runModelsFetch(
  options: FetchModelsOptions & { out?: Output; err?: Output },
): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  try {
    const files = await fetchModels(options);
    for (const line of formatFetchReport(files)) out.write(`${line}\n`);
    return 0;
  } catch (e) {
    err.write(`voiceid models fetch: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** `voiceid models check`: 0 when every file is present and verified, 1 otherwise. */
export async function runModelsCheck(options: {
  modelsDir: string;
  manifest?: Manifest;
  logger?: Logger;
  out?: Output;
  err?: Output;
}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  try {
    const statuses = await checkModels(options);
    for (const line of formatModelCheck(statuses)) out.write(`${line}\n`);
    return allPresent(statuses) ? 0 : 1;
  } catch (e) {
    err.write(`voiceid models check: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
