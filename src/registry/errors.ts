/**
 * Typed registry errors. `code` is a stable string the HTTP layer maps to status codes
 * (not_found -> 404, exists -> 409, invalid_* -> 400, corrupt/write -> 500).
 */
import { quoteInput } from "../util/quote.js";

export type RegistryErrorCode =
  | "speaker_not_found"
  | "speaker_exists"
  | "speaker_ambiguous"
  | "too_many_samples"
  | "invalid_speaker_name"
  | "invalid_threshold"
  | "invalid_sample"
  | "sample_not_found"
  | "registry_corrupt"
  | "registry_write_failed"
  | "registry_not_started";

export abstract class RegistryError extends Error {
  abstract readonly code: RegistryErrorCode;
}

export class SpeakerNotFoundError extends RegistryError {
  readonly code = "speaker_not_found";
  constructor(readonly idOrName: string) {
    super(`no speaker with id or name ${quoteInput(idOrName)}`);
    this.name = "SpeakerNotFoundError";
  }
}

export class SpeakerExistsError extends RegistryError {
  readonly code = "speaker_exists";
  constructor(
    readonly speakerName: string,
    readonly existingId: string,
  ) {
    super(`a speaker named "${speakerName}" already exists (id "${existingId}"); names are case-insensitive`);
    this.name = "SpeakerExistsError";
  }
}

/** A new name reads like another speaker's (TR39 look-alikes): to a reader, they would be one person. */
export class LookAlikeNameError extends RegistryError {
  readonly code = "speaker_exists";
  constructor(
    readonly speakerName: string,
    readonly existingName: string,
    readonly existingId: string,
  ) {
    super(
      `${quoteInput(speakerName)} looks like the name of speaker "${existingName}" (id "${existingId}"); ` +
        "choose a name that reads differently",
    );
    this.name = "LookAlikeNameError";
  }
}

/** One speaker's id is another speaker's name: which one was meant cannot be told. */
export class AmbiguousSpeakerError extends RegistryError {
  readonly code = "speaker_ambiguous";
  constructor(
    readonly idOrName: string,
    readonly byId: string,
    readonly byNameId: string,
  ) {
    super(
      `${quoteInput(idOrName)} is the id of speaker "${byId}" and the name of speaker "${byNameId}"; ` +
        `use the id ("${byId}" or "${byNameId}")`,
    );
    this.name = "AmbiguousSpeakerError";
  }
}

export class TooManySamplesError extends RegistryError {
  readonly code = "too_many_samples";
  constructor(speakerName: string, have: number, max: number) {
    super(`speaker "${speakerName}" has ${have} samples and at most ${max} are kept; delete some first`);
    this.name = "TooManySamplesError";
  }
}

export class InvalidSpeakerNameError extends RegistryError {
  readonly code = "invalid_speaker_name";
  constructor(
    readonly speakerName: string,
    reason: string,
  ) {
    super(`invalid speaker name ${quoteInput(speakerName)}: ${reason}`);
    this.name = "InvalidSpeakerNameError";
  }
}

export class InvalidThresholdError extends RegistryError {
  readonly code = "invalid_threshold";
  constructor(readonly threshold: unknown) {
    super(`invalid threshold ${String(threshold)}: must be a number between 0 and 1`);
    this.name = "InvalidThresholdError";
  }
}

export class InvalidSampleError extends RegistryError {
  readonly code = "invalid_sample";
  constructor(reason: string) {
    super(`invalid sample: ${reason}`);
    this.name = "InvalidSampleError";
  }
}

export class SampleNotFoundError extends RegistryError {
  readonly code = "sample_not_found";
  constructor(
    readonly speakerId: string,
    readonly sampleId: string,
  ) {
    super(`speaker "${speakerId}" has no sample ${quoteInput(sampleId)}`);
    this.name = "SampleNotFoundError";
  }
}

export class RegistryCorruptError extends RegistryError {
  readonly code = "registry_corrupt";
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `speaker registry ${file} is unusable: ${problem}. The file was left untouched; ` +
        "fix or move it away (a missing file starts an empty registry)",
      options,
    );
    this.name = "RegistryCorruptError";
  }
}

export class RegistryWriteError extends RegistryError {
  readonly code = "registry_write_failed";
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`could not write ${file}: ${describeError(cause)}; the change was not applied`, { cause });
    this.name = "RegistryWriteError";
  }
}

export class RegistryNotStartedError extends RegistryError {
  readonly code = "registry_not_started";
  constructor() {
    super("speaker registry is not started (call start() first)");
    this.name = "RegistryNotStartedError";
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
