/** Errors of the enrolment layer; `code` is what the HTTP layer maps to a status. */

import { WavFormatError } from "../audio/wav.js";
import { quoteInput } from "../util/quote.js";

/** `code` for audio that is not a readable WAV (WavFormatError carries no code of its own). */
export const INVALID_WAV = "invalid_wav";

/**
 * A clip of a batch could not be used (unreadable, no speech, too long): names the clip and carries the
 * cause's `code` ("invalid_wav", "no_speech", "clip_too_long").
 */
export class ClipError extends Error {
  readonly code: string;
  constructor(
    /** 0-based position in the batch. */
    readonly clipIndex: number,
    readonly clipCount: number,
    readonly clipName: string | undefined,
    override readonly cause: unknown,
  ) {
    const label = clipName === undefined ? "" : ` (${quoteInput(clipName)})`;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`clip ${clipIndex + 1} of ${clipCount}${label}: ${reason}; nothing was enrolled`, { cause });
    this.name = "ClipError";
    this.code = cause instanceof WavFormatError ? INVALID_WAV : (codeOf(cause) ?? "invalid_clip");
  }
}

export class NoClipsError extends Error {
  readonly code = "no_clips";
  constructor() {
    super("no audio clips given");
    this.name = "NoClipsError";
  }
}

/** The `code` string of a typed error, if it has one. */
export function codeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
