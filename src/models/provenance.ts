import { readFile, rm, writeFile } from "node:fs/promises";
import { z } from "zod";
import { PARSE_ONCE } from "../util/parse-once.js";
import { CONVERTER_VERSIONS } from "./converter-versions.js";
import type { DerivedFile, DownloadedFile, ModelEntry } from "./manifest.js";
import { isDerivedFile } from "./manifest.js";

/** Written beside a converted file whose sha256 the manifest cannot pin: what made it, from what. */
const provenanceSchema = z.object({
  converter: z.string(),
  converterVersion: z.string(),
  source: z.string(),
  sourceSha256: z.string(),
  sha256: z.string(),
  size: z.number(),
});
export type Provenance = z.infer<typeof provenanceSchema>;

export function provenancePath(file: string): string {
  return `${file}.provenance.json`;
}

export interface ExpectedDigest {
  sha256: string;
  size: number;
}

/**
 * What a model file must hash to: the manifest's pin, or for an unpinned converted file the record of
 * its conversion, if that record names the pinned input and this version of the converter. Undefined
 * means the file cannot be trusted as it is and must be converted (again).
 */
export async function expectedDigest(
  model: ModelEntry,
  file: DownloadedFile | DerivedFile,
  filePath: string,
): Promise<ExpectedDigest | undefined> {
  if (file.sha256 !== undefined && file.size !== undefined) return { sha256: file.sha256, size: file.size };
  if (!isDerivedFile(file)) return undefined;
  const input = derivedInput(model, file);
  const record = await readProvenance(filePath);
  if (
    record === undefined ||
    record.sourceSha256 !== input.sha256 ||
    record.converter !== file.converter ||
    record.converterVersion !== CONVERTER_VERSIONS[file.converter]
  )
    return undefined;
  return { sha256: record.sha256, size: record.size };
}

export async function readProvenance(filePath: string): Promise<Provenance | undefined> {
  try {
    return provenanceSchema.parse(JSON.parse(await readFile(provenancePath(filePath), "utf8")), PARSE_ONCE);
  } catch {
    return undefined;
  }
}

export async function writeProvenance(filePath: string, record: Provenance): Promise<void> {
  await writeFile(provenancePath(filePath), `${JSON.stringify(record, null, 2)}\n`);
}

export async function removeProvenance(filePath: string): Promise<void> {
  await rm(provenancePath(filePath), { force: true });
}

/** The downloaded file a derived file is converted from (the manifest schema guarantees it exists). */
export function derivedInput(model: ModelEntry, file: DerivedFile): DownloadedFile {
  const input = model.files.find(
    (f): f is DownloadedFile => f.name === file.derivedFrom && !isDerivedFile(f),
  );
  if (input === undefined) throw new Error(`${file.derivedFrom} is not a downloaded file of ${model.id}`);
  return input;
}
