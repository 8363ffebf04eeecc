import { InvalidSpeakerNameError } from "./errors.js";
import { deceptiveNameReason, lookAlikeKeys } from "./look-alike.js";

export const MAX_NAME_LENGTH = 64;
/** Room for surrogate pairs, combining marks and surrounding spaces around a name of MAX_NAME_LENGTH. */
const MAX_NAME_INPUT_LENGTH = 4 * MAX_NAME_LENGTH;
/** Letters (any script, with combining marks), digits, space and . _ ' - */
const NAME_PATTERN = /^[\p{L}\p{M}\p{N} ._'-]+$/u;

/** Trims and NFC-normalises a display name, or throws InvalidSpeakerNameError saying what is wrong. */
export function normalizeSpeakerName(raw: unknown): string {
  if (typeof raw !== "string") throw new InvalidSpeakerNameError(String(raw), "must be a string");
  // Before any work on it: normalising a 19 MiB "name" alone takes hundreds of megabytes.
  if (raw.length > MAX_NAME_INPUT_LENGTH) {
    throw new InvalidSpeakerNameError(raw, `must be at most ${MAX_NAME_LENGTH} characters`);
  }
  const name = raw.normalize("NFC").trim();
  if (name.length === 0) throw new InvalidSpeakerNameError(raw, "must not be empty");
  // Control characters first: they are the most likely sign of garbage input, so name them explicitly.
  if (/\p{Cc}/u.test(name)) throw new InvalidSpeakerNameError(raw, "must not contain control characters");
  if ([...name].length > MAX_NAME_LENGTH) {
    throw new InvalidSpeakerNameError(raw, `must be at most ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw new InvalidSpeakerNameError(raw, "may only contain letters, digits, spaces and . _ ' -");
  }
  // "." and ".." (and "-", "'") name nobody, and read as paths in a URL.
  if (!/[\p{L}\p{N}]/u.test(name)) throw new InvalidSpeakerNameError(raw, "must contain a letter or a digit");
  return name;
}

/**
 * Words nobody can be called: what Home Assistant shows for no data ("unknown", "unavailable"), and what
 * voiceid says for no one in particular (a voice nobody enrolled is "unrecognized", the decision reasons, the
 * "none" of the last-error sensor). Compared like names (look-alikes, case), separators ignored ("Too-Short").
 */
const RESERVED_WORDS = [
  "unknown",
  "unrecognized",
  "unrecognised",
  "uncertain",
  "pending",
  "too short",
  "none",
  "nobody",
  "unavailable",
  "ignored",
];
const reservedKey = (name: string): string => lookAlikeKeys(name)[1].replace(/[ ._'-]/g, "");
const RESERVED = new Map(RESERVED_WORDS.map((word) => [reservedKey(word), word]));
/** How `voiceid diarize` calls the voices nobody enrolled, and how the daemon keeps them (voice-3). */
const DIARIZED_UNKNOWN = /^unknown[ ._-]*\p{Nd}+$/u;
const KEPT_VOICE = /^voice[ ._-]*\p{Nd}+$/u;

/**
 * The rules for a name a person is given now (creating or renaming), beyond normalizeSpeakerName: no
 * reserved word, no letters of look-alike scripts mixed, nothing invisible. Names already in a registry
 * stay as they are.
 */
export function assertNewSpeakerName(name: string): void {
  const reserved = RESERVED.get(reservedKey(name));
  if (reserved !== undefined) {
    throw new InvalidSpeakerNameError(
      name,
      `reads as "${reserved}", which Home Assistant or voiceid shows for no one in particular; choose another name`,
    );
  }
  if (DIARIZED_UNKNOWN.test(name.normalize("NFKC").toLowerCase())) {
    throw new InvalidSpeakerNameError(
      name,
      'reads like "unknown-1", how voiceid names a voice nobody enrolled; choose another name',
    );
  }
  if (KEPT_VOICE.test(name.normalize("NFKC").toLowerCase())) {
    throw new InvalidSpeakerNameError(
      name,
      'reads like "voice-1", how voiceid calls a voice it heard but nobody named; choose another name',
    );
  }
  const deceptive = deceptiveNameReason(name);
  if (deceptive !== null) throw new InvalidSpeakerNameError(name, deceptive);
}

const MAX_SLUG_LENGTH = 48;

/** Lowercase ASCII slug of a name ("Zoë O'Brien" -> "zoe-o-brien"); "speaker" when nothing ASCII is left. */
export function slugify(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/-+$/, "");
  return slug === "" ? "speaker" : slug;
}

/**
 * Ids a speaker cannot have: "unrecognized" is the Home Assistant event type for voices nobody enrolled
 * (UNRECOGNIZED_VOICE in mqtt/topics.ts); "unknown" was, and is Home Assistant's word for "no data".
 */
const RESERVED_IDS = new Set(["unrecognized", "unknown"]);

/** First of slug, slug-2, slug-3, ... not in `taken` and not reserved. */
export function uniqueSpeakerId(name: string, taken: ReadonlySet<string>): string {
  const base = slugify(name);
  const unavailable = (id: string) => taken.has(id) || RESERVED_IDS.has(id);
  if (!unavailable(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!unavailable(candidate)) return candidate;
  }
}
